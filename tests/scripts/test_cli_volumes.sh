#!/usr/bin/env bash
# 3-D data through the nflow command: synthetic seismic cubes (nflow data seismic --cube)
# and SEG-Y cubes (nflow data segy --cube, from a survey this script writes) train a 3-D
# Glow directly; training, sample and plot draw volumes as panels of their middle slices
# (checked pixel by pixel on a volume of known values); impossible sizes, irregular
# surveys and pictures of volumes that are not 1- or 3-channel are refused with one line.
# argv[1] = build directory.
source "$(dirname "$0")/cli_common.sh"
need_h5py

# ---- synthetic cubes: the sizes that cannot be, then 48 cubes of 16^3
expect 2 "^nflow data: --size: expected 3 positive sizes, got '16,16'" "$B" data seismic --cube --n 4 --size 16,16 --out "$T/no.h5"
expect 2 "need n >= 1 and sizes >= 2" "$B" data seismic --cube --n 4 --size 16,16,1 --out "$T/no.h5"
expect 2 "is 5.37e\+08 values, too large" "$B" data seismic --cube --n 1 --size 1024,1024,512 --out "$T/no.h5"
[ -e "$T/no.h5" ] || [ -e "$T/no.h5.partial" ] && fail "a refused size left a file"
"$B" data seismic --cube --n 48 --size 16,16,16 --seed 3 --out "$T/cubes.h5" >/dev/null || fail "data seismic --cube"
/usr/bin/python3 - "$T/cubes.h5" <<'EOF' || fail "cube file"
import h5py, sys
f = h5py.File(sys.argv[1], "r")
assert f["x"].shape == (48, 1, 16, 16, 16) and f["reflectivity"].shape == f["x"].shape, f["x"].shape
assert f.attrs["axes"] == "(sample, channel, time, line, trace)" and "nflow_mean" in f["x"].attrs
EOF
ok

# ---- train a 3-D Glow on them: curves, training.gif (3 frames) and samples.png of 16 panels
"$B" train --data "$T/cubes.h5:/x" --levels 2 --depth 2 --hidden 8 --batch 8 --steps 12 --gif-every 4 --threads 1 \
    --quiet --out "$T/g" >"$T/g.log" 2>&1 || { cat "$T/g.log"; fail "3-D training"; }
grep -q "^nflow train: data $T/cubes.h5:/x: 46 samples of 1x16x16x16" "$T/g.log" || fail "banner: $(head -3 "$T/g.log")"
for f in training_curves.png training.gif samples.png; do grep -q "^  $T/g/$f$" "$T/g.log" || fail "no $f listed"; done
# 16 panels of 16 + 1 + 16 + 1 + 16 = 50 by 16 voxels, drawn 3x, in 4 columns with 2-pixel gutters
PNG_KIND=image png "$T/g/samples.png" 610 202 || fail "samples.png of volumes"
gif "$T/g/training.gif" 3 || fail "training.gif of volumes"
"$B" sample --model "$T/g/model.h5" --n 5 --data "$T/cubes.h5:/x" --out "$T/s.h5" --png "$T/s.png" >/dev/null &&
    PNG_KIND=image png "$T/s.png" 458 102 || fail "sample --png of volumes"
/usr/bin/python3 -c "import h5py, sys; x = h5py.File(sys.argv[1], 'r')['x']; assert x.shape == (5, 1, 16, 16, 16)" \
    "$T/s.h5" || fail "volume samples shape"
"$B" plot grid --model "$T/g/model.h5" --n 4 --out "$T/p.png" >/dev/null && PNG_KIND=image png "$T/p.png" 306 102 ||
    fail "plot grid --model of volumes"
ok

