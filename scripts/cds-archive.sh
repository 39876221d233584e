#!/usr/bin/env bash
# Makes the class-data sharing (AppCDS) archives of a csi-node-agent jar: the classes that the CLI's short commands
# and the daemon's start load, parsed and verified once, so that each JVM maps them instead of reading them from the
# jar. JDK 17 has no -XX:+AutoCreateSharedArchive: training runs write the lists of classes they load, and a static
# archive is dumped from the union of those lists. An archive is bound to the jar's path, size and mtime and to the JVM that made
# it: java ignores one that does not match (and then has no class sharing at all, not even the JDK's own archive), so
# the callers name the archives after the JVM too (PREFIX: the launchers' `JAR.jvm<device>-<inode>-<mtime of java>`).
#   scripts/cds-archive.sh JAR PREFIX
# Writes two archives, atomically: PREFIX.cli.jsa for the short commands (--help, status, pod, ...) and
# PREFIX.run.jsa for the daemon (run). Two, because java relocates every pointer of an archive it maps (ASLR), so a short
# command pays for each class it maps: the daemon's archive is three times the CLI's. On failure leaves them as they
# were, says why on stderr and exits 1. Takes ~10 s of CPU: it starts the daemon once, on a temporary root with no
# metrics port, to learn its classes. Every java it starts is bounded (timeout), the daemon too, so that nothing it
# started outlives it for long, even when it is killed. Run it as root only in a mount namespace of its own.
set -euo pipefail
jar="${1:?usage: cds-archive.sh JAR PREFIX}"
prefix="${2:?usage: cds-archive.sh JAR PREFIX}"
[[ -f "$jar" ]] || { echo "cds-archive.sh: no jar at $jar" >&2; exit 1; }
jar="$(cd "$(dirname "$jar")" && pwd)/$(basename "$jar")" # the archive records the path the launcher gives java

# Work directories of runs that were killed (SIGKILL skips the trap below) and are long over: every run is bounded.
tmp_dir="${TMPDIR:-/tmp}"
find "$tmp_dir" -maxdepth 1 -name 'csi-node-agent-cds.*' -user "$(id -u)" -mmin +60 -exec rm -rf --one-file-system {} + 2>/dev/null || true
work=$(mktemp -d "$tmp_dir/csi-node-agent-cds.XXXXXX")
agent=
cleanup() {
  if [[ -n "$agent" ]]; then
    # $agent is the daemon's timeout: it passes TERM on and sends KILL 30 s later, so this wait is bounded.
    kill -TERM "$agent" 2>/dev/null || true
    wait "$agent" 2>/dev/null || true
  fi
  rm -f "$prefix.cli.jsa.tmp.$$" "$prefix.run.jsa.tmp.$$"
  rm -rf --one-file-system "$work"
}
trap cleanup EXIT
# A signal ends the script through its EXIT trap (bash runs it for a plain exit), so the daemon is stopped.
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

# The JVM options the launchers give, so the training loads what their commands load. A training command that fails
# (no agent, not root) still lists what it loaded: its status does not matter.
jvm=(-XX:+UseSerialGC -Xss512k)
n=0
train() {
  n=$((n + 1))
  timeout -k 5 60 java "${jvm[@]}" -XX:DumpLoadedClassList="$work/$n.classes" -jar "$jar" "$@" >/dev/null 2>&1 </dev/null || true
}
train --help
train status --root-dir "$work/none"

# The daemon's start: the agent with the bundled driver on a temporary root (nothing there to mount), no metrics
# port, not talking to a systemd that may have started whoever runs this; stopped once its API answers.
root="$work/root"
mkdir -p "$root" "$work/manifests"
env -u NOTIFY_SOCKET timeout -k 30 300 java "${jvm[@]}" -XX:DumpLoadedClassList="$work/agent.classes" -jar "$jar" run --root-dir "$root" \
  --with-hostpath-driver --metrics-address= --pod-manifests "$work/manifests" >"$work/agent.log" 2>&1 </dev/null &
agent=$!
for ((i = 0; i < 600; i++)); do
  [[ -S "$root/csi-node-agent.sock" ]] && break
  kill -0 "$agent" 2>/dev/null || break
  sleep 0.05
done
# The commands that ask the agent, with real answers: a status table, a pod that is unknown (404 and 408).
train status --root-dir "$root"
train pod get --root-dir "$root" default/none
train pod wait --root-dir "$root" default/none --timeout 1ms
# Stopped as a service manager stops it: TERM, and KILL if it is still there 30 s later (timeout's -k), so a daemon
# stuck in its shutdown holds up neither this script nor whoever waits for it.
kill -TERM "$agent" 2>/dev/null || true
wait "$agent" 2>/dev/null || true
agent=

# A list whose JVM was killed mid-write ends in a torn line, which could fail the dump: only complete lines count.
for f in "$work"/*.classes; do
  if [[ -s "$f" && -n "$(tail -c 1 "$f")" ]]; then sed -i '$d' "$f"; fi
done
# One list per archive, each class once, in the order first loaded (a lambda's line after the classes it names).
# Newer JDKs (25 here) number the classes of a list (`NAME id: N`); the numbers of different runs clash, and a class of
# the built-in loaders needs none, so they go.
merge() { awk '/^#/ { next } /^[^@ ]+ id: [0-9]+$/ { sub(/ id: [0-9]+$/, "") } !seen[$0]++' "$@"; }
merge "$work"/[0-9]*.classes >"$work/cli.list"
merge "$work/agent.classes" "$work"/[0-9]*.classes >"$work/run.list"
for list in cli run; do
  if ! grep -q '^dev/csinode/cli/Main$' "$work/$list.list"; then
    echo "cds-archive.sh: the training runs of $jar ($list) loaded none of its classes; no archive made" >&2
    exit 1
  fi
done
# Dumped with the default collector (G1), whose archived heap objects a G1 run can use too; other collectors ignore them.
for list in cli run; do
  archive="$prefix.$list.jsa"
  tmp="$archive.tmp.$$" # removed by the EXIT trap if the dump does not finish
  if ! timeout -k 5 120 java -Xshare:dump -XX:SharedClassListFile="$work/$list.list" -XX:SharedArchiveFile="$tmp" -cp "$jar" \
      >"$work/dump.log" 2>&1; then
    rm -f "$tmp"
    echo "cds-archive.sh: java -Xshare:dump failed for $jar ($list); the end of its output:" >&2
    tail -n 5 "$work/dump.log" >&2
    exit 1
  fi
  mv -f "$tmp" "$archive"
done
