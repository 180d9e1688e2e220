#!/usr/bin/env bash
# nflow train --dump DIR and --val-every N, what the PyTorch peer of the time-to-quality
# benchmark (tools/torch/glow_fm.py, tools/bench/time_to_quality.py) trains and
# evaluates on:
#  * DIR/batches.f32 holds every step's batch as the flow saw it: each sample is a
#    training image dequantised, (v + u) / 256 - 0.5 with u in [0, 1), in the run's order;
#  * DIR/val.f32 holds the validation samples in file order, dequantised the same way;
#  * DIR/init.h5 is the model before its first step: ActNorm not initialised yet, the
#    rest equal to a run's own model file of the same seed where training has not moved
#    it (the frozen permutation and signs of the 1x1 convolutions);
#  * the dump changes nothing of the run (the losses equal a run without it);
#  * --val-every validates after every N steps (and at the end, once); metrics.csv's
#    eval_s counts the validation seconds that time_s includes;
#  * --dump on --resume or with --cond, and --val-every without validation data, are
#    refused with one line and exit 2.
# argv[1] = build directory. Needs /usr/bin/python3 with h5py and numpy (skips without).
source "$(dirname "$0")/cli_common.sh"
need_h5py
FM=/usr/share/datasets/fashion-mnist
[ -d "$FM" ] || { echo "FAIL: $FM is missing (Debian package dataset-fashion-mnist; tools/setup.sh installs it)"; exit 1; }
"$B" data fashion-mnist --out "$T/fm.h5" >/dev/null || { echo "FAIL: converting Fashion-MNIST"; exit 1; }
common=(--data "$T/fm.h5:/train/x" --val "$T/fm.h5:/test/x" --val-size 40 --levels 2 --depth 2 --hidden 8
        --batch 16 --lr 1e-3 --steps 12 --threads 2 --no-plots --no-gif --quiet)

"$B" train "${common[@]}" --val-every 5 --dump "$T/dump" --out "$T/run" >"$T/run.log" 2>"$T/run.err" \
  || fail "the --dump run: exit $?: $(tail -2 "$T/run.err")"
grep -q "^dump: 12 batches (0.6 MiB)" "$T/run.log" || fail "no dump summary: $(grep dump "$T/run.log")"
"$B" train "${common[@]}" --out "$T/plain" >/dev/null 2>&1 || fail "the run without --dump"

/usr/bin/python3 - "$T" <<'PY' || fail "the dump or the metrics"
import csv, json, sys
import h5py, numpy as np
T = sys.argv[1]
d = f"{T}/dump"
meta = json.load(open(f"{d}/dump.json"))
assert meta["sample_shape"] == [1, 1, 28, 28] and meta["batch"] == 16 and meta["steps"] == 12, meta
assert meta["val_samples"] == 40 and meta["dtype"] == "float32", meta
assert abs(meta["nll_offset"] - 784 * 8 * np.log(2)) < 1e-9, meta["nll_offset"]
with h5py.File(f"{T}/fm.h5", "r") as f:
    train, test = f["train/x"][()].astype(np.float64), f["test/x"][()].astype(np.float64)

def levels(x):
    """The stored image of each dequantised sample, checked to be one and the noise in [0, 1)."""
    v = (x.astype(np.float64) + 0.5) * 256 - 0.5  # = image + u - 0.5
    img = np.rint(v) + 0.0  # no -0.0: the images are compared byte by byte
    assert np.all(np.abs(v - img) <= 0.5 + 1e-3), "noise outside [0, 1)"
    return img

b = np.fromfile(f"{d}/batches.f32", dtype=np.float32).reshape(12 * 16, 1, 28, 28)
img = levels(b)
index = {train[i].tobytes(): i for i in range(len(train))}
found = [index.get(img[k].tobytes()) for k in range(len(img))]
assert all(i is not None for i in found), f"{sum(i is None for i in found)} dumped samples are no training image"
assert len(set(found)) == len(found), "a sample repeats within the first epoch"
assert found[:16] != list(range(16)), "the batches are not shuffled"
v = np.fromfile(f"{d}/val.f32", dtype=np.float32).reshape(40, 1, 28, 28)
assert np.array_equal(levels(v), test[:40]), "val.f32 is not the first 40 test images in order"
assert np.std((v.astype(np.float64) + 0.5) * 256 - test[:40]) > 0.2, "no dequantisation noise in val.f32"

with h5py.File(f"{d}/init.h5", "r") as f, h5py.File(f"{T}/run/model.h5", "r") as g:
    kinds = [f["layers"][n].attrs["type"] for n in sorted(f["layers"])]
    for n in sorted(f["layers"]):
        a, t = f["layers"][n], g["layers"][n]
        if a.attrs["type"] in (b"actnorm", "actnorm"):
            assert a.attrs["initialized"] == 0 and t.attrs["initialized"] == 1, n
        for k in ("perm", "sign"):
            if k in a:
                assert np.array_equal(a[k][()], t[k][()]), f"{n}/{k}"
    assert len(kinds) == 2 * (1 + 3 * 2), kinds

rows = list(csv.DictReader(open(f"{T}/run/metrics.csv")))
plain = [r for r in csv.DictReader(open(f"{T}/plain/metrics.csv")) if r["loss"]]
steps = [r for r in rows if r["loss"]]
vals = [r for r in rows if r["val_loss"]]
assert [r["loss"] for r in steps] == [r["loss"] for r in plain], "--dump changed the run"
assert [int(r["step"]) for r in vals] == [5, 10, 12], [r["step"] for r in vals]
ev = [float(r["eval_s"]) for r in steps]
assert all(a <= b for a, b in zip(ev, ev[1:])) and ev[0] == 0, ev
assert all(float(r["eval_s"]) <= float(r["time_s"]) for r in steps)
after = {int(r["step"]): float(r["eval_s"]) for r in steps}
for r in vals:  # each validation's seconds show in the next step row
    s = int(r["step"])
    assert float(r["eval_s"]) > (after[s] if s in after else 0), r
    if s + 1 in after:
        assert after[s + 1] == float(r["eval_s"]), (s, after[s + 1], r["eval_s"])
print(f"dump and metrics ok: {len(found)} training samples, 40 held-out samples, {len(vals)} validations, "
      f"{float(vals[-1]['eval_s']):.3f} s of evaluation")
PY

expect 2 "--dump .* not with --resume" "$B" train --resume "$T/run/checkpoint.h5" --dump "$T/d2"
expect 2 "--val-every 5 needs validation data" "$B" train --data "$T/fm.h5:/train/x" --val none --val-every 5 \
  --levels 2 --depth 1 --hidden 4 --steps 2 --no-plots --no-gif --quiet --out "$T/noval"
finish
