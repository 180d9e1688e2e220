#!/usr/bin/env bash
# The pictures and the HDF5 outputs of the nflow command: every PNG decodes (checked with
# zlib, not just its signature), has the expected size and is neither blank nor a smear;
# training.gif is a looping GIF89a with the expected frame count; sample/encode/decode
# files are what h5py expects, and decode(encode(x)) = x.
# argv[1] = build directory.
source "$(dirname "$0")/cli_common.sh"

# ---- a 2-D run: curves, scatter, trajectories, warp, 20 GIF frames
"$B" train --data toy:banana --squeeze none --levels 1 --depth 6 --hidden 16 --batch 150 --lr 9e-4 --steps 200 \
    --gif-every 10 --threads 1 --log-every 100 --out "$T/b" >"$T/b.log" 2>&1 || { cat "$T/b.log"; fail "2-D training"; }
for f in training_curves.png samples.png trajectories.png warp.png training.gif; do
  grep -q "^  $T/b/$f$" "$T/b.log" || fail "the run did not list $f"
done
png "$T/b/training_curves.png" 800 720 || fail "training_curves.png"
png "$T/b/samples.png" 640 560 || fail "samples.png"
png "$T/b/trajectories.png" 560 640 || fail "trajectories.png"
png "$T/b/warp.png" 1200 640 || fail "warp.png"
gif "$T/b/training.gif" 20 || fail "training.gif"
ok

# ---- nflow plot on the same run
"$B" plot curves --metrics "$T/b/metrics.csv" --best 1.0 --out "$T/c.png" >/dev/null && png "$T/c.png" || fail "plot curves"
"$B" plot scatter --model "$T/b/model.h5" --data toy:banana --out "$T/s.png" >/dev/null && png "$T/s.png" || fail "plot scatter"
"$B" plot trajectories --model "$T/b/model.h5" --n 50 --out "$T/t.png" >/dev/null && png "$T/t.png" || fail "plot trajectories"
"$B" plot warp --model "$T/b/model.h5" --n 500 --out "$T/w.png" >/dev/null && png "$T/w.png" || fail "plot warp"
"$B" plot warp --model "$T/b/model.h5" --out "$T/nodir/w.png" >/dev/null 2>"$T/err"; rc=$?
[ $rc -eq 1 ] && grep -q "^nflow plot: cannot write $T/nodir/w.png" "$T/err" || fail "unwritable PNG: exit $rc $(cat "$T/err")"
ok

# ---- the warp panels end where sampling ends: the last panel is f^-1(z) (same limits as samples)
"$B" sample --model "$T/b/model.h5" --n 2000 --seed 4 --out "$T/bs.h5" >/dev/null || fail "sample 2-D"
/usr/bin/python3 - "$T/bs.h5" <<'EOF' || fail "2-D samples"
import h5py, numpy as np, sys
x = h5py.File(sys.argv[1], "r")["x"]
assert x.shape == (2000, 2, 1, 1) and x.dtype == np.float32 and x.attrs["units"] == "model"
v = x[()].reshape(2000, 2)
# the banana: x1 ~ N(0, 1), x2 = a2 + 4 (a1^2 + 1) has mean 8
assert abs(v[:, 0].mean()) < 0.25 and 6.5 < v[:, 1].mean() < 11, v.mean(0)
EOF
ok

# ---- encode / decode round trip on HDF5 data, in the data's units
"$B" data toy banana --n 3000 --seed 9 --out "$T/ban.h5" >/dev/null || fail "data toy"
"$B" encode --model "$T/b/model.h5" --data "$T/ban.h5:/x" --out "$T/z.h5" >/dev/null || fail "encode"
"$B" decode --model "$T/b/model.h5" --latents "$T/z.h5:/z" --data "$T/ban.h5:/x" --out "$T/x.h5:/back/x" >/dev/null ||
    fail "decode"
/usr/bin/python3 - "$T/ban.h5" "$T/z.h5" "$T/x.h5" <<'EOF' || fail "encode/decode round trip"
import h5py, numpy as np, sys
x = h5py.File(sys.argv[1], "r")["x"][()]
z = h5py.File(sys.argv[2], "r")
back = h5py.File(sys.argv[3], "r")["back/x"]
assert z["z"].shape == (3000, 2) and z["z_logdet"].shape == (3000,) and z["z_logdet"].dtype == np.float64
assert back.shape == x.shape and back.attrs["units"] == "data"
err = np.abs(back[()] - x).max() / np.abs(x).max()
assert err < 1e-4, f"decode(encode(x)) differs from x by {err:.2e} (relative)"
EOF
ok

# ---- a sequential model (nf_sequential_from_spec): the same pictures, eval in evaluation mode
"$B" train --flow sequential --spec "(batchnorm, realnvp(hidden=16x2))*3" --data toy:moons --batch 128 --steps 150 \
    --gif-every 50 --threads 1 --quiet --out "$T/q" >"$T/q.log" 2>&1 || { cat "$T/q.log"; fail "sequential training"; }
png "$T/q/warp.png" 1200 640 || fail "sequential warp.png"
gif "$T/q/training.gif" 3 || fail "sequential training.gif"
grep -q "^nflow train: sequential model prior=standard, batchnorm" "$T/q.log" || fail "sequential banner"
"$B" eval --model "$T/q/model.h5" --data toy:moons --n 2000 --json >"$T/q.json" &&
    /usr/bin/python3 -c "import json, sys; j = json.load(open(sys.argv[1])); sys.exit(0 if j['objective'] < 1.0 else 1)" \
    "$T/q.json" || fail "sequential eval: $(cat "$T/q.json")"
ok

# ---- an image run: synthetic seismic 16x16, multiscale Glow; sample grid and frames
"$B" data seismic --n 600 --size 16,16 --seed 2 --out "$T/seis.h5" >/dev/null || fail "data seismic"
"$B" train --data "$T/seis.h5:/x" --levels 1 --depth 2 --hidden 8 --batch 16 --steps 30 --gif-every 10 \
    --threads 1 --quiet --out "$T/i" >"$T/i.log" 2>&1 || { cat "$T/i.log"; fail "image training"; }
PNG_KIND=image png "$T/i/samples.png" || fail "image samples.png"
gif "$T/i/training.gif" 3 || fail "image training.gif"
"$B" sample --model "$T/i/model.h5" --n 16 --temperature 0.7 --out "$T/is.h5" --png "$T/ig.png" >/dev/null &&
    PNG_KIND=image png "$T/ig.png" || fail "sample --png grid"
"$B" plot grid --data "$T/seis.h5:/x" --n 25 --out "$T/real.png" >/dev/null && PNG_KIND=image png "$T/real.png" || fail "plot grid --data"
/usr/bin/python3 -c "import h5py, sys; x = h5py.File(sys.argv[1], 'r')['x']; assert x.shape == (16, 1, 16, 16), x.shape" \
    "$T/is.h5" || fail "image samples shape"
"$B" plot warp --model "$T/i/model.h5" --out "$T/w2.png" >/dev/null 2>"$T/err"; rc=$?
[ $rc -eq 3 ] && grep -q "needs a model of 2-D points" "$T/err" || fail "warp on an image model: exit $rc $(cat "$T/err")"
ok

finish
