#!/bin/bash
# SPDX-License-Identifier: MIT
# The telemetry page parser's libFuzzer target replays its corpus (tests/fuzz/corpus/
# page, in the tree) and then mutates it for a fixed number of runs from a
# fixed seed: the same inputs on every run of the suite. Longer, open-ended
# fuzzing is `make fuzz-page FUZZ_SECONDS=...`.
. "$(dirname "$0")/lib.sh"

fuzz_replay page 8192
finish
