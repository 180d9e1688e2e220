#!/usr/bin/env bash
# Builds the libFuzzer harnesses with clang (NFLOW_FUZZ: ASan + UBSan) in BUILD and runs
# each for SECONDS on its seed corpus (tests/fuzz/corpus/<harness>; new inputs go to
# BUILD/fuzz-corpus/<harness>, the repository is not written). Exit non-zero when a
# harness finds a crash, leak, hang or sanitizer error in nflow's code; the reproducer is
# left in BUILD (crash-*, leak-*, timeout-*). A crash or hang inside libhdf5 itself (its
# own bugs on corrupted files, triaged in docs/reliability.md) does not fail the run: its
# reproducer goes to BUILD/hdf5-findings/<harness>/ and the harness is restarted with the
# next seed (1, 2, ...: each run explores the same inputs) until its SECONDS are spent.
# Prints the executions, restarts and HDF5 findings per harness.
# Usage: tests/fuzz/run.sh [BUILD [SECONDS [HARNESS...]]]
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

# 0 when the log's first stack frame outside libFuzzer is in libhdf5 (HDF5's own bug)
in_libhdf5() {
  grep -E "^ +#[0-9]+ " "$1" | grep -m1 -E "libhdf5|/src/|/tools/|/datasets/|/tests/fuzz/" | grep -q libhdf5
}

# executions the log's run reported (0 when it reported none)
executed() {
  local n
  n=$(grep -m1 "stat::number_of_executed_units" "$1" | awk '{print $2}' || true)
  echo "${n:-0}"
}

status=0
for h in "${HARNESSES[@]}"; do
  mkdir -p "$BUILD/fuzz-corpus/$h"
  # The HDF5 readers allocate more than they free in many inputs (HDF5's free lists keep
  # blocks), which makes libFuzzer rerun such an input under a full leak scan: 10x
  # slower. Their per-input leak check is off; LeakSanitizer still checks the whole run
  # when the process exits (a leak then fails the run, without a reproducer).
  extra=()
  case $h in segy | model | dataset) extra=(-detect_leaks=0) ;; esac
  start=$(date +%s) runs=0 seed=1 hdf5=0 result=ok
  while :; do
    left=$((SECONDS_EACH - ($(date +%s) - start)))
    [ $left -gt 0 ] || break
    log="$BUILD/fuzz_$h.log"
    if (cd "$BUILD" && "./fuzz_$h" -max_total_time=$left -seed=$seed -timeout=5 -rss_limit_mb=3072 \
          -malloc_limit_mb=3072 -close_fd_mask=3 -print_final_stats=1 "${extra[@]}" "fuzz-corpus/$h" \
          "$SRC/tests/fuzz/corpus/$h") >"$log" 2>&1; then
      runs=$((runs + $(executed "$log")))
      break
    fi
    runs=$((runs + $(executed "$log")))
    unit=$(grep -m1 -o "Test unit written to .*" "$log" | sed 's/Test unit written to //' || true)
    if [ -n "$unit" ] && in_libhdf5 "$log"; then
      # a crash or hang inside libhdf5 itself: kept with its log, the harness goes on
      hdf5=$((hdf5 + 1))
      mkdir -p "$BUILD/hdf5-findings/$h"
      kind=$(grep -m1 -oE "SUMMARY: [A-Za-z]+: [a-z-]+|libFuzzer: (timeout|deadly signal)" "$log" | tr ' :' '__' || true)
      mv "$BUILD/$unit" "$BUILD/hdf5-findings/$h/$(basename "$unit")"
      cp "$log" "$BUILD/hdf5-findings/$h/$(basename "$unit").log"
      echo "fuzz_$h: seed $seed: inside libhdf5 ($kind), kept in $BUILD/hdf5-findings/$h/$(basename "$unit")"
      seed=$((seed + 1))
      continue
    fi
    result=failed
    echo "fuzz_$h: FAILED (see $log):"; grep -E "ERROR|SUMMARY|runtime error|Test unit written" "$log" | head -5
    status=1
    break
  done
  echo "fuzz_$h: $runs executions in $(($(date +%s) - start)) s ($result; $hdf5 crash(es) or hang(s) inside libhdf5)"
done
exit $status
