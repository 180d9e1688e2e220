#!/usr/bin/env bash
# Conditional flows end to end on a shortened gaussian_linear (tools/acceptance/
# gaussian_linear.sh is the full run): nflow data gaussian-linear -> train --cond ->
# sample --cond --index -> plot posterior -> C2ST against the exact posterior (loose bound, and the same
# samples scored against another observation's posterior must fail it: a flow that
# ignored its condition could not pass) -> eval --cond; an interrupted conditional run
# resumed exactly; and the refusals: N mismatch, NaN, wrong rank, missing or unwanted
# conditions, --cond with toy data (conditional Glow: test_cli_cond_glow.sh).
# argv[1] = build directory.
source "$(dirname "$0")/cli_common.sh"
need_h5py
ACC="${NFLOW_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}/tools/acceptance"

"$B" data gaussian-linear --n 3000 --obs 3 --seed 2 --out "$T/gl.h5" >/dev/null || { echo "FAIL: nflow data"; exit 1; }
ARGS=(--data "$T/gl.h5:/theta" --cond /x --flow sequential --spec "actnorm, cond_realnvp(hidden=32x2)*4" --batch 128
      --lr 2e-3 --schedule cosine --lr-min 1e-5 --warmup 20 --seed 3 --threads 1 --no-plots --no-gif --quiet)
"$B" train "${ARGS[@]}" --steps 500 --out "$T/run" >"$T/train.log" 2>&1 || { cat "$T/train.log"; echo "FAIL: train"; exit 1; }
ok
mkdir -p "$T/s"
for i in 0 1; do
  "$B" sample --model "$T/run/model.h5" --cond "$T/gl.h5:/obs/x" --index $i --n 600 --seed $((i + 1)) --threads 1 \
    --out "$T/s/post_$i.h5" >/dev/null || fail "sample --index $i"
done
/usr/bin/python3 - "$T" <<'PY' || fail "posterior file contents"
import h5py, numpy as np, sys
f = h5py.File(f"{sys.argv[1]}/s/post_1.h5", "r")
g = h5py.File(f"{sys.argv[1]}/gl.h5", "r")
x = f["x"][()].reshape(600, 10)
assert np.allclose(f["mean"][()].ravel(), x.mean(0), atol=1e-5), "mean"
assert np.allclose(f["std"][()].ravel(), x.std(0, ddof=1), atol=1e-5), "std"
assert np.array_equal(f["cond"][()].ravel(), g["obs/x"][1]), "cond"
err = np.abs(x.mean(0) - g["obs/posterior_mean"][1]).max()
print(f"posterior mean off by at most {err:.3f} (posterior std 0.224)")
assert err < 0.1, err
PY
ok
if /usr/bin/python3 -c "import sklearn" 2>/dev/null; then
  /usr/bin/python3 "$ACC/c2st.py" "$T/gl.h5" "$T/s" --obs "0 1" --json "$T/c2st.json" >"$T/c2st.log" || fail "c2st.py"
  /usr/bin/python3 "$ACC/c2st.py" "$T/gl.h5" "$T/s" --obs "0" --against 1 --json "$T/wrong.json" >"$T/wrong.log" ||
    fail "c2st.py --against"
  cat "$T/c2st.log" "$T/wrong.log"
  /usr/bin/python3 - "$T" <<'PY' || fail "C2ST bounds"
import json, sys
good = json.load(open(f"{sys.argv[1]}/c2st.json"))["mean"]["c2st"]
wrong = json.load(open(f"{sys.argv[1]}/wrong.json"))["mean"]["c2st"]
assert good <= 0.65 and wrong >= 0.8, (good, wrong)
PY
  ok
else
  echo "note: /usr/bin/python3 has no sklearn (python3-sklearn): the C2ST part is skipped"
fi
# the posterior picture: samples over the exact posterior, the truth marked (four panels)
"$B" plot posterior --samples "$T/s/post_1.h5" --truth "$T/gl.h5:/obs/theta" --exact-mean "$T/gl.h5:/obs/posterior_mean" \
  --exact-var 0.05 --out "$T/post.png" >/dev/null && png "$T/post.png" 960 900 || fail "plot posterior"
"$B" eval --model "$T/run/model.h5" --data "$T/gl.h5:/obs/theta" --cond "$T/gl.h5:/obs/x" --json >"$T/eval.json" ||
  fail "eval --cond"

# exact resume: three processes of at most 60 steps (args.txt keeps --stop-after), against one run of 150
"$B" train "${ARGS[@]}" --steps 150 --out "$T/ref" >/dev/null 2>&1 || fail "reference run"
"$B" train "${ARGS[@]}" --steps 150 --stop-after 60 --out "$T/part" >/dev/null 2>&1 || fail "first part"
for part in 2 3; do
  "$B" train --resume "$T/part/checkpoint.h5" --quiet >"$T/resume.log" 2>&1 || { cat "$T/resume.log"; fail "resume"; }
done
same_params "$T/ref/model.h5" "$T/part/model.h5" || fail "the resumed conditional run differs from the uninterrupted one"

# refusals
"$B" train --data "$T/gl.h5:/theta" --flow sequential --spec "realnvp(hidden=8)*2" --steps 5 --threads 1 --no-plots \
  --no-gif --quiet --out "$T/e0" >/dev/null 2>&1 || fail "unconditional run"
/usr/bin/python3 - "$T" <<'PY' || { echo "FAIL: bad data"; exit 1; }
import h5py, numpy as np, sys
g = h5py.File(f"{sys.argv[1]}/gl.h5", "r")
with h5py.File(f"{sys.argv[1]}/bad.h5", "w") as f:
    f["theta"] = g["theta"][()]
    y = g["x"][()]
    y[1234, 3] = np.nan
    f["nan"] = y
    f["short"] = y[:2999]
    f["rank6"] = np.zeros((3000, 1, 1, 1, 1, 2), np.float32)
    f["y3"] = y[:, :3]
PY
expect 3 "has 2999 samples but" "$B" train --data "$T/bad.h5:/theta" --cond /short --flow sequential --out "$T/e1"
expect 4 "nan: sample 1234 holds NaN at element 3" "$B" train --data "$T/bad.h5:/theta" --cond /nan --flow sequential \
  --steps 200 --batch 500 --val none --out "$T/e2"
expect 3 "rank6.*(rank|axes|dimensions)" "$B" train --data "$T/bad.h5:/theta" --cond /rank6 --flow sequential --out "$T/e3"
expect 2 "--cond needs HDF5 data" "$B" train --data toy:moons --cond /x --flow sequential --out "$T/e5"
expect 2 "give --cond" "$B" eval --model "$T/run/model.h5" --data "$T/gl.h5:/theta"
expect 3 "has conditions of 3x1x1x1 .* takes 10x1x1x1" "$B" eval --model "$T/run/model.h5" --data "$T/bad.h5:/theta" \
  --cond /y3
expect 2 "needs a conditional flow" "$B" train --data "$T/gl.h5:/theta" --flow sequential --spec "cond_realnvp*2" \
  --out "$T/e6"
expect 3 "has conditions of 3x1x1x1 .* takes 10x1x1x1" "$B" train --resume "$T/ref/checkpoint.h5" \
  --data "$T/bad.h5:/theta" --cond /y3 --out "$T/e7"
expect 2 "unconditional but a condition was given" "$B" sample --model "$T/e0/model.h5" --cond "$T/gl.h5:/x"
finish
