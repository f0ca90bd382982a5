#!/bin/bash
# SPDX-License-Identifier: MIT
# The config loader's libFuzzer target replays its corpus (tests/fuzz/corpus/
# config, in the tree) and then mutates it for a fixed number of runs from a
# fixed seed: the same inputs on every run of the suite. Longer, open-ended
# fuzzing is `make fuzz-config FUZZ_SECONDS=...`.
. "$(dirname "$0")/lib.sh"

fuzz_replay config 4096
finish
