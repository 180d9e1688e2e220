#!/usr/bin/env bash
# datasets/MODEL_FORMAT.md is enough to rebuild every layer of a sequential model: a
# numpy implementation written from the document alone (model_format_layers.py) maps
# data to latents with the parameters read from the file, and must agree with
# `nflow encode` (z and logdet). Two models cover every kind, both coupling parities,
# the diagonal prior, spline tails and a HINT tree of more than one level; three conditional
# models cover the conditional couplings, with and without a summary network, and
# conditional HINT (a tree of more than one level over x's 6 values); two more, the
# convolutional conditional HINT on images (a channel tree of two levels over x's 5
# channels, behind an actnorm) and on volumes.
# argv[1] = build directory.
source "$(dirname "$0")/cli_common.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
DOC="${NFLOW_SOURCE_DIR:-$HERE/../..}/datasets/MODEL_FORMAT.md"

/usr/bin/python3 - "$T" <<'PY' || { echo "FAIL: data"; exit 1; }
import h5py, numpy as np, sys
r = np.random.default_rng(0)
for D in (6, 11):
    a = r.normal(size=(3000, 3))
    cols = [a, 0.5 * a[:, :2] ** 2 + 0.3 * r.normal(size=(3000, 2))]
    cols += [np.sin(a[:, :1] * (k + 1)) + 0.2 * r.normal(size=(3000, 1)) for k in range(D - 5)]
    h5py.File(f"{sys.argv[1]}/d{D}.h5", "w")["x"] = np.concatenate(cols, 1).astype(np.float32)
with h5py.File(f"{sys.argv[1]}/c6.h5", "w") as f:  # x | y: a shift and a scale set by y
    y = r.normal(size=(3000, 3))
    f["y"] = y.astype(np.float32)
    f["x"] = (y[:, [0, 1, 2, 0, 1, 2]] + np.exp(0.3 * y[:, [2, 0, 1, 1, 2, 0]]) * r.normal(size=(3000, 6))).astype(np.float32)
for name, xs, ys, layout in (("ci", (5, 4, 4), (2, 4, 4), "NCHW"), ("cv", (2, 2, 4, 3), (3, 2, 4, 3), "NCDHW")):
    with h5py.File(f"{sys.argv[1]}/{name}.h5", "w") as f:  # x | y: y's first channel shifts x, its last scales it
        y = r.normal(size=(1000,) + ys)
        x = y[:, :1] + np.exp(0.3 * y[:, -1:]) * r.normal(size=(1000,) + xs) + 1.5
        f["x"], f["y"] = x.astype(np.float32), y.astype(np.float32)
        f["x"].attrs["nflow_layout"] = f["y"].attrs["nflow_layout"] = layout
PY

ALL="prior=diagonal, actnorm, realnvp(hidden=8x2,act=tanh,clamp=2), realnvp(hidden=8,act=relu), nice(hidden=8-4),
nice(hidden=none,act=identity), maf(hidden=8x2), maf(hidden=8,act=tanh), iaf(hidden=8), iaf(hidden=8x2,act=leakyrelu),
spline(bins=4,bound=2,hidden=8x2), spline(bins=5,bound=3,hidden=8), hint(hidden=8), affine, affine(scale=0),
affine(shift=0), linear, linear(lu=1), leakyrelu(alpha=0.3), reverse, permute, batchnorm(momentum=0.5,eps=1e-3)"
ODD="hint(hidden=6x2,act=tanh), spline(bins=3,bound=1,hidden=8), maf(hidden=12), linear(lu=1), iaf(hidden=12), batchnorm"
for run in "6:${ALL//$'\n'/ }" "11:$ODD"; do
  D=${run%%:*} SPEC=${run#*:}
  "$B" train --data "$T/d$D.h5:/x" --normalize none --flow sequential --spec "$SPEC" --steps 100 --batch 64 --lr 1e-2 \
    --threads 1 --no-plots --no-gif --quiet --out "$T/r$D" >"$T/train$D.log" 2>&1 ||
    { cat "$T/train$D.log"; fail "training the D=$D model"; continue; }
  "$B" encode --model "$T/r$D/model.h5" --data "$T/d$D.h5:/x" --limit 500 --out "$T/z$D.h5" >/dev/null ||
    { fail "encode D=$D"; continue; }
  /usr/bin/python3 "$HERE/model_format_layers.py" "$T/r$D/model.h5" "$T/d$D.h5" "$T/z$D.h5" "$DOC" ||
    fail "the D=$D model rebuilt from MODEL_FORMAT.md disagrees with nflow encode"
  ok
done
# conditional layers, with and without the summary network (encode --cond gives z)
COND1="summary(hidden=8x2,act=tanh,out=4), cond_realnvp(hidden=8x2,clamp=2), cond_spline(bins=4,bound=3,hidden=8), reverse,
cond_realnvp(hidden=8,act=relu), cond_spline(bins=5,bound=2,hidden=8x2,act=tanh)"
COND2="actnorm, cond_spline(bins=4,bound=3,hidden=8x2)*2, linear(lu=1), cond_realnvp(hidden=8x2)*2"
COND3="actnorm, cond_hint(hidden=8x2,act=tanh,steps=2), reverse, cond_hint(hidden=8,steps=1)"
COND4="ci:actnorm, cond_hint_conv(hidden=4,steps=2)"
COND5="cv:cond_hint_conv(hidden=3,steps=1)"
k=0
for SPEC in "c6:${COND1//$'\n'/ }" "c6:$COND2" "c6:$COND3" "$COND4" "$COND5"; do
  k=$((k + 1))
  F=${SPEC%%:*} SPEC=${SPEC#*:}
  "$B" train --data "$T/$F.h5:/x" --cond /y --normalize none --flow sequential --spec "$SPEC" --steps 100 --batch 64 \
    --lr 1e-2 --threads 1 --no-plots --no-gif --quiet --out "$T/rc$k" >"$T/trainc$k.log" 2>&1 ||
    { cat "$T/trainc$k.log"; fail "training conditional model $k"; continue; }
  "$B" encode --model "$T/rc$k/model.h5" --data "$T/$F.h5:/x" --cond /y --limit 500 --out "$T/zc$k.h5" >/dev/null ||
    { fail "encode conditional model $k"; continue; }
  /usr/bin/python3 "$HERE/model_format_layers.py" "$T/rc$k/model.h5" "$T/$F.h5" "$T/zc$k.h5" "$DOC" "$T/$F.h5" ||
    fail "conditional model $k rebuilt from MODEL_FORMAT.md disagrees with nflow encode"
  ok
done
finish
