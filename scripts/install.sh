#!/usr/bin/env bash
# Installs csi-node-agent as a systemd service, or removes it. Idempotent: a second run changes nothing.
#
#   scripts/install.sh [--prefix /usr/local] [--root DIR] [--jar FILE]      install (builds the jar if needed)
#   scripts/install.sh --uninstall [--purge] [--prefix ...] [--root DIR]    remove program and unit; --purge also
#                                                                            the config and the agent's state
# --root DIR stages everything beneath DIR (as DESTDIR does), for packaging and tests; the running systemd is told
# (daemon-reload) only when installing to / on a machine where systemd runs.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

prefix=/usr/local
root=
jar=
uninstall=
purge=
while [[ $# -gt 0 ]]; do
  case "$1" in
    --prefix) prefix="${2:?--prefix needs a directory}"; shift 2 ;;
    --prefix=*) prefix="${1#--prefix=}"; shift ;;
    --root) root="${2:?--root needs a directory}"; shift 2 ;;
    --root=*) root="${1#--root=}"; shift ;;
    --jar) jar="${2:?--jar needs a file}"; shift 2 ;;
    --jar=*) jar="${1#--jar=}"; shift ;;
    --uninstall) uninstall=1; shift ;;
    --purge) purge=1; shift ;;
    -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "install.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
