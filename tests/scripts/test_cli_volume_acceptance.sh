#!/usr/bin/env bash
# The short version of tools/acceptance/volume.sh (--quick: 16^3 synthetic seismic cubes,
# Glow L=2 K=2, 40 steps; activation memory of one step at K=32 against K=4): the script
# must pass both criteria and write its summary.
# argv[1] = build directory.
source "$(dirname "$0")/cli_common.sh"
bash "$(dirname "$0")/../../tools/acceptance/volume.sh" --quick --threads 1 --nflow "$B" --out "$T/vol" >"$T/log" 2>&1 ||
    fail "volume.sh --quick: $(cat "$T/log")"
grep -q "^result: PASS" "$T/vol/summary.md" || fail "no PASS in the summary: $(cat "$T/vol/summary.md")"
grep -q "^| 32 | " "$T/vol/summary.md" || fail "no K=32 memory row"
finish
