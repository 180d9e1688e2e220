#!/usr/bin/env bash
# nflow plot posterior on image posteriors (files shaped like nflow sample --cond's, made
# here so the picture is known): truth, condition, mean, std and samples side by side,
# in the documented order and grey scales; and its refusals. The vector picture of a
# trained model is in test_cli_cond.sh. argv[1] = build directory.
source "$(dirname "$0")/cli_common.sh"
need_h5py
/usr/bin/python3 - "$T" <<'PY' || { echo "FAIL: making the files"; exit 1; }
import h5py, numpy as np, sys
t = sys.argv[1]
rng = np.random.default_rng(1)
truth = np.tile(np.linspace(-1, 1, 16, dtype=np.float32), (16, 1))       # a left-right ramp
noise = np.where(np.arange(16) < 8, 0.02, 0.4).astype(np.float32)        # std small left, large right
x = truth + noise * rng.standard_normal((200, 1, 16, 16)).astype(np.float32)
with h5py.File(f"{t}/data.h5", "w") as f:
    f["x"] = np.stack([np.zeros((1, 16, 16), np.float32), truth[None], truth[None] * 0])
with h5py.File(f"{t}/post.h5", "w") as f:
    d = f.create_dataset("x", data=x)
    d.attrs["index"] = "1"
    f["mean"] = x.mean(0, keepdims=True)
    f["std"] = x.std(0, ddof=1, keepdims=True)
    f["cond"] = truth[None, None, ::-1, :].copy()                          # upside-down: its own panel
with h5py.File(f"{t}/novec.h5", "w") as f:
    f["x"] = np.zeros((10, 3), np.float32)
PY
"$B" plot posterior --samples "$T/post.h5" --truth "$T/data.h5:/x" --out "$T/row.png" >"$T/out" 2>&1 ||
  fail "plot posterior (images): $(cat "$T/out")"
grep -q "left to right: truth, condition y, posterior mean, standard deviation (0 to 0.4[0-9]*), 4 samples" "$T/out" ||
  fail "the panel order line: $(cat "$T/out")"
PNG_KIND=image png "$T/row.png" || fail "row.png"
/usr/bin/python3 - "$T/row.png" "$(dirname "$0")" <<'PY' || fail "the panels"
import sys
sys.path.insert(0, sys.argv[2])
from picture_files import read_png
W, H, rows = read_png(sys.argv[1])
k, w = 8, 16                                   # truth, y, mean, std, 4 samples; 16 pixels
scale = ((W - 2) // k - 2) // w
assert W == k * (w * scale + 2) + 2, (W, scale)
def grey(panel, i, j):                         # pixel (i, j) of a panel
    return rows[2 + i * scale][2 + panel * (w * scale + 2) + j * scale][0]
truth = [grey(0, 8, j) for j in range(w)]
mean = [grey(2, 8, j) for j in range(w)]
assert truth == sorted(truth) and truth[-1] - truth[0] > 150, truth           # the ramp, left dark
assert max(abs(a - b) for a, b in zip(truth[:8], mean[:8])) <= 12, (truth, mean)  # same scale, mean ~ truth
y_top, y_bottom = grey(1, 0, 8), grey(1, 15, 8)
assert abs(y_top - y_bottom) < 5 and abs(grey(1, 8, 0) - grey(1, 8, 15)) > 150  # y drawn as itself
std_left, std_right = grey(3, 8, 2), grey(3, 8, 13)
assert std_left < 40 and std_right > 180, (std_left, std_right)            # 0 black .. largest white
print("panels as documented; scale", scale)
PY
expect 3 "not a file of posterior samples" "$B" plot posterior --samples "$T/data.h5" --out "$T/e.png"
expect 3 "cannot open" "$B" plot posterior --samples "$T/missing.h5" --out "$T/e.png"
expect 2 "needs --samples" "$B" plot posterior --out "$T/e.png"
expect 2 "--exact-mean needs --exact-var" "$B" plot posterior --samples "$T/post.h5" --exact-mean "$T/data.h5:/x" \
  --out "$T/e.png"
expect 2 "--exact-mean is for vectors" "$B" plot posterior --samples "$T/post.h5" --exact-mean "$T/data.h5:/x" \
  --exact-var 1 --out "$T/e.png"
expect 3 "has 3 values a sample, the posterior samples 256" "$B" plot posterior --samples "$T/post.h5" \
  --truth "$T/novec.h5:/x" --out "$T/e.png"
finish
