#!/usr/bin/env bash
# Conditional HINT end to end on a shortened gaussian_linear (tools/acceptance/
# gaussian_linear.sh --spec "cond_hint(...)" is the full run): train --cond with the
# cond_hint layer -> sample --cond --index (posterior mean within 0.1 of the exact one,
# spread near the exact 0.224) -> eval --cond, whose loss is the joint -log p(theta, x)
# (the layer adds the y lane's log p(x)), near its exact value; and the refusals: no
# condition, a summary network before it, a condition of one value, steps out of range.
# argv[1] = build directory.
source "$(dirname "$0")/cli_common.sh"
need_h5py

"$B" data gaussian-linear --n 3000 --obs 3 --seed 2 --out "$T/gl.h5" >/dev/null || { echo "FAIL: nflow data"; exit 1; }
"$B" train --data "$T/gl.h5:/theta" --cond /x --flow sequential --spec "actnorm, cond_hint(hidden=32x2,steps=4)" \
  --batch 128 --lr 2e-3 --schedule cosine --lr-min 1e-5 --warmup 20 --seed 3 --threads 1 --no-plots --no-gif --quiet \
  --steps 500 --out "$T/run" >"$T/train.log" 2>&1 || { cat "$T/train.log"; echo "FAIL: train"; exit 1; }
ok
for i in 0 1; do
  "$B" sample --model "$T/run/model.h5" --cond "$T/gl.h5:/obs/x" --index $i --n 600 --seed $((i + 1)) --threads 1 \
    --out "$T/post_$i.h5" >/dev/null || fail "sample --index $i"
done
"$B" data gaussian-linear --n 2000 --obs 1 --seed 9 --out "$T/held.h5" >/dev/null || fail "held-out data"
"$B" eval --model "$T/run/model.h5" --data "$T/held.h5:/theta" --cond /x --json >"$T/eval.json" || fail "eval --cond"
/usr/bin/python3 - "$T" <<'PY' || fail "posterior samples or joint loss"
import h5py, json, numpy as np, sys
g = h5py.File(f"{sys.argv[1]}/gl.h5", "r")
for i in (0, 1):
    x = h5py.File(f"{sys.argv[1]}/post_{i}.h5", "r")["x"][()].reshape(600, 10)
    err = np.abs(x.mean(0) - g["obs/posterior_mean"][i]).max()
    sd = x.std(0).mean()
    print(f"observation {i}: posterior mean off by at most {err:.3f}, std {sd:.3f} (exact 0.224)")
    assert err < 0.1 and 0.17 < sd < 0.28, (err, sd)
# exact joint loss (the 2 pi term of theta left out): -log p(theta | x) - log p(x) - 5 log(2 pi)
exact = 0.5 * 10 * (np.log(2 * np.pi * np.e * 0.05) + np.log(2 * np.pi * np.e * 0.2)) - 5 * np.log(2 * np.pi)
loss = json.load(open(f"{sys.argv[1]}/eval.json"))["objective"]
print(f"held-out eval objective {loss:.3f}, exact joint {exact:.3f}")
assert abs(loss - exact) < 0.5, (loss, exact)
PY
ok

expect 2 "cond_hint needs a conditional flow" "$B" train --data "$T/gl.h5:/theta" --flow sequential \
  --spec "cond_hint" --out "$T/e1"
expect 2 "cannot follow a summary network" "$B" train --data "$T/gl.h5:/theta" --cond /x --flow sequential \
  --spec "summary(out=4), cond_hint" --out "$T/e2"
expect 2 "steps=0 is not an integer in 1..256" "$B" train --data "$T/gl.h5:/theta" --cond /x --flow sequential \
  --spec "cond_hint(steps=0)" --out "$T/e3"
/usr/bin/python3 -c "
import h5py, sys
g = h5py.File('$T/gl.h5', 'r')
with h5py.File('$T/y1.h5', 'w') as f:
    f['theta'] = g['theta'][()]
    f['y1'] = g['x'][:, :1]
    f['t1'] = g['theta'][:, :1]
" || fail "bad data"
expect 2 "condition needs 2.* values per sample, got 1" "$B" train --data "$T/y1.h5:/theta" --cond /y1 \
  --flow sequential --spec "cond_hint" --out "$T/e4"
expect 2 "x needs 2.* values per sample, got 1" "$B" train --data "$T/y1.h5:/t1" --cond /theta \
  --flow sequential --spec "cond_hint" --out "$T/e5"
finish
