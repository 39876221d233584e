#!/usr/bin/env bash
# The whole test suite. Installs what it needs, runs every Maven test inside a private mount namespace,
# and fails if the host's mount table or loop devices differ afterwards.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"

if [[ $(id -u) -ne 0 ]]; then
  echo "test.sh: the suite mounts, formats and attaches loop devices; run it as root" >&2
  exit 1
fi
scripts/setup.sh

# The independent gRPC stack for the interop tests, exactly as locked.
(cd proto/src/test/node && npm ci --no-audit --no-fund --loglevel=error >/dev/null)

snapshot() {
  findmnt -rn -o TARGET,SOURCE,FSTYPE | sort
  echo "--- loop"
  losetup --noheadings --raw --output NAME,BACK-FILE 2>/dev/null | sort
}
before=$(snapshot)
CSI_TEST_HOST_MNT_NS=$(readlink /proc/self/ns/mnt)
export CSI_TEST_HOST_MNT_NS

status=0
unshare --mount --propagation private -- mvn -B -ntp verify "$@" || status=$?

# Loop devices are global, not per namespace: detach any a crashed test left on its temp dirs, then judge.
leaked=$(losetup --noheadings --raw --output NAME,BACK-FILE 2>/dev/null | awk '$2 ~ /csi-node-agent-test-/ {print $1}')
for dev in $leaked; do losetup --detach "$dev" || true; done
after=$(snapshot)
if [[ "$before" != "$after" || -n "$leaked" ]]; then
  echo "test.sh: the host's mounts or loop devices changed during the suite:" >&2
  diff <(echo "$before") <(echo "$after") >&2 || true
  [[ -n "$leaked" ]] && echo "leaked loop devices (detached now): $leaked" >&2
  status=1
else
  echo "test.sh: host mount table and loop devices are as before the suite"
fi
exit $status