# The prefix is written into a script and a unit: plain path characters only.
if [[ "$prefix" != /* || ! "$prefix" =~ ^[A-Za-z0-9._/+-]+$ || "$prefix" == *..* ]]; then
  echo "install.sh: --prefix must be an absolute path of letters, digits and . _ / + - (no ..), not '$prefix'" >&2
  exit 2
fi
if [[ -n "$purge" && -z "$uninstall" ]]; then
  echo "install.sh: --purge goes with --uninstall" >&2
  exit 2
fi
if [[ -n "$root" ]]; then
  mkdir -p "$root"
  root="$(cd "$root" && pwd)"
  [[ "$root" == / ]] && root=
fi

lib="$root$prefix/lib/csi-node-agent"
bin="$root$prefix/bin/csi-node-agent"
unit="$root/etc/systemd/system/csi-node-agent.service"
confdir="$root/etc/csi-node-agent"
kubelet_root="$root/var/lib/kubelet"
state="$kubelet_root/csi-node-agent"

live_systemd() { [[ -z "$root" && -d /run/systemd/system ]]; }

# The JVM that runs the installed launcher's commands (the first java on PATH, as exec finds it), named by its
# file's device, inode and mtime (a JDK update replaces that file): the class-data sharing archives are named after
# it, since java ignores an archive of another JVM and then runs with no class sharing at all. Defined once here,
# used by this script and written into the installed launcher.
# The same as scripts/jvm-options' jvm_key, written into the installed launcher too (see there).
jvm_key_function='jvm_key() {
  local d IFS=:
  for d in $PATH; do
    if [[ -f "${d:-.}/java" && -x "${d:-.}/java" ]]; then
      stat -L -c "%d-%i-%Y" -- "${d:-.}/java"
      return
    fi
  done
  return 1
}'
eval "$jvm_key_function"

if [[ -n "$uninstall" ]]; then
  if live_systemd && systemctl is-active --quiet csi-node-agent 2>/dev/null; then
    systemctl stop csi-node-agent
  fi
  if live_systemd; then systemctl disable --quiet csi-node-agent 2>/dev/null || true; fi
  # The jar and every file beside it that is named after it (archives of any JVM, temporary ones), its JVM options.
  rm -f "$unit" "$bin" "$lib/csi-node-agent.jar" "$lib"/csi-node-agent.jar.* "$lib/jvm-options"
  rmdir "$lib" 2>/dev/null || true
  live_systemd && systemctl daemon-reload
  if [[ -n "$purge" ]]; then
    # The agent's state lives under the root-dir its config names (the default /var/lib/kubelet otherwise).
    configured="$(sed -n "s/^root-dir:[[:space:]]*[\"']\{0,1\}\(\/[^\"'#[:space:]]*\)[\"']\{0,1\}[[:space:]]*\(#.*\)\{0,1\}\$/\1/p" \
      "$confdir/config.yaml" 2>/dev/null | tail -n 1)"
    [[ -n "$configured" ]] && state="$root$configured/csi-node-agent"
    if [[ -d "$state" ]]; then
      real="$(realpath -e "$state")"
      # An agent running outside systemd still holds its lock: its state is in use.
      if python3 -c 'import fcntl, sys
f = open(sys.argv[1], "r+")
try:
    fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
except OSError:
    sys.exit(0)
sys.exit(1)' "$real/agent.lock" 2>/dev/null; then
        echo "install.sh: an agent still runs on $real (it holds agent.lock); stop it first (nothing was purged)" >&2
        exit 1
      fi
      # The journal and records only: never anything mounted (the state dir holds no mounts, but a user may).
      if awk -v s="$real" '$5 == s || index($5, s "/") == 1 { f = 1 } END { exit !f }' /proc/self/mountinfo; then
        echo "install.sh: $real has something mounted beneath it; unmount it first (nothing was purged)" >&2
        exit 1
      fi
      rm -rf --one-file-system "$real"
    fi
    rm -rf "$confdir"
    echo "csi-node-agent removed, with its config ($confdir) and state ($state)"
  else
    echo "csi-node-agent removed; kept its config ($confdir) and state ($state): --purge removes them"
  fi
  exit 0
fi

if [[ -z "$jar" ]]; then
  jar="$here/cli/target/csi-node-agent.jar"
  if [[ ! -f "$jar" ]]; then
    echo "install.sh: no build yet, building..." >&2
    "$here/scripts/setup.sh" >&2
    (cd "$here" && mvn -B -q -DskipTests package) >&2
  fi
fi
if [[ ! -f "$jar" ]]; then
  echo "install.sh: no jar at $jar" >&2
  exit 1
fi

# Directories that exist keep the mode their admin gave them: only new ones get ours.
make_dir() {
  local mode="$1" d
  shift
  for d in "$@"; do
    [[ -d "$d" ]] || install -d -m "$mode" "$d"
  done
}
make_dir 0755 "$lib" "$(dirname "$bin")" "$(dirname "$unit")"
install -m 0644 "$jar" "$lib/csi-node-agent.jar.new"
mv -f "$lib/csi-node-agent.jar.new" "$lib/csi-node-agent.jar"
install -m 0644 "$here/scripts/jvm-options" "$lib/jvm-options.new"
mv -f "$lib/jvm-options.new" "$lib/jvm-options"
# Class-data sharing archives for the installed jar and this JVM (faster starts; see scripts/cds-archive.sh). An
# archive is bound to its jar's path: one made for a staged root (--root) would not fit the jar once moved, so none is
# made then. Those of the jar replaced (any JVM) go. As root the training's agent runs in a mount namespace of its own.
rm -f "$lib"/csi-node-agent.jar.*
if [[ -z "$root" ]] && jvm=$(jvm_key); then
  ns=()
  [[ $(id -u) -eq 0 ]] && ns=(unshare --mount --propagation private --)
  if ${ns[@]+"${ns[@]}"} timeout -k 10 600 "$here/scripts/cds-archive.sh" "$lib/csi-node-agent.jar" "$lib/csi-node-agent.jar.jvm$jvm"; then
    echo "made class-data sharing archives $lib/csi-node-agent.jar.jvm$jvm.{cli,run}.jsa (faster starts; after a JDK upgrade, install again)"
  else
    echo "install.sh: no class-data sharing archive (see above); csi-node-agent starts slower, nothing else changes" >&2
  fi
fi

# The launcher runs the installed jar and never builds. Commands that mount for a demo or a simulation run in a
# private mount namespace, as the checkout's launcher does; run does not: its mounts are for the runtime to see.
cat > "$bin.new" <<LAUNCHER
#!/usr/bin/env bash
# csi-node-agent, installed by scripts/install.sh: runs $prefix/lib/csi-node-agent/csi-node-agent.jar.
set -euo pipefail
jar="$prefix/lib/csi-node-agent/csi-node-agent.jar"
case "\${1:-}" in
  demo|driver-demo|simulate|check-driver)
    if [[ -z "\${CSI_NODE_AGENT_PRIVATE_NS:-}" && \$(id -u) -eq 0 ]]; then
      export CSI_NODE_AGENT_PRIVATE_NS=1
      exec unshare --mount --propagation private -- "\$0" "\$@"
    fi ;;
esac
# Class-data sharing archives install.sh made for this jar and the JVM that runs it (named after that JVM: java
# ignores an archive of another one, and then has no class sharing at all). jvm_key and the daemons' names are
# written in here, not read from jvm-options: without that file the archives still fit.
$jvm_key_function
start=()
if jvm=\$(jvm_key); then
  archive="\$jar.jvm\$jvm.cli.jsa"
  [[ "\${1:-}" == run || "\${1:-}" == hostpath-driver || "\${1:-}" == registrar ]] && archive="\$jar.jvm\$jvm.run.jsa"
  [[ -f "\$archive" ]] && start+=(-XX:SharedArchiveFile="\$archive" -Xlog:cds=off)
fi
# The JVM options per command, the checkout's scripts/jvm-options (see README, "JVM options"); the user's
# CSI_NODE_AGENT_JAVA_OPTS come last among them, so they win over the archive too.
source "$prefix/lib/csi-node-agent/jvm-options" && jvm_options "\${1:-}"
exec java \${start[@]+"\${start[@]}"} "\${java_opts[@]}" -jar "\$jar" "\$@"
LAUNCHER
chmod 0755 "$bin.new"
mv -f "$bin.new" "$bin"

sed "s|@PREFIX@|$prefix|g" "$here/scripts/systemd/csi-node-agent.service" > "$unit.new"
chmod 0644 "$unit.new"
mv -f "$unit.new" "$unit"

make_dir 0755 "$confdir"
if [[ ! -e "$confdir/config.yaml" ]]; then
  install -m 0644 "$here/scripts/systemd/config.yaml" "$confdir/config.yaml"
  echo "installed the default config $confdir/config.yaml"
else
  echo "kept the existing config $confdir/config.yaml"
fi

make_dir 0750 "$kubelet_root"
make_dir 0700 "$state"
chmod 0700 "$state" # the agent's own: private whatever it was

if live_systemd; then
  systemctl daemon-reload
fi
echo "installed csi-node-agent: $bin, $unit"
echo "start it with: systemctl enable --now csi-node-agent"
