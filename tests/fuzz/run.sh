#!/usr/bin/env bash
# Builds the libFuzzer harnesses with clang (NFLOW_FUZZ: ASan + UBSan) in BUILD and runs
# each for SECONDS on its seed corpus (tests/fuzz/corpus/<harness>; new inputs go to
# BUILD/fuzz-corpus/<harness>, the repository is not written; -seed=1, so CI explores
# the same inputs each run). Exit non-zero when a
# harness finds a crash, leak, hang or sanitizer error; the reproducer is left in BUILD
# (crash-*, leak-*, timeout-*). Usage: tests/fuzz/run.sh [BUILD [SECONDS [HARNESS...]]]
set -euo pipefail
SRC="$(cd "$(dirname "$0")/../.." && pwd)"
BUILD="${1:-build-fuzz}"
SECONDS_EACH="${2:-20}"
shift $(($# > 2 ? 2 : $#))
HARNESSES=("$@")
[ ${#HARNESSES[@]} -gt 0 ] || HARNESSES=(spec cli_args segy model dataset)
cmake -S "$SRC" -B "$BUILD" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNFLOW_FUZZ=ON \
  -DNFLOW_TESTS=OFF >/dev/null
cmake --build "$BUILD" -j2 --target $(printf 'fuzz_%s ' "${HARNESSES[@]}") >/dev/null
# a file that claims a huge shape makes an allocation fail: NULL, which nflow must handle
export ASAN_OPTIONS="allocator_may_return_null=1:detect_leaks=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
# leaks inside libhdf5 on corrupted metadata are HDF5's (triaged in docs/reliability.md)
export LSAN_OPTIONS="suppressions=$SRC/tests/fuzz/lsan.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
status=0
for h in "${HARNESSES[@]}"; do
  mkdir -p "$BUILD/fuzz-corpus/$h"
  log="$BUILD/fuzz_$h.log"
  if (cd "$BUILD" && "./fuzz_$h" -max_total_time="$SECONDS_EACH" -seed=1 -timeout=10 -rss_limit_mb=3072 \
        -malloc_limit_mb=3072 -close_fd_mask=3 -print_final_stats=1 "fuzz-corpus/$h" "$SRC/tests/fuzz/corpus/$h") \
        >"$log" 2>&1; then
    runs=$(grep -m1 "stat::number_of_executed_units" "$log" | awk '{print $2}')
    echo "fuzz_$h: ${runs:-?} executions in ${SECONDS_EACH} s, no crash"
  elif grep -E "^ +#[0-9]+ " "$log" | grep -m1 -E "libhdf5|/src/|/tools/|/datasets/|/tests/fuzz/" | grep -q libhdf5; then
    # a crash or hang inside libhdf5 itself (its own bugs on corrupted metadata, see
    # docs/reliability.md): reported with its reproducer, not counted against nflow
    echo "fuzz_$h: crash or hang inside libhdf5 (HDF5's, not nflow's; see $log):"
    grep -E "SUMMARY|Test unit written" "$log" | head -2
    grep -E "^ +#[0-9]+ .* in [a-zA-Z_]+ /.*/(src|tools|datasets)/" "$log" | head -1
  else
    echo "fuzz_$h: FAILED (see $log):"; grep -E "ERROR|SUMMARY|runtime error|Test unit written" "$log" | head -5
    status=1
  fi
done
exit $status
