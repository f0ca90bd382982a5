#!/bin/bash
# SPDX-License-Identifier: MIT
# The telemetry page parser's libFuzzer target replays its corpus (tests/fuzz/corpus/
# page, in the tree) and then mutates it for a fixed number of runs from a
# fixed seed: the same inputs on every run of the suite. Longer, open-ended
# fuzzing is `make fuzz-page FUZZ_SECONDS=...`.
. "$(dirname "$0")/lib.sh"

ROOT=$(cd "$(dirname "$0")/.." && pwd)
FUZZ=$BUILD/fuzz/fuzz_page
CORPUS=$ROOT/tests/fuzz/corpus/page
RUNS=${FUZZ_RUNS:-20000}

if [ ! -x "$FUZZ" ]; then
    fail fuzz_page_built "$FUZZ missing (make tests builds it; needs libclang-rt-14-dev)"
    finish
fi
check corpus_not_empty test "$(ls "$CORPUS" | wc -l)" -ge 5
# New inputs go to a scratch folder, never into the tree's corpus.
mkdir -p "$TMP/new"
(cd "$TMP" && "$FUZZ" -seed=1 -runs="$RUNS" -max_len=8192 -artifact_prefix="$TMP/" \
    "$TMP/new" "$CORPUS") >"$TMP/fuzz.log" 2>&1
rc=$?
if [ $rc -eq 0 ] && grep -q "Done $RUNS runs" "$TMP/fuzz.log"; then
    pass "fuzz_page_replay_and_${RUNS}_runs"
else
    fail fuzz_page_replay "exit $rc: $(grep -m3 -E 'ERROR|SUMMARY|Done|crash' "$TMP/fuzz.log")"
fi
check fuzz_page_no_crash_files test -z "$(ls "$TMP" | grep -E '^(crash|leak|timeout|oom)-')"
finish
