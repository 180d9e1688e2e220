#!/usr/bin/env bash
# Convolutional conditional HINT end to end on a linear-Gaussian image pair (x ~ N(0, I)
# on 3x4x4 images (channels split 1 | 2), y = x + 0.5 noise, so p(x | y) = N(0.8 y, 0.2 I)): train --cond with a
# cond_hint_conv layer -> sample --cond --index (posterior mean near 0.8 y, spread near
# the exact sqrt(0.2), PNG pictures) -> eval --cond; an interrupted run resumed exactly; a
# volume pair trained and sampled; and the one-line refusals: one-channel x or y, y of
# another spatial size, a summary network before it, no condition. argv[1] = build directory.
source "$(dirname "$0")/cli_common.sh"
need_h5py

/usr/bin/python3 - "$T" <<'PY' || { echo "FAIL: making the pairs"; exit 1; }
import h5py, numpy as np, sys
r = np.random.default_rng(0)
x = r.standard_normal((8192, 3, 4, 4)).astype(np.float32)
y = (x + 0.5 * r.standard_normal(x.shape)).astype(np.float32)
xv = r.standard_normal((32, 2, 2, 4, 4)).astype(np.float32)
with h5py.File(f"{sys.argv[1]}/p.h5", "w") as f:
    f["x"], f["y"], f["x1"], f["y1"], f["ysmall"] = x, y, x[:, :1], y[:, :1], y[:, :, :2, :2]
    f["xv"], f["yv"] = xv, (xv + 0.5 * r.standard_normal(xv.shape)).astype(np.float32)
    f["xv"].attrs["nflow_layout"] = f["yv"].attrs["nflow_layout"] = "NCDHW"
PY
SPEC="actnorm, cond_hint_conv(hidden=16,steps=3)"
ARGS=(--data "$T/p.h5:/x" --cond /y --flow sequential --spec "$SPEC" --batch 64 --lr 5e-3 --seed 3 --threads 2
      --no-plots --no-gif --quiet)
"$B" train "${ARGS[@]}" --steps 1000 --schedule cosine --lr-min 1e-4 --out "$T/run" >"$T/train.log" 2>&1 || { cat "$T/train.log"; fail "train"; }
"$B" sample --model "$T/run/model.h5" --cond "$T/p.h5:/y" --index 3 --n 1000 --seed 1 --out "$T/post.h5" \
  --png "$T/post.png" >"$T/sample.log" || fail "sample --cond --index"
/usr/bin/python3 - "$T" <<'PY' || fail "posterior samples"
import h5py, numpy as np, sys
f, g = h5py.File(f"{sys.argv[1]}/post.h5", "r"), h5py.File(f"{sys.argv[1]}/p.h5", "r")
x = f["x"][()]
assert x.shape == (1000, 3, 4, 4) and np.isfinite(x).all(), x.shape
assert np.array_equal(f["cond"][()][0], g["y"][3]), "cond"
err = x.mean(0) - 0.8 * g["y"][3]
rms, sd = np.sqrt((err ** 2).mean()), x.std(0).mean()
print(f"posterior given y[3]: mean off by {rms:.3f} rms (max {np.abs(err).max():.3f}), std {sd:.3f} (exact 0.447); "
      f"ignoring y would be off by {np.sqrt(((0.8 * g['y'][3]) ** 2).mean()):.3f}")
assert rms < 0.12 and 0.38 < sd < 0.52, (rms, sd)
PY
for p in post post_mean post_std; do PNG_KIND=image png "$T/$p.png" >/dev/null || fail "$p.png"; done
"$B" eval --model "$T/run/model.h5" --data "$T/p.h5:/x" --cond /y --json >"$T/eval.json" || fail "eval --cond"
/usr/bin/python3 -c "import json, math, sys; v = json.load(open(sys.argv[1])); assert math.isfinite(v['objective'])" \
  "$T/eval.json" || fail "eval --cond output"

# exact resume: two processes of 20 steps against one run of 40
"$B" train "${ARGS[@]}" --steps 40 --out "$T/whole" >/dev/null 2>&1 || fail "uninterrupted run"
"$B" train "${ARGS[@]}" --steps 40 --stop-after 20 --out "$T/part" >/dev/null 2>&1 || fail "first part"
"$B" train --resume "$T/part/checkpoint.h5" --quiet >"$T/resume.log" 2>&1 || { cat "$T/resume.log"; fail "resume"; }
same_params "$T/whole/model.h5" "$T/part/model.h5" >/dev/null || fail "the resumed run differs from the uninterrupted one"

# volumes: 3x3x3 convs
"$B" train --data "$T/p.h5:/xv" --cond /yv --flow sequential --spec "cond_hint_conv(hidden=4,steps=2)" --batch 8 \
  --steps 6 --threads 2 --no-plots --no-gif --quiet --out "$T/vol" >"$T/vol.log" 2>&1 || { cat "$T/vol.log"; fail "train volumes"; }
"$B" sample --model "$T/vol/model.h5" --cond "$T/p.h5:/yv" --index 1 --n 8 --out "$T/postv.h5" >/dev/null ||
  fail "sample volumes"
/usr/bin/python3 -c "import h5py, sys; f = h5py.File(sys.argv[1]); assert f['x'].shape == (8, 2, 2, 4, 4)" \
  "$T/postv.h5" || fail "volume posterior shape"

E=(--flow sequential --steps 1 --no-plots --no-gif --quiet)
expect 2 "x needs at least 2 channels to split, got 1" "$B" train --data "$T/p.h5:/x1" --cond /y "${E[@]}" \
  --spec "cond_hint_conv" --out "$T/e1"
expect 2 "condition needs at least 2 channels to split, got 1" "$B" train --data "$T/p.h5:/x" --cond /y1 "${E[@]}" \
  --spec "cond_hint_conv" --out "$T/e2"
expect 2 "y needs x's spatial size" "$B" train --data "$T/p.h5:/x" --cond /ysmall "${E[@]}" \
  --spec "cond_hint_conv" --out "$T/e3"
expect 2 "cannot follow a summary network" "$B" train --data "$T/p.h5:/x" --cond /y "${E[@]}" \
  --spec "summary(out=4), cond_hint_conv" --out "$T/e4"
expect 2 "cond_hint_conv needs a conditional flow" "$B" train --data "$T/p.h5:/x" "${E[@]}" \
  --spec "cond_hint_conv" --out "$T/e5"
finish
