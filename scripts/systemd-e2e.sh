#!/usr/bin/env bash
# The installed service under a real systemd, end to end: boots systemd as PID 1 in a root of its own, installs
# csi-node-agent with scripts/install.sh, starts the unit, and checks readiness (READY=1 through Type=notify), the
# STATUS line, a reload, a watchdog restart after one event loop is blocked, and a stop. Not part of the default
# suite (it needs root and takes about a minute). Prints what it checks; exit 0 when every check held.
#
# Never on the live root: systemd's boot runs `systemd-tmpfiles --remove`, which would wipe the machine's /tmp, even
# from private PID and mount namespaces. Here systemd gets new mount, PID, network, UTS, IPC and cgroup namespaces
# and a root that is an overlay of / whose upper layer is a tmpfs, with its own /proc, /sys (read-only), /dev,
# /run and /tmp. Nothing it writes reaches the host's files; when its PID 1 dies the namespaces and every mount in
# them go with it.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
jar="$here/cli/target/csi-node-agent.jar"

if [[ $(id -u) -ne 0 ]]; then
  echo "systemd-e2e: needs root (namespaces, mounts, a cgroup)" >&2
  exit 2
fi
if [[ ! -f "$jar" ]]; then
  echo "systemd-e2e: no build at $jar; build it first (scripts/csi-node-agent --help builds it)" >&2
  exit 2
fi
systemd_bin=/lib/systemd/systemd
[[ -x "$systemd_bin" ]] || { echo "systemd-e2e: no $systemd_bin on this machine" >&2; exit 2; }

# The container's own cgroup v2 subtree, so that systemd manages it and nothing else.
if [[ "$(stat -f -c %T /sys/fs/cgroup)" == cgroup2fs ]]; then
  cgroot=/sys/fs/cgroup
else
  cgroot=/sys/fs/cgroup/unified
fi
[[ "$(stat -f -c %T "$cgroot")" == cgroup2fs ]] || { echo "systemd-e2e: no cgroup v2 hierarchy at $cgroot" >&2; exit 2; }

work="$(mktemp -d /tmp/csi-systemd-e2e.XXXXXX)"
cg="$cgroot/csi-systemd-e2e-$$"
mkdir "$cg"
pid1=
failures=0

cleanup() {
  set +e
  # Every process of the container is in its cgroup: kill them all at once (the namespaces and their mounts go
  # with the last one), whether or not PID 1 was ever found; the launcher too.
  if [[ -f "$cg/cgroup.kill" ]]; then
    echo 1 > "$cg/cgroup.kill"
  elif [[ -n "$pid1" ]]; then
    kill -KILL "$pid1"
  fi
  kill -KILL "$launcher" 2>/dev/null
  for _ in $(seq 1 100); do
    grep -q '^populated 0' "$cg/cgroup.events" 2>/dev/null && break
    sleep 0.1
  done
  wait 2>/dev/null
  # Sub-cgroups systemd made, deepest first; rmdir only removes empty ones.
  find "$cg" -depth -type d -exec rmdir {} \; 2>/dev/null
  if [[ -d "$cg" ]]; then
    echo "systemd-e2e: could not remove the cgroup $cg (processes left in it?)" >&2
  fi
  rm -rf "$work"
}
launcher=
trap cleanup EXIT
trap 'exit 130' INT TERM

cat > "$work/boot.sh" <<'BOOT'
#!/usr/bin/env bash
# Runs as PID 1 of a new PID namespace, in a private mount namespace: makes the container's root and becomes systemd.
set -euo pipefail
work="$1"
mkdir -p "$work/ns"
mount -t tmpfs -o mode=0755 csi-e2e "$work/ns"
mkdir -p "$work/ns/upper" "$work/ns/work" "$work/ns/root"
r="$work/ns/root"
mount -t overlay overlay -o "lowerdir=/,upperdir=$work/ns/upper,workdir=$work/ns/work" "$r"
mount -t proc proc "$r/proc"
mount --bind "$r/proc/sys" "$r/proc/sys"
mount -o remount,bind,ro "$r/proc/sys"
mount -t sysfs -o ro sysfs "$r/sys"
mount -t cgroup2 cgroup2 "$r/sys/fs/cgroup"
mount -t tmpfs -o mode=0755 dev "$r/dev"
for n in null zero full random urandom tty; do
  touch "$r/dev/$n"
  mount --bind "/dev/$n" "$r/dev/$n"
