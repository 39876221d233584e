#!/usr/bin/env bash
# Benchmark of the bundled hostpath driver: 1,000 whole volume lives (directory kind) through the real socket, after
# lives not counted until the driver's JIT has settled, one at a time and 16 at a time; prints volume lives per second,
# p50/p99 of each RPC within them and the driver's CPU per life beside the targets; then (unless --no-phases) 1,000
# calls of each RPC in turn, sequentially and with 16 in flight, with rate and the driver's CPU per RPC; the floor (a
# gRPC round trip that does no work, a bind mount and its unmount) and the driver's peak RSS, when it came, and its
# RSS at the end (anonymous and file pages). The driver runs as the launcher runs it (its JVM options and the daemon's
# class-data sharing archive).
# The work and state directories are on a tmpfs, so the figures are the driver's and not the disk's flushes.
# Everything runs in a private mount namespace; the host's mount table is untouched.
#   scripts/bench-driver.sh [--volumes N] [--concurrency C] [--kind directory|filesystem] [--warmup N]
#                           [--warmup-until-settled SECONDS] [--no-phases] [--no-mount-floor] [--timeline]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [[ -z "${CSI_BENCH_PRIVATE_NS:-}" ]]; then
  [[ $(id -u) -eq 0 ]] || { echo "bench-driver.sh: needs root (it mounts)" >&2; exit 1; }
  # Builds on first use, and makes the build's class-data sharing archives now (the driver maps the daemon's, below).
  CSI_NODE_AGENT_CDS=wait "$here/scripts/csi-node-agent" --version >/dev/null
  export CSI_BENCH_PRIVATE_NS=1
  exec unshare --mount --propagation private -- "$0" "$@"
fi

work=$(mktemp -d /tmp/csi-bench-XXXXXX)
mount -t tmpfs -o mode=0700 csi-bench "$work"
# The driver's JVM options as the launcher gives them (scripts/jvm-options; CSI_NODE_AGENT_JAVA_OPTS to try others).
source "$here/scripts/jvm-options" && jvm_options hostpath-driver
# The daemon's class-data sharing archive, which the launcher maps for `hostpath-driver` too: bound to the launcher's
# copy of the jar, so that copy is what runs here. CSI_NODE_AGENT_CDS=0 runs the jar without, as the launcher then does.
jvm_checkout_daemon "$here/cli/target/csi-node-agent.jar"
jar="$jvm_jar"
cds=(${jvm_cds[@]+"${jvm_cds[@]}"})
# Fixed compiler threads: one that ends takes its CPU time with it, and the JIT's share the benchmark reads from the
# threads (to end the warm-up when it has settled) would come out low.
java ${cds[@]+"${cds[@]}"} "${java_opts[@]}" -XX:-UseDynamicNumberOfCompilerThreads -jar "$jar" hostpath-driver --endpoint "unix://$work/csi.sock" --state-dir "$work/state" \
  --node-id bench-node --capacity 100Ti >"$work/driver.log" 2>&1 &
driver=$!
# The driver's RSS every 0.5 s (seconds since its start, KiB), for when its peak came: a transient (the JIT's arenas
# during the warm-up) or where it stays.
( start=$SECONDS
  while [[ -r /proc/$driver/status ]]; do
    awk -v t=$((SECONDS - start)) '/^VmRSS/ {print t, $2}' /proc/$driver/status 2>/dev/null || break
    sleep 0.5
  done ) >"$work/rss.log" 2>/dev/null &
sampler=$!
cleanup() {
  kill "$sampler" 2>/dev/null || true
  wait "$sampler" 2>/dev/null || true
  kill "$driver" 2>/dev/null || true
  wait "$driver" 2>/dev/null || true
  # grep finding nothing (the run unmounted all it mounted) is no failure: pipefail and set -e would end the trap.
  { findmnt -rn -o TARGET | grep "^$work/" || true; } | sort -r | while read -r m; do umount "$m" 2>/dev/null || umount -l "$m"; done
  # Loop devices are global (they outlive this namespace): a life cut short with --kind filesystem leaves one attached.
  { losetup -nO NAME,BACK-FILE 2>/dev/null || true; } | awk -v w="$work/" 'index($2, w) == 1 {print $1}' | xargs -r losetup -d
  umount "$work" 2>/dev/null || umount -l "$work"
  rmdir "$work"
}
trap cleanup EXIT
# Up once the driver answers on its socket (one HTTP/2 request; any answer will do), not once the file is there: the
# file exists from bind(2), before listen(2). Bounded: 60 s, and at once when the driver exits.
answers() { curl -s -o /dev/null --max-time 2 --http2-prior-knowledge --unix-socket "$work/csi.sock" http://localhost/; }
for _ in $(seq 1 600); do answers && break; kill -0 "$driver" 2>/dev/null || break; sleep 0.1; done
answers || { echo "driver did not answer on $work/csi.sock:" >&2; cat "$work/driver.log" >&2; exit 1; }

echo "csi-node-agent hostpath driver benchmark ($(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg), $(date -u +%Y-%m-%dT%H:%MZ))"
if ((${#cds[@]})); then
  echo "class-data sharing: the daemon's archive, as the launcher maps it"
else
  echo "class-data sharing: none (CSI_NODE_AGENT_CDS=0, or the launcher could not make the archive: cli/target/run/*.jsa.failed)"
fi
java -jar "$jar" bench-driver --endpoint "unix://$work/csi.sock" --work-dir "$work/paths" --driver-pid "$driver" "$@" 2>/dev/null
echo
printf '%-52s %10s %10s\n' "driver peak RSS (MiB)" "$(awk '/VmHWM/ {printf "%.1f", $2/1024}' /proc/$driver/status)" "<= 80"
# Where it is at the end: anonymous (heap, metaspace, code cache, malloc, stacks) and file pages (libjvm, the JDK's
# class-data archive), and the sampled RSS's peak with the second it came at.
printf '%-52s %10s\n' "driver RSS at the end, anonymous + file (MiB)" \
  "$(awk '/^RssAnon/ {a = $2} /^RssFile/ {f = $2} END {printf "%.0f + %.0f", a/1024, f/1024}' /proc/$driver/status)"
printf '%-52s %10s\n' "driver sampled RSS peak (MiB) at second" \
  "$(awk '$2 > m {m = $2; t = $1} END {printf "%.0f at %d", m/1024, t}' "$work/rss.log")"
printf '%-52s %10s\n' "driver threads" "$(ls /proc/$driver/task | wc -l)"
