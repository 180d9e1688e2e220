#!/usr/bin/env bash
# Out of memory ends nflow with exit 1 and one line in bounded time, at any memory limit
# (ulimit -v): a Glow too large for the limit, and a small one under limits too tight
# for the BLAS's work buffers (OpenBLAS retries a failed buffer mapping forever, in a
# GEMM and in its exit handler's join of a worker: the run hung before). Sanitizer
# builds (ASan, TSan) reserve terabytes of address space and cannot run under ulimit -v.
# argv[1] = build directory.
source "$(dirname "$0")/cli_common.sh"

if grep -Eq "^NFLOW_(SANITIZE|TSAN):BOOL=ON" "$1/CMakeCache.txt" 2>/dev/null; then
  echo "SKIP: sanitizer build (ASan and TSan cannot run under ulimit -v)"; exit 77
fi
# limit (KiB), hidden width, threads
run_limited() {
  local lim=$1 hidden=$2 threads=$3
  rm -rf "$T/run"
  (ulimit -v "$lim"; exec timeout 60 "$B" train --data toy:banana --squeeze none --levels 1 --depth 16 \
     --hidden "$hidden" --threads "$threads" --steps 2 --batch 64 --out "$T/run" --no-plots --no-gif --quiet) \
    >"$T/out" 2>"$T/err"
}
for case in "150000 2048 2" "150000 8 1" "250000 2048 2" "400000 2048 1" "700000 2048 2" "1000000 2048 2" "1200000 2048 2" "2000000 2048 1"; do
  set -- $case
  run_limited "$@"; rc=$?
  lines=$(wc -l <"$T/err")
  if [ $rc -eq 124 ]; then fail "ulimit -v $1, hidden $2, $3 threads: still running after 60 s (hang)"
  elif [ $rc -ne 1 ] || [ "$lines" -ne 1 ] || ! grep -q "^nflow train: .*out of memory" "$T/err"; then
    fail "ulimit -v $1, hidden $2, $3 threads: exit $rc, $lines lines: $(head -c 300 "$T/err")"
  else ok
  fi
done
# a limit the run fits in still trains
run_limited 1000000 8 2 && ok || fail "a small Glow under ulimit -v 1000000 failed: $(head -c 300 "$T/err")"
finish
