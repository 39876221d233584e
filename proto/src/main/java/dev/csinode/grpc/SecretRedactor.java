package dev.csinode.grpc;

import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.MapEntry;
import com.google.protobuf.Message;
import com.google.protobuf.TextFormat;
import dev.csinode.csi.v1.CsiProto;
import java.util.List;
import java.util.Map;

/**
 * Renders CSI messages for logs with every field marked {@code (csi_secret)} replaced, at any depth.
 * The marker comes from the proto descriptor, so a secret field added to the proto is covered without code.
 */
public final class SecretRedactor {
  public static final String REDACTED = "***stripped***";

  private SecretRedactor() {}

  public static String toLogString(Message message) {
    return TextFormat.printer().emittingSingleLine(true).printToString(redact(message));
  }

  public static Message redact(Message message) {
    Message.Builder b = message.toBuilder();
    for (Map.Entry<FieldDescriptor, Object> e : message.getAllFields().entrySet()) {
      FieldDescriptor f = e.getKey();
      if (f.getOptions().getExtension(CsiProto.csiSecret)) {
        b.clearField(f);
        if (f.isMapField()) {
          for (Object entry : (List<?>) e.getValue()) {
            MapEntry<?, ?> me = (MapEntry<?, ?>) entry;
            @SuppressWarnings("unchecked") MapEntry<Object, Object> typed = (MapEntry<Object, Object>) me;
            b.addRepeatedField(f, typed.toBuilder().setValue(REDACTED).build());
          }
        } else if (f.getJavaType() == FieldDescriptor.JavaType.STRING && !f.isRepeated()) {
          b.setField(f, REDACTED);
        }
      } else if (f.getJavaType() == FieldDescriptor.JavaType.MESSAGE && !f.isMapField()) {
        if (f.isRepeated()) {
          b.clearField(f);
          for (Object m : (List<?>) e.getValue()) {
            b.addRepeatedField(f, redact((Message) m));
          }
        } else {
          b.setField(f, redact((Message) e.getValue()));
        }
      }
    }
    return b.build();
  }
}
