# Sourced by scripts/test.sh and scripts/test_openzfs.sh: the counts of a test run.

# deno_counts LOG RC: prints "PASSED FAILED" from the last summary line deno test wrote to
# LOG. No summary, or a non-zero RC with no failure counted, counts as one failure: a run
# that broke before its summary never reads as green.
deno_counts() {
  local summary passed failed
  summary=$(grep -E '^(ok|FAILED) \| [0-9]+ passed' "$1" | tail -1)
  passed=$(echo "$summary" | sed -nE 's/.*\| ([0-9]+) passed.*/\1/p')
  failed=$(echo "$summary" | sed -nE 's/.*\| ([0-9]+) failed.*/\1/p')
  if [ -z "$summary" ]; then passed=0 failed=1; fi
  if [ "$2" -ne 0 ] && [ "${failed:-0}" -eq 0 ]; then failed=1; fi
  echo "${passed:-0} ${failed:-0}"
}