done
mkdir -p "$r/dev/pts" "$r/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666 devpts "$r/dev/pts"
ln -s pts/ptmx "$r/dev/ptmx"
mount -t tmpfs -o mode=1777 shm "$r/dev/shm"
mount -t tmpfs -o mode=1777 tmp "$r/tmp"
mount -t tmpfs -o mode=0755 run "$r/run"
mount -t tmpfs -o mode=1777 vartmp "$r/var/tmp"
# The checkout, read-only, wherever it lives (the overlay holds only the root file system).
mkdir -p "$r$2"
mount --bind "$2" "$r$2"
mount -o remount,bind,ro "$r$2"
# Host-global knobs a container's systemd should not reach: no kernel modules loaded, no SysRq.
if [[ -e "$r/proc/sysrq-trigger" ]]; then
  mount --bind "$r/proc/sysrq-trigger" "$r/proc/sysrq-trigger"
  mount -o remount,bind,ro "$r/proc/sysrq-trigger"
fi
ln -sf /dev/null "$r/etc/systemd/system/systemd-modules-load.service"
hostname csi-e2e
ip link set lo up
rm -f "$r/etc/machine-id"
: > "$r/etc/machine-id"
export container=csi-node-agent-e2e
exec chroot "$r" /lib/systemd/systemd --system --unit=multi-user.target --log-level=warning
BOOT
chmod +x "$work/boot.sh"

# The boot script must become PID 1 of the new PID namespace in the new cgroup: this subshell moves itself into the
# cgroup first, then unshare forks the namespace's first process.
(
  echo "$BASHPID" > "$cg/cgroup.procs"
  exec unshare --mount --propagation private --pid --fork --net --uts --ipc --cgroup -- "$work/boot.sh" "$work" "$here"
) > "$work/console.log" 2>&1 &
launcher=$!
disown "$launcher" # its end is the cleanup's business (cgroup.events), not a job report

# unshare's child is the namespace's PID 1. Nothing may be run "inside" before it IS systemd in its own root: until
# boot.sh's chroot, its root is the host's, and systemctl there would reach the host's systemd.
host_root="$(stat -L -c %d:%i /)"
is_container() {
  [[ -n "$pid1" && "$(cat "/proc/$pid1/comm" 2>/dev/null)" == systemd ]] \
    && [[ "$(stat -L -c %d:%i "/proc/$pid1/root/" 2>/dev/null)" != "$host_root" ]] \
    && [[ "$(ps -o ppid= -p "$pid1" 2>/dev/null | tr -d ' ')" == "$launcher" ]]
}
for _ in $(seq 1 300); do
  pid1="$(pgrep -P "$launcher" | head -n 1 || true)"
  is_container && break
  if ! kill -0 "$launcher" 2>/dev/null; then
    break
  fi
  sleep 0.1
done
is_container || { echo "systemd-e2e: the container did not boot"; cat "$work/console.log"; exit 1; }

inside() {
  # Checked at every call: a PID 1 that died (and a PID reused by a host process) must never be entered.
  if ! is_container; then
    echo "systemd-e2e: the container's PID 1 is gone; not running: $*" >&2
    return 1
  fi
  nsenter --target "$pid1" --mount --uts --ipc --net --pid --cgroup --root --wd -- "$@"
}

check() {
  local what="$1"
  shift
  if "$@"; then
    echo "ok   - $what"
  else
    echo "FAIL - $what"
    failures=$((failures + 1))
  fi
}

# systemd's boot, as far as a container gets (some units are for real machines: degraded is fine).
state=
for _ in $(seq 1 120); do
  state="$(inside systemctl is-system-running 2>/dev/null || true)"
  [[ "$state" == running || "$state" == degraded ]] && break
  sleep 0.5
done
echo "systemd in its own root: $(inside systemctl --version | head -n 1), system state $state"
[[ "$state" == running || "$state" == degraded ]] || { echo "systemd-e2e: the container's systemd did not boot"; tail -n 40 "$work/console.log"; exit 1; }

