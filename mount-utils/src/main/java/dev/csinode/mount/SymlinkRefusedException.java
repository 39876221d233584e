package dev.csinode.mount;

import java.nio.file.FileSystemException;
import java.nio.file.Path;

/**
 * A symbolic link where a directory or file beneath a root was expected: it is reported, never followed, since a
 * link there could send a mount or a file anywhere on the host. {@link #getFile()} names the link itself.
 */
public final class SymlinkRefusedException extends FileSystemException {
  public SymlinkRefusedException(Path link) {
    super(link.toString(), null, "is a symbolic link, which is not followed; remove it");
  }
}
