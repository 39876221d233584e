#!/usr/bin/env bash
# How fast the CLI answers, the way a user runs it (through scripts/csi-node-agent), beside the target of 300 ms:
# wall time (min and median of N runs) and max RSS of --help, status, pod get and pod wait on a ready pod, each with
# the class-data sharing archives and without (CSI_NODE_AGENT_CDS=0); and the daemon's time from start to its API
# answering and to the pod being ready. An idle agent with the bundled driver serves a temporary root, in a private
# mount namespace (the pod's inline volume is mounted). Prints figures; it is not a test.
#   scripts/bench-cli.sh [--runs N]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
runs=10
while [[ $# -gt 0 ]]; do
  case "$1" in
    --runs) runs="${2:?--runs needs a number}"; shift 2 ;;
    -h|--help) sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench-cli.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
launcher="$here/scripts/csi-node-agent"
if [[ -z "${CSI_BENCH_PRIVATE_NS:-}" ]]; then
  [[ $(id -u) -eq 0 ]] || { echo "bench-cli.sh: needs root (the pod's volume is mounted)" >&2; exit 1; }
  CSI_NODE_AGENT_CDS=wait "$launcher" --version >/dev/null # builds on first use, and makes the build's class-data sharing archives
  export CSI_BENCH_PRIVATE_NS=1
  exec unshare --mount --propagation private -- "$0" --runs "$runs"
fi

work=$(mktemp -d /tmp/csi-bench-cli-XXXXXX)
root=
agent=
stop_agent() {
  if [[ -n "$agent" ]] && kill -0 "$agent" 2>/dev/null; then
    kill -TERM "$agent" 2>/dev/null || true
    wait "$agent" 2>/dev/null || true
  fi
  agent=
}
cleanup() {
  stop_agent
  # Never rm across a mount point: unmount what is left (this namespace only), then remove.
  { findmnt -rn -o TARGET | grep "^$work/" || true; } | sort -r | while read -r m; do umount "$m" 2>/dev/null || umount -l "$m"; done
  rm -rf --one-file-system "$work"
}
trap cleanup EXIT
mkdir -p "$work/manifests"
cp "$here/examples/manifests/00-csidriver.yaml" "$here/examples/manifests/10-pod-inline.yaml" "$work/manifests/"
pod=default/inline-demo

# Milliseconds from $1 (date +%s%N) until the pod is ready, asked over the API socket every 10 ms; the API's first
# answer's time goes to $work/api-up.
wait_ready() {
  python3 - "$1" "$root/csi-node-agent.sock" "$work/api-up" <<'PY'
import json, socket, sys, time
start, path, api_up = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ms = lambda: (time.time_ns() - start) / 1e6
up = None
while ms() < 120_000:
    try:
        s = socket.socket(socket.AF_UNIX)
        s.connect(path)
        s.sendall(b"GET /v1/pods/default/inline-demo HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := s.recv(65536):
            data += chunk
        s.close()
        if up is None:
            up = ms()
            open(api_up, "w").write("%.0f" % up)
        body = data.split(b"\r\n\r\n", 1)[1]
        if data.startswith(b"HTTP/1.1 200") and json.loads(body).get("ready"):
            print("%.0f" % ms())
            sys.exit(0)
    except (OSError, IndexError, ValueError):
        pass
    time.sleep(0.01)
sys.exit("the pod was not ready within 120 s")
PY
}

start_agent() {
  local start
  # A root of its own for each start: the volume the last one published is still mounted in its root.
  root=$(mktemp -d "$work/root-XXXX")
  start=$(date +%s%N)
  "$launcher" run --root-dir "$root" --with-hostpath-driver --pod-manifests "$work/manifests" --metrics-address= \
    >"$work/agent.log" 2>&1 &
  agent=$!
  if ! ready=$(wait_ready "$start"); then
    echo "bench-cli.sh: the agent did not make $pod ready; its log:" >&2
    tail -20 "$work/agent.log" >&2
    exit 1
  fi
  printf '  %-38s API answers after %5s ms, pod ready after %5s ms\n' "daemon start (run)" "$(cat "$work/api-up")" "$ready"
}

# One line: min and median wall time and max RSS of N runs of the launcher with these arguments.
measure() {
  local label="$1" i t0 t1 rss
  shift
  local -a walls=() rsss=()
  for ((i = 0; i < runs; i++)); do
    t0=$(date +%s%N)
    rss=$(/usr/bin/time -f '%M' "$@" 2>&1 >/dev/null </dev/null | tail -n 1)
    t1=$(date +%s%N)
    walls+=($(((t1 - t0) / 1000000)))
    rsss+=("$rss")
  done
  local sorted=($(printf '%s\n' "${walls[@]}" | sort -n)) maxrss
  maxrss=$(printf '%s\n' "${rsss[@]}" | sort -n | tail -n 1)
  printf '  %-38s wall min %4d ms  median %4d ms  max RSS %4d MiB  (target 300 ms)\n' \
    "$label" "${sorted[0]}" "${sorted[$((runs / 2))]}" "$((maxrss / 1024))"
}

echo "csi-node-agent CLI benchmark ($(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $runs runs each, $(date -u +%Y-%m-%dT%H:%MZ))"
for cds in 1 0; do
  export CSI_NODE_AGENT_CDS=$cds
  [[ $cds == 1 ]] && what="with class-data sharing" || what="without (CSI_NODE_AGENT_CDS=0)"
  echo "$what:"
  start_agent
  measure "--help" "$launcher" --help
  measure "status" "$launcher" status --root-dir "$root"
  measure "pod get $pod" "$launcher" pod get --root-dir "$root" "$pod"
  measure "pod wait $pod (ready)" "$launcher" pod wait --root-dir "$root" "$pod"
  stop_agent
done
