#!/usr/bin/env bash
# Mutation testing (PIT) of the agent's unit-tested packages: reconciler, housekeeping, operation executor,
# provisioner, populator, access modes. Runs only the tests tagged "unit" (no root needed). Prints the score and
# the surviving mutants; the HTML report is agent/target/pit-reports/index.html. Takes several minutes.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
mvn -B -ntp -P pitest -pl agent -am test-compile org.pitest:pitest-maven:mutationCoverage "$@" |
  grep -E '^>> |Generated [0-9]+ mutations|KILLED|SURVIVED|NO_COVERAGE|TIMED_OUT' || true
csv=agent/target/pit-reports/mutations.csv
[[ -f "$csv" ]] || { echo "mutation.sh: no report at $csv" >&2; exit 1; }
awk -F, '{n++; s[$6]++} END {k = s["KILLED"] + s["TIMED_OUT"] + s["MEMORY_ERROR"];
  printf "mutation.sh: %d mutants, %d killed (%.0f %%), %d survived, %d without coverage\n", n, k, 100 * k / n, s["SURVIVED"], s["NO_COVERAGE"]}' "$csv"
echo "mutation.sh: surviving mutants (file, class, mutator, method, line):"
awk -F, '$6 == "SURVIVED" {print "  " $1 " " $3 " " $4 ":" $5}' "$csv" | sed 's/org.pitest.mutationtest.engine.gregor.mutators.//' | sort
