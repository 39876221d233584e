#!/usr/bin/env bash
# Benchmark of the volume manager with the bundled driver and real mounts, in a private mount namespace:
# 1,000 pods with one PVC each added at once (publish and teardown times), ready latency under a churn of
# 100 pods/s for 30 s, restart with 1,000 volumes mounted (time and CSI calls), idle CPU and RSS, and the
# machine's floors (bind mount + unmount, gRPC round trip). The kubelet root is a fresh ext4 on a loop device,
# the agent is warmed up until its JIT settles first. Prints a table.
#   scripts/bench.sh [--pods N] [--churn-rate R] [--churn-seconds S]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [[ -z "${CSI_BENCH_PRIVATE_NS:-}" ]]; then
  [[ $(id -u) -eq 0 ]] || { echo "bench.sh: needs root (it mounts)" >&2; exit 1; }
  # Builds on first use, and makes the build's class-data sharing archives now (the daemon's is mapped below).
  CSI_NODE_AGENT_CDS=wait "$here/scripts/csi-node-agent" --version >/dev/null
  export CSI_BENCH_PRIVATE_NS=1
  exec unshare --mount --propagation private -- "$0" "$@"
fi
work=$(mktemp -d /tmp/csi-bench-XXXXXX)
cleanup() {
  # Never rm across a mount point: unmount what an aborted run left (this namespace only), then remove.
  # grep finding nothing (the run unmounted all it mounted) is no failure: pipefail and set -e would end the trap.
  { findmnt -rn -o TARGET | grep "^$work/" || true; } | sort -r | while read -r m; do umount "$m" 2>/dev/null || umount -l "$m"; done
  rm -rf --one-file-system "$work"
}
trap cleanup EXIT
echo "csi-node-agent volume manager benchmark ($(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ))"
# The daemon's JVM options (scripts/jvm-options, as `run` gets them from the launcher; CSI_NODE_AGENT_JAVA_OPTS
# applies too, to try others). Compiler threads are kept for the whole run (not started and ended on demand), so the
# CPU they took can be read from /proc: a thread that ends takes its figures with it.
source "$here/scripts/jvm-options" && jvm_options run
# The class-data sharing archive `run` maps (scripts/csi-node-agent): bound to the launcher's copy of the jar, so that
# copy is what runs here. CSI_NODE_AGENT_CDS=0 runs the jar without, as the launcher then does.
jvm_checkout_daemon "$here/cli/target/csi-node-agent.jar"
jar="$jvm_jar"
cds=(${jvm_cds[@]+"${jvm_cds[@]}"})
if ((${#cds[@]})); then
  echo "class-data sharing: the daemon's archive, as \`run\` maps it"
else
  echo "class-data sharing: none (CSI_NODE_AGENT_CDS=0, or the launcher could not make the archive: cli/target/run/*.jsa.failed)"
fi
java ${cds[@]+"${cds[@]}"} "${java_opts[@]}" -XX:-UseDynamicNumberOfCompilerThreads -Dcsi.log.level=WARN -jar "$jar" \
  bench-agent --work-dir "$work" "$@" 2>"$work/bench.err" || { echo "benchmark failed:" >&2; tail -20 "$work/bench.err" >&2; exit 1; }

# --timeline: its progress lines and wall-clock bounds (to cut profiles with) go to stderr.
if [[ " $* " == *" --timeline "* ]]; then grep -v "^\\[" "$work/bench.err" >&2 || true; fi
