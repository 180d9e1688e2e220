#!/usr/bin/env bash
# A run directory is changed only by a run whose command line and data are valid, and by
# one run at a time: a usage or data error leaves args.txt and the metrics as they were
# (so --resume still works), --resume names a bad checkpoint (a directory, a data file,
# a missing file), and a second `nflow train --out SAME` is refused while the first runs,
# naming its pid.
# argv[1] = build directory.
source "$(dirname "$0")/cli_common.sh"


# an image run to protect
"$B" data seismic --n 64 --size 8,8 --seed 2 --out "$T/seis.h5" >/dev/null || { echo "FAIL: data"; exit 1; }
IMG=(--data "$T/seis.h5:/x" --levels 1 --depth 1 --hidden 4 --batch 16 --threads 1 --no-plots --no-gif --quiet)
"$B" train "${IMG[@]}" --steps 4 --out "$T/run" >/dev/null 2>&1 || { echo "FAIL: image run"; exit 1; }
cp "$T/run/args.txt" "$T/args.before"
cp "$T/run/metrics.csv" "$T/metrics.before"

# usage and data errors into the existing run: nothing in it changes
expect 2 "^nflow train: .*(squeez|2\^L)" "$B" train --data toy:banana --levels 3 --out "$T/run"
expect 3 "^nflow train: .*missing\.h5" "$B" train --data "$T/missing.h5:/x" --out "$T/run"
expect 2 "^nflow train: --spec" "$B" train --data toy:banana --flow sequential --spec "nosuch(3)" --out "$T/run"
cmp -s "$T/args.before" "$T/run/args.txt" || fail "a failed command line rewrote args.txt: $(tr '\n' ' ' <"$T/run/args.txt")"
cmp -s "$T/metrics.before" "$T/run/metrics.csv" || fail "a failed command line changed metrics.csv"
[ -e "$T/missing_run" ] && fail "a failed run created its directory"
expect 2 "^nflow train: .*(squeez|2\^L)" "$B" train --data toy:banana --levels 3 --out "$T/missing_run"
[ -e "$T/missing_run" ] && fail "a run refused for its flags created its output directory"
"$B" train --resume "$T/run/checkpoint.h5" --steps 6 --quiet >"$T/resume.log" 2>&1 ||
  fail "resume after the refused command lines: $(tail -2 "$T/resume.log")"
ok

# --resume names what is wrong with the checkpoint
expect 3 "^nflow train: --resume $T/run is a directory; give the checkpoint in it" "$B" train --resume "$T/run"
expect 3 "^nflow train: --resume: .*seis\.h5.*not an nflow model file" "$B" train --resume "$T/seis.h5"
expect 3 "^nflow train: --resume: .*nosuch\.h5" "$B" train --resume "$T/nosuch.h5"
mkdir -p "$T/lonely" && cp "$T/run/checkpoint.h5" "$T/lonely/"
expect 2 "^nflow train: --data is required: there is no args.txt beside $T/lonely/checkpoint.h5" \
  "$B" train --resume "$T/lonely/checkpoint.h5"

# two runs into one directory: the second is refused while the first runs
TOY=(--data toy:banana --squeeze none --levels 1 --depth 4 --hidden 64 --threads 1 --no-plots --no-gif --quiet)
"$B" train "${TOY[@]}" --steps 1000000 --out "$T/busy" >/dev/null 2>&1 &
PID=$!
for _ in $(seq 1 500); do [ -s "$T/busy/metrics.csv" ] && break; sleep 0.01; done
[ -s "$T/busy/metrics.csv" ] || fail "the first run did not start"
cp "$T/busy/args.txt" "$T/busy.args"
expect 1 "^nflow train: $T/busy is in use by another nflow train \(pid $PID\)" \
  "$B" train "${TOY[@]}" --steps 5 --out "$T/busy"
cmp -s "$T/busy.args" "$T/busy/args.txt" || fail "the refused run rewrote args.txt"
kill -0 $PID 2>/dev/null || fail "the first run died"
kill -9 $PID 2>/dev/null
wait $PID 2>/dev/null
PID=""
# a killed run's lock goes with its process
"$B" train "${TOY[@]}" --steps 5 --out "$T/busy" >"$T/after.log" 2>&1 || fail "a run after the killed one: $(tail -2 "$T/after.log")"
ok
finish