inside "$here/scripts/install.sh" --jar "$jar" | sed 's/^/  install: /'
inside mkdir -p /etc/csi-node-agent/manifests
# Directory volumes only: bind mounts vanish with the container's mount namespace, a loop device would outlive it.
inside sh -c 'cat > /etc/csi-node-agent/manifests/pods.yaml' <<'MANIFESTS'
apiVersion: storage.k8s.io/v1
kind: CSIDriver
metadata: {name: hostpath.csinode.dev}
spec: {attachRequired: false, podInfoOnMount: true, fsGroupPolicy: File, volumeLifecycleModes: [Persistent, Ephemeral]}
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: hostpath-directory}
provisioner: hostpath.csinode.dev
reclaimPolicy: Delete
parameters: {kind: directory}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data, namespace: default}
spec:
  storageClassName: hostpath-directory
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 64Mi}}
---
apiVersion: v1
kind: Pod
metadata: {name: pvc-pod, namespace: default}
spec:
  containers: [{name: app, image: busybox, volumeMounts: [{name: data, mountPath: /data}]}]
  volumes: [{name: data, persistentVolumeClaim: {claimName: data}}]
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: shared, namespace: default}
spec:
  storageClassName: hostpath-directory
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 64Mi}}
---
apiVersion: v1
kind: Pod
metadata: {name: fsgroup-pod, namespace: default}
spec:
  securityContext: {fsGroup: 2345}
  containers: [{name: app, image: busybox, volumeMounts: [{name: data, mountPath: /data}]}]
  volumes: [{name: data, persistentVolumeClaim: {claimName: shared}}]
---
apiVersion: v1
kind: Pod
metadata: {name: inline-pod, namespace: default}
spec:
  containers: [{name: app, image: busybox, volumeMounts: [{name: scratch, mountPath: /scratch}]}]
  volumes: [{name: scratch, csi: {driver: hostpath.csinode.dev}}]
MANIFESTS
inside sh -c 'cat > /etc/csi-node-agent/config.yaml' <<'CONFIG'
with-hostpath-driver: true
pod-manifests: /etc/csi-node-agent/manifests
node-name: e2e-node
backoff-max: 30s
CONFIG
# Short watchdog for the test: a blocked loop is seen in seconds; the abort is escalated to SIGKILL quickly.
inside mkdir -p /etc/systemd/system/csi-node-agent.service.d
inside sh -c 'cat > /etc/systemd/system/csi-node-agent.service.d/e2e.conf' <<'DROPIN'
[Service]
WatchdogSec=6s
TimeoutAbortSec=5s
RestartSec=1s
DROPIN
inside systemctl daemon-reload

start=$(date +%s)
inside systemctl start csi-node-agent # Type=notify: returns once READY=1 arrived (or fails)
check "systemctl start returns once the agent sent READY=1 ($(($(date +%s) - start)) s)" \
  test "$(inside systemctl is-active csi-node-agent)" = active
status_line() { inside systemctl show -p StatusText --value csi-node-agent; }
echo "  STATUS: $(status_line)"
check "STATUS= names the registered driver" bash -c "[[ \"\$(nsenter --target $pid1 --mount --uts --ipc --net --pid --cgroup --root --wd -- systemctl show -p StatusText --value csi-node-agent)\" == 1\ driver\ registered* ]]"
ready=
for _ in $(seq 1 120); do
  s="$(status_line)"
  if [[ "$s" == *"3/3 pods ready"* ]]; then ready=1; break; fi
  sleep 0.5
done
echo "  STATUS: $(status_line)"
check "STATUS= follows the pods until all three are ready" test -n "$ready"
published="$(inside sh -c 'for m in $(awk "\$5 ~ /^\/var\/lib\/kubelet\/pods\// { print \$5 }" /proc/self/mountinfo); do stat -c "%g %A %n" "$m"; done')"
echo "$published" | sed 's/^/  published: /'
check "fsGroup under the unit's hardening: a volume with group 2345 and the setgid bit" \
  grep -qE '^2345 d.....s' <<< "$published"
check "journald keeps the agent's levels (priority info lines from the agent)" \
  bash -c "nsenter --target $pid1 --mount --uts --ipc --net --pid --cgroup --root --wd -- journalctl -u csi-node-agent -p info -o cat | grep -q 'agent for node e2e-node running'"
check "no timestamp of the agent's own in journal lines" \
  bash -c "! nsenter --target $pid1 --mount --uts --ipc --net --pid --cgroup --root --wd -- journalctl -u csi-node-agent -o cat | grep -qE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T'"

# Reload: a changed runtime setting is applied and logged; the unit goes reloading -> active.
inside sh -c "sed -i 's/backoff-max: 30s/backoff-max: 1m/' /etc/csi-node-agent/config.yaml"
inside systemctl reload csi-node-agent
reloaded=
for _ in $(seq 1 40); do
  if inside journalctl -u csi-node-agent -o cat | grep -q 'changed backoff-max 30s -> 1m0s'; then reloaded=1; break; fi
  sleep 0.25
