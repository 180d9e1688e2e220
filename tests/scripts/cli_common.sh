# Sourced by the nflow command's script tests (argv[1] = build directory). Sets B (the
# nflow binary) and T (a temporary directory removed at exit, after killing $PID if a
# test left one running), the sanitizer environment, the fail/ok counters, expect (exit
# code and one stderr line), finish, which prints the closing "N passed, N failed" line and returns
# non-zero on failures, same_params / same_metrics (a resumed run against an uninterrupted one),
# and png / gif (the picture files, checked by picture_files.py).
set -u
B="${1:?build dir}/nflow"
T=$(mktemp -d)
PID=""
trap '[ -n "$PID" ] && kill -9 $PID 2>/dev/null; rm -rf "$T"' EXIT
export OMP_WAIT_POLICY=passive
# sanitizer builds: leaks inside fontconfig/libltdl (PLplot drivers) are not nflow's; the list
# of suppressions used is not printed, so stderr holds only nflow's own lines
export LSAN_OPTIONS="${LSAN_OPTIONS:+$LSAN_OPTIONS:}print_suppressions=0:suppressions=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/cli_lsan.supp"
# ThreadSanitizer builds: races inside the font libraries of the picture code are not nflow's
export TSAN_OPTIONS="${TSAN_OPTIONS:+$TSAN_OPTIONS:}suppressions=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/cli_tsan.supp"
fails=0
pass=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
ok() { pass=$((pass + 1)); }
# Prints the objective of model $1 on $2 fresh banana samples drawn with seed $3.
heldout_banana() {
  local j
  j=$("$B" eval --model "$1" --data toy:banana --n "$2" --seed "$3" --threads 1 --json) || return 1
  /usr/bin/python3 -c "import json, sys; print(json.loads(sys.argv[1])['objective'])" "$j"
}
# Skips the script (exit 0, "SKIPPED: ...") unless /usr/bin/python3 has h5py and numpy.
need_h5py() {
  if ! /usr/bin/python3 -c 'import h5py, numpy' 2>/dev/null; then
    echo "SKIPPED: /usr/bin/python3 cannot import h5py and numpy (install python3-h5py python3-numpy)"
    exit 0
  fi
}
# expect CODE PATTERN CMD...: CMD exits CODE and writes one stderr line matching PATTERN.
expect() {
  local code=$1 pat=$2; shift 2
  "$@" >"$T/out" 2>"$T/err"; local rc=$?
  local lines; lines=$(wc -l <"$T/err")
  if [ $rc -ne "$code" ]; then fail "'${*:2}' exited $rc, expected $code ($(head -c 300 "$T/err"))"; return; fi
  if [ "$lines" -ne 1 ]; then fail "'${*:2}' wrote $lines stderr lines, expected 1: $(head -c 300 "$T/err")"; return; fi
  grep -Eq -- "$pat" "$T/err" || { fail "'${*:2}' said '$(cat "$T/err")', expected /$pat/"; return; }
  ok
}
# Scripts that count only failures report one passed check when none failed.
finish() {
  local p=$pass
  [ "$p" -eq 0 ] && p=$((fails == 0 ? 1 : 0))
  echo "$p passed, $fails failed"
  [ "$fails" -eq 0 ]
}
# same_params A B: every dataset of model files A and B is bit-identical (prints how many).
same_params() {
/usr/bin/python3 - "$1" "$2" <<'EOF'
import h5py, numpy as np, sys
a, b = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
names = []
a.visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Dataset) else None)
assert names, "no datasets in the model file"
bad = [n for n in names if n not in b or not np.array_equal(a[n][()], b[n][()])]
print(f"{len(names)} parameter datasets compared, {len(bad)} differ {bad[:5]}")
sys.exit(1 if bad else 0)
EOF
}
# same_metrics RUN_CSV REF_CSV STEPS: RUN_CSV holds every step 1..STEPS once, in order, with
# the losses of REF_CSV (rows written after a checkpoint and lost to a kill are not repeated).
same_metrics() {
/usr/bin/python3 - "$1" "$2" "$3" <<'EOF'
import csv, sys
rows = [r for r in csv.DictReader(open(sys.argv[1])) if r["loss"]]
ref = [r for r in csv.DictReader(open(sys.argv[2])) if r["loss"]]
steps = [int(r["step"]) for r in rows]
assert steps == list(range(1, int(sys.argv[3]) + 1)), f"steps {steps[:3]}...{steps[-3:]} ({len(steps)})"
assert [r["loss"] for r in rows] == [r["loss"] for r in ref], "losses differ from the reference run"
EOF
}
# png FILE [WIDTH HEIGHT]: the PNG decodes, has that size and is a chart (0.3%..70% of the
# pixels not white); PNG_KIND=image: a picture (at least 16 distinct colours) instead.
# gif FILE FRAMES: a looping GIF89a of FRAMES images. (tests/scripts/picture_files.py)
png() { /usr/bin/python3 "$(dirname "${BASH_SOURCE[0]}")/picture_files.py" png "$@"; }
gif() { /usr/bin/python3 "$(dirname "${BASH_SOURCE[0]}")/picture_files.py" gif "$@"; }