# ---- the panels hold the middle slices: a (2, 1, 4, 6, 8) volume of random 0/1 values,
# drawn black/white (the central 99 % of two values is 0..1); sections shorter than the
# panel are padded black
/usr/bin/python3 - "$T/bits.h5" <<'EOF' || fail "writing the test volume"
import h5py, numpy as np, sys
v = (np.random.default_rng(5).random((2, 1, 4, 6, 8)) < 0.5).astype(np.float32)
with h5py.File(sys.argv[1], "w") as f: f["x"] = v
EOF
"$B" plot grid --data "$T/bits.h5:/x" --out "$T/bits.png" >/dev/null || fail "plot grid --data volumes"
/usr/bin/python3 - "$T/bits.h5" "$T/bits.png" "$(dirname "$0")" <<'EOF' || fail "the slices drawn are not the middle ones"
import h5py, numpy as np, sys
sys.path.insert(0, sys.argv[3])
from picture_files import read_png
v = h5py.File(sys.argv[1], "r")["x"][()][:, 0]
w, h, rows = read_png(sys.argv[2])
D, H, W, scale, gutter = 4, 6, 8, 3, 2
PW, PH = W + 1 + H + 1 + W, max(D, H)
assert (w, h) == (2 * (PW * scale + gutter) + gutter, PH * scale + 2 * gutter), (w, h)
for k in range(2):
    panel = np.zeros((PH, PW))  # black: the gaps and the padding
    panel[:D, :W] = v[k, :, H // 2, :]              # section at the middle line, time down
    panel[:D, W + 1:W + 1 + H] = v[k, :, :, W // 2]  # section at the middle trace
    panel[:H, W + 1 + H + 1:] = v[k, D // 2]        # slice at the middle time
    ox = gutter + k * (PW * scale + gutter)
    for y in range(PH):
        for x in range(PW):
            got = rows[gutter + y * scale + 1][ox + x * scale + 1]
            assert got == (255,) * 3 if panel[y, x] else got == (0,) * 3, (k, y, x, got, panel[y, x])
EOF
ok

# ---- SEG-Y: a 10 x 12 post-stack survey of 32 samples (big-endian IEEE floats) cut into
# 8 x 4 x 4 cubes trains directly; the same survey with one trace missing is refused
/usr/bin/python3 - "$T/survey.sgy" "$T/gappy.sgy" <<'EOF' || fail "writing SEG-Y"
import numpy as np, struct, sys
def write(path, skip):
    ns, nil, nxl = 32, 10, 12
    rng = np.random.default_rng(1)
    with open(path, "wb") as f:
        f.write(b"\x40" * 3200)
        binh = bytearray(400)
        struct.pack_into(">h", binh, 16, 4000)  # sample interval (us), byte 3217
        struct.pack_into(">h", binh, 20, ns)  # samples, byte 3221
        struct.pack_into(">h", binh, 24, 5)  # IEEE float, byte 3225
        f.write(binh)
        for i in range(nil):
            for j in range(nxl):
                if (i, j) == skip: continue
                th = bytearray(240)
                struct.pack_into(">ii", th, 188, 100 + i, 300 + j)  # inline, crossline
                struct.pack_into(">h", th, 114, ns)
                f.write(th + np.sin(0.3 * np.arange(ns) + 0.1 * i - 0.2 * j + rng.normal(0, 0.1, ns)).astype(">f4").tobytes())
write(sys.argv[1], None)
write(sys.argv[2], (4, 5))
EOF
"$B" data segy --input "$T/survey.sgy" --cube --patch 8,4,4 --stride 8,2,2 --out "$T/sgy.h5" >"$T/sgy.log" 2>&1
if [ $? -ne 0 ] && grep -q "built without libsegyio" "$T/sgy.log"; then
  echo "SEG-Y part SKIPPED: nflow was built without libsegyio"
else
  /usr/bin/python3 -c "import h5py, sys; x = h5py.File(sys.argv[1], 'r')['x']; assert x.shape == (80, 1, 8, 4, 4), x.shape" \
      "$T/sgy.h5" || fail "data segy --cube: $(cat "$T/sgy.log")"
  "$B" train --data "$T/sgy.h5:/x" --levels 2 --depth 2 --hidden 8 --batch 8 --steps 6 --no-gif --threads 1 --quiet \
      --out "$T/sg" >"$T/sg.log" 2>&1 && grep -q "76 samples of 1x8x4x4" "$T/sg.log" ||
      { cat "$T/sg.log"; fail "training on SEG-Y cubes"; }
  expect 3 "has no regular post-stack inline/crossline geometry for 3-D cubes: 119 traces do not fill" \
      "$B" data segy --input "$T/gappy.sgy" --cube --patch 8,4,4 --out "$T/no.h5"
fi
ok

# ---- volumes of 2 channels have no picture: refused before anything is written
/usr/bin/python3 -c "
import h5py, numpy as np, sys
with h5py.File(sys.argv[1], 'w') as f: f['x'] = np.random.default_rng(2).normal(size=(16, 2, 4, 4, 4)).astype(np.float32)
" "$T/two.h5" || fail "writing a 2-channel volume"
"$B" train --data "$T/two.h5:/x" --levels 1 --depth 1 --hidden 4 --batch 8 --steps 1 --threads 1 --quiet --out "$T/two" \
    >/dev/null 2>&1 || fail "training on 2-channel volumes"
expect 2 "^nflow sample: --png: no picture for samples of 2x4x4x4" \
    "$B" sample --model "$T/two/model.h5" --n 4 --out "$T/two_s.h5" --png "$T/two.png"
[ -e "$T/two_s.h5" ] && fail "sample wrote its HDF5 file before refusing the picture"
expect 3 "grid needs a model of 1- or 3-channel images or volumes" "$B" plot grid --model "$T/two/model.h5" --out "$T/two.png"

finish
