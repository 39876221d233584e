#!/usr/bin/env bash
# The whole test suite. Installs what it needs, runs every Maven test inside a private mount namespace, and
# fails if the suite left a mount or a loop device of its own behind on the host.
#
# The suite judges only what it made: every test JVM gets a temp directory of this run as java.io.tmpdir, so its
# mounts and loop devices are those under that directory. Mounts and loop devices of anything else on the machine
# (a demo in another terminal, another checkout's suite) are neither compared nor touched.
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

# Short: UNIX socket paths below it must stay under the kernel's 108 bytes.
suite_tmp=$(mktemp -d /tmp/cna.XXXXXX)

mounts_of_suite() { findmnt -rn -o TARGET,SOURCE,FSTYPE | awk -v d="$suite_tmp/" 'index($1, d) == 1' | sort; }
loops_of_suite() {
  losetup --noheadings --raw --output NAME,BACK-FILE 2>/dev/null | awk -v d="$suite_tmp/" 'index($2, d) == 1' | sort
}

CSI_TEST_HOST_MNT_NS=$(readlink /proc/self/ns/mnt)
export CSI_TEST_HOST_MNT_NS

# Reports of an earlier run would be counted with this one's.
rm -rf */target/surefire-reports

status=0
unshare --mount --propagation private -- \
  mvn -B -ntp verify -DargLine="-Djava.io.tmpdir=$suite_tmp" "$@" || status=$?

# The private namespace is gone with its last process, and its mounts with it; a mount of the suite still
# visible here leaked onto the host. Loop devices are global: detach the ones a crashed test left attached.
leaked_mounts=$(mounts_of_suite)
leaked_loops=$(loops_of_suite)
# Tests remove what they make: anything left in the run's temp directory was left by a test (or by a process a
# test started and did not stop).
leftovers=$(find "$suite_tmp" -mindepth 1 -maxdepth 1 -printf '%f\n' 2>/dev/null | sort)
for dev in $(awk '{print $1}' <<<"$leaked_loops"); do losetup --detach "$dev" || true; done
if [[ -n "$leaked_mounts" ]]; then
  echo "test.sh: mounts of the suite leaked onto the host (left in place, and $suite_tmp with them):" >&2
  echo "$leaked_mounts" >&2
else
  rm -rf --one-file-system "$suite_tmp"
fi
if [[ -n "$leaked_loops" ]]; then
  echo "test.sh: loop devices of the suite were left attached (detached now):" >&2
  echo "$leaked_loops" >&2
fi

# One closing line: the counts from every module's reports, and the verdict on the host.
read -r tests failed skipped < <(
  cat */target/surefire-reports/TEST-*.xml 2>/dev/null |
    awk 'match($0, /<testsuite [^>]*>/) {
           s = substr($0, RSTART, RLENGTH)
           t += attr(s, "tests"); f += attr(s, "failures") + attr(s, "errors"); k += attr(s, "skipped")
         }
         function attr(s, n,   m) { return match(s, " " n "=\"[0-9]+\"") ? substr(s, RSTART + length(n) + 3, RLENGTH - length(n) - 4) + 0 : 0 }
         END { print t + 0, f + 0, k + 0 }')
passed=$((tests - failed - skipped))
if [[ -n "$leftovers" ]]; then
  status=1
  echo "test.sh: the tests left $(wc -l <<<"$leftovers") entries in their temp directory (a test that does not remove what it made):" >&2
  head -n 20 <<<"$leftovers" >&2
fi
if [[ -n "$leaked_mounts" || -n "$leaked_loops" ]]; then
  status=1
  host="the suite left mounts or loop devices on the host"
else
  host="no mount or loop device of the suite left on the host"
fi
(( status == 0 )) && verdict="PASSED" || verdict="FAILED"
echo "test.sh: $verdict: $host"
echo "test.sh: $passed passed, $failed failed, $skipped skipped"
exit $status
