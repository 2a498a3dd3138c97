#!/usr/bin/env bash
# Runs every unit test binary (cmocka) and every integration test script,
# counts test cases, and ends with one line: "N passed, N failed".
#   tests/run.sh [unit|integration] [filter]
# Integration tests tagged "# tags: slow" are skipped when SKIFF_TEST_FAST=1.
set -u
cd "$(dirname "$0")/.."
what=${1:-all}
filter=${2:-}
passed=0
failed=0
failures=()
logdir=build/test/logs
mkdir -p "$logdir"

run_unit() {
    local bin name out rc p f
    for bin in $(find build/test/tests/unit -type f -perm -u+x -name 'test_*' | sort); do
        name=${bin#build/test/tests/unit/}
        [ -n "$filter" ] && [[ "$name" != *"$filter"* ]] && continue
        out="$logdir/unit_${name//\//_}.log"
        # leak checks are on (ASan's default); cmocka prints one line per case.
        ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
            timeout 300 "$bin" >"$out" 2>&1
        rc=$?
        p=$(grep -E '^\[  PASSED  \] [0-9]+ test' "$out" | grep -oE '[0-9]+' | head -1)
        f=$(grep -E '^\[  FAILED  \] [0-9]+ test' "$out" | grep -oE '[0-9]+' | head -1)
        p=${p:-0}; f=${f:-0}
        if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
            f=1 # crashed, leaked or timed out outside any case
        fi
        passed=$((passed + p)); failed=$((failed + f))
        if [ "$rc" -ne 0 ]; then
            failures+=("unit $name (log: $out)")
            echo "FAIL unit $name"; tail -n 40 "$out" | sed 's/^/    /'
        else
            echo "ok   unit $name ($p cases)"
        fi
    done
}

run_integration() {
    local t name out rc start
    for t in tests/integration/test_*.sh; do
        [ -e "$t" ] || continue
        name=$(basename "$t" .sh)
        [ -n "$filter" ] && [[ "$name" != *"$filter"* ]] && continue
        if [ "${SKIFF_TEST_FAST:-0}" = 1 ] && grep -q '^# tags:.*slow' "$t"; then
            echo "skip integration $name (slow)"; continue
        fi
        out="$logdir/integration_$name.log"
        start=$(date +%s)
        SKIFF_BIN=${SKIFF_BIN:-$PWD/build/test/skiff} timeout 900 bash "$t" >"$out" 2>&1
        rc=$?
        if [ "$rc" -eq 0 ]; then
            passed=$((passed + 1)); echo "ok   integration $name ($(( $(date +%s) - start ))s)"
        else
            failed=$((failed + 1)); failures+=("integration $name (log: $out)")
            echo "FAIL integration $name (rc=$rc)"; tail -n 60 "$out" | sed 's/^/    /'
        fi
    done
}

case "$what" in
    unit) run_unit ;;
    integration) run_integration ;;
    all) run_unit; run_integration ;;
    *) echo "usage: tests/run.sh [unit|integration|all] [filter]" >&2; exit 2 ;;
esac

for f in "${failures[@]}"; do echo "failed: $f"; done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