done
check "systemctl reload applies the changed backoff-max and says so" test -n "$reloaded"
check "active after the reload" test "$(inside systemctl is-active csi-node-agent)" = active

# Watchdog: stop ONE event-loop thread of the agent (ptrace interrupts only that thread; the others and the
# notifier keep running). The notifier sees a loop that does not answer, stops pinging, and systemd restarts it.
main_pid="$(inside systemctl show -p MainPID --value csi-node-agent)"
restarts_before="$(inside systemctl show -p NRestarts --value csi-node-agent)"
loop_tid="$(inside sh -c "grep -l '^vert.x-eventloo' /proc/$main_pid/task/*/comm | head -n 1 | cut -d/ -f5")"
echo "  blocking event-loop thread $loop_tid of agent pid $main_pid"
inside python3 - "$loop_tid" > "$work/ptrace.log" 2>&1 <<'PTRACE' &
import ctypes, sys, time
libc = ctypes.CDLL(None, use_errno=True)
PTRACE_SEIZE, PTRACE_INTERRUPT = 0x4206, 0x4207
tid = int(sys.argv[1])
for req in (PTRACE_SEIZE, PTRACE_INTERRUPT):
    if libc.ptrace(req, tid, None, None) != 0:
        print("ptrace failed:", ctypes.get_errno(), flush=True)
        sys.exit(1)
print("stopped thread", tid, flush=True)
# The thread stays stopped while this tracer lives: until the script says so (or two minutes at most).
import os
for _ in range(1200):
    if os.path.exists("/run/csi-e2e-release"):
        break
    time.sleep(0.1)
print("released thread", tid, flush=True)
PTRACE
tracer=$!
# While the thread is stopped the kernel holds the whole process until the tracer lets go: once systemd has judged
# (its watchdog fired and it is killing the agent), the tracer ends, as the blocking work would eventually.
for _ in $(seq 1 60); do
  if inside journalctl -u csi-node-agent -o cat | grep -q 'Watchdog timeout'; then break; fi
  sleep 0.5
done
inside touch /run/csi-e2e-release
wait "$tracer" || true
restarted=
for _ in $(seq 1 120); do
  now_pid="$(inside systemctl show -p MainPID --value csi-node-agent)"
  if [[ "$now_pid" != "$main_pid" && "$now_pid" != 0 && "$(inside systemctl is-active csi-node-agent)" == active ]]; then
    restarted=1
    break
  fi
  sleep 0.5
done
cat "$work/ptrace.log" | sed 's/^/  /'
check "a blocked event loop stops the pings: systemd's watchdog restarts the agent and it is ready again" test -n "$restarted"
check "systemd counted the restart" test "$(inside systemctl show -p NRestarts --value csi-node-agent)" -gt "$restarts_before"
ready=
for _ in $(seq 1 120); do
  if [[ "$(status_line)" == *"3/3 pods ready"* ]]; then ready=1; break; fi
  sleep 0.5
done
echo "  STATUS after the restart: $(status_line)"
check "after the restart the agent reconstructs and reports the three pods ready again" test -n "$ready"
check "the journal says the loop did not answer" \
  bash -c "nsenter --target $pid1 --mount --uts --ipc --net --pid --cgroup --root --wd -- journalctl -u csi-node-agent -o cat | grep -q 'an event loop did not answer'"
check "systemd says why it restarted (watchdog)" \
  bash -c "nsenter --target $pid1 --mount --uts --ipc --net --pid --cgroup --root --wd -- journalctl -u csi-node-agent -o cat | grep -qi 'watchdog'"

# Stop: volumes stay mounted (the kubelet's way; drain-on-exit is off), the unit ends inactive, not failed.
inside systemctl stop csi-node-agent
check "systemctl stop ends the unit cleanly (inactive, not failed)" test "$(inside systemctl is-active csi-node-agent || true)" = inactive
mounted="$(inside sh -c "grep -c ' /var/lib/kubelet/pods/' /proc/self/mountinfo || true")"
check "the pods' volumes stay mounted after a stop without drain ($mounted mounts)" test "$mounted" -eq 3

echo "--- the agent's journal (last lines)"
inside journalctl -u csi-node-agent -o short-monotonic --no-pager | tail -n 25 | sed 's/^/  /'
if [[ $failures -gt 0 ]]; then
  echo "systemd-e2e: $failures check(s) failed"
  exit 1
fi
echo "systemd-e2e: all checks held"
