#!/usr/bin/env bash
# End to end: data -> train with checkpoints -> kill -9 -> resume -> sample -> eval.
# The resumed run must end with parameters bit-identical to a run that was never
# interrupted (same thread count), and its metrics must hold every step exactly once.
# argv[1] = build directory.
source "$(dirname "$0")/cli_common.sh"

"$B" data toy banana --n 20000 --seed 3 --out "$T/banana.h5" >/dev/null || { echo "FAIL: nflow data toy"; exit 1; }
ok
STEPS=2500
ARGS=(--data "$T/banana.h5:/x" --squeeze none --levels 1 --depth 6 --hidden 16 --batch 64 --lr 1e-3
      --schedule cosine --warmup 50 --steps $STEPS --checkpoint-every 100 --seed 7 --threads 1 --no-plots --no-gif)

# the reference: never interrupted
"$B" train "${ARGS[@]}" --quiet --out "$T/ref" >"$T/ref.log" 2>&1 || { cat "$T/ref.log"; echo "FAIL: reference run"; exit 1; }
ok

# killed as soon as its first checkpoint exists
"$B" train "${ARGS[@]}" --quiet --out "$T/run" >"$T/run.log" 2>&1 &
PID=$!
for _ in $(seq 1 2000); do
  [ -f "$T/run/checkpoint.h5" ] && break
  kill -0 $PID 2>/dev/null || break
  sleep 0.005
done
kill -9 $PID 2>/dev/null
wait $PID 2>/dev/null
PID=""
[ -f "$T/run/model.h5" ] && fail "the run finished before it could be killed (make STEPS larger)"
[ -f "$T/run/checkpoint.h5" ] || fail "no checkpoint before the kill"
ls "$T/run" | grep -q '\.tmp' && echo "note: a temporary checkpoint file was left by the kill (allowed)"
at=$("$B" info "$T/run/checkpoint.h5" --no-measure --json | /usr/bin/python3 -c "import json, sys; print(json.load(sys.stdin)['iteration'])")
echo "killed; the checkpoint is at iteration $at of $STEPS"
[ "$at" -ge 100 ] && [ "$at" -lt $STEPS ] && [ $((at % 100)) -eq 0 ] || fail "checkpoint iteration $at"

# resume with no flags but the checkpoint: the rest comes from args.txt beside it
"$B" train --resume "$T/run/checkpoint.h5" --quiet >"$T/resume.log" 2>&1 || { cat "$T/resume.log"; fail "resume failed"; }
grep -q "resuming $T/run/checkpoint.h5 at step $at of $STEPS" "$T/resume.log" || fail "resume banner: $(head -5 "$T/resume.log")"
[ -f "$T/run/model.h5" ] || fail "resume wrote no model.h5"
ok

same_params "$T/ref/model.h5" "$T/run/model.h5" || fail "resumed parameters differ from the uninterrupted run"
ok

# the metrics hold every step once, in order, despite the rows written after the checkpoint
same_metrics "$T/run/metrics.csv" "$T/ref/metrics.csv" $STEPS || fail "metrics.csv after resume"
ok

# a batch job chain: --stop-after 1000 stops each process (the flag is kept in args.txt,
# so every resume runs 1000 more) and the third one ends bit-identical to the reference
"$B" train "${ARGS[@]}" --stop-after 1000 --quiet --out "$T/chain" >"$T/chain.log" 2>&1 || fail "chain part 1"
grep -q "this process stops after step 1000 (--stop-after)" "$T/chain.log" || fail "chain banner: $(head -4 "$T/chain.log")"
for part in 2 3; do
  "$B" train --resume "$T/chain/checkpoint.h5" --quiet >"$T/chain$part.log" 2>&1 || fail "chain part $part"
done
grep -q "resuming .* at step 2000 of $STEPS" "$T/chain3.log" || fail "chain part 3 banner: $(head -4 "$T/chain3.log")"
same_params "$T/ref/model.h5" "$T/chain/model.h5" ||
    fail "the chained run differs from the uninterrupted one"
ok

# sample and eval from the resumed model
"$B" sample --model "$T/run/model.h5" --n 3000 --out "$T/s.h5" --png "$T/s.png" --data "$T/banana.h5:/x" >/dev/null ||
    fail "sample"
/usr/bin/python3 - "$T/s.h5" "$T/banana.h5" <<'EOF' || fail "samples"
import h5py, numpy as np, sys
s = h5py.File(sys.argv[1], "r")["x"][()]
d = h5py.File(sys.argv[2], "r")["x"][()]
assert s.shape == (3000, 2, 1, 1), s.shape
assert np.isfinite(s).all()
# in the data's units (the data are normalised for training): similar mean and spread
assert np.allclose(s.mean(0), d.mean(0), atol=0.15), (s.mean(0).ravel(), d.mean(0).ravel())
assert np.allclose(s.std(0), d.std(0), rtol=0.2), (s.std(0).ravel(), d.std(0).ravel())
EOF
head -c 8 "$T/s.png" | od -An -tx1 | grep -q "89 50 4e 47 0d 0a 1a 0a" || fail "sample --png is not a PNG"
e1=$("$B" eval --model "$T/run/model.h5" --data "$T/banana.h5:/x" --json) || fail "eval"
e2=$("$B" eval --model "$T/ref/model.h5" --data "$T/banana.h5:/x" --json)
[ "$e1" = "$e2" ] || fail "eval of resumed and reference models differ: $e1 vs $e2"
/usr/bin/python3 -c "import json, sys, math; j = json.loads(sys.argv[1]); sys.exit(0 if j['samples'] == 20000 and 2.80 < j['nll'] < 2.95 else 1)" "$e1" ||
    fail "eval numbers: $e1"
echo "eval: $e1 (the banana's entropy, the best nll, is 1 + ln(2 pi) = 2.838)"
ok

# resuming cannot change the architecture
"$B" train --resume "$T/run/checkpoint.h5" --hidden 32 >/dev/null 2>"$T/err"; rc=$?
[ $rc -eq 2 ] && grep -q "^nflow train: --hidden cannot change on --resume" "$T/err" || fail "--hidden on resume: $rc $(cat "$T/err")"
# a checkpoint that is not one
head -c 3000 "$T/run/checkpoint.h5" >"$T/trunc.h5"
"$B" train --resume "$T/trunc.h5" --data "$T/banana.h5:/x" --out "$T/x" >/dev/null 2>"$T/err"; rc=$?
[ $rc -eq 3 ] && [ "$(wc -l <"$T/err")" -eq 1 ] || fail "truncated checkpoint: exit $rc, $(cat "$T/err")"
ok

finish
