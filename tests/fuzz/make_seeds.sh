#!/usr/bin/env bash
# Writes the seed corpora of the fuzz harnesses into tests/fuzz/corpus/<harness>/ (the
# committed seeds came from this script). argv[1] = a normal build directory (its nflow
# makes the model files). Needs /usr/bin/python3 with h5py and numpy (Debian python3-h5py).
set -euo pipefail
B="${1:?build dir}/nflow"
C="$(cd "$(dirname "$0")" && pwd)/corpus"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
mkdir -p "$C"/{spec,cli_args,segy,model,dataset}

# spec: the header's examples and a few more (first byte: channel count - 1)
i=0
for s in "realnvp(hidden=24x3,act=leakyrelu)*9" "prior=diagonal, (actnorm, linear(lu=1), spline(bins=8,bound=3,hidden=16x3))*3" \
         "maf(hidden=24x3)*4" "(batchnorm, realnvp, reverse)*4" "nice(hidden=8-4,act=tanh) permute iaf(parity=1)" \
         "hint(hidden=none);affine(scale=1,shift=0);leakyrelu(alpha=0.1)"; do
  printf '\001%s' "$s" >"$C/spec/seed$i"; i=$((i + 1))
done
# cli_args: argv words, one a line
printf -- '--batch\n64\n--lr=1e-3\n--schedule\ncosine\n--data\ntoy:banana\n--quiet\n' >"$C/cli_args/seed0"
printf -- '--steps\n1e12\n--\n--not-a-flag\npos1\n20,40,60\n' >"$C/cli_args/seed1"
printf -- '--bach\n3\n--lr\nnan\n--schedule=step\n-h\n' >"$C/cli_args/seed2"

# segy and dataset seeds (first byte: options)
/usr/bin/python3 - "$C" <<'PY'
import struct, sys, numpy as np, h5py, io
C = sys.argv[1]
def segy(fmt, sorting, nil=3, nxl=4, ns=24):
    b = io.BytesIO()
    b.write(b"\x40" * 3200)
    binh = bytearray(400)
    struct.pack_into(">hhh", binh, 16, 4000, 0, 0)
    struct.pack_into(">h", binh, 20, ns)
    struct.pack_into(">h", binh, 24, fmt)
    b.write(binh)
    for k in range(nil * nxl):
        i, j = (k % nil, k // nil) if sorting == 1 else (k // nxl, k % nxl)
        th = bytearray(240)
        if sorting:
            struct.pack_into(">i", th, 188, 100 + i)
            struct.pack_into(">i", th, 192, 200 + 3 * j)
        struct.pack_into(">h", th, 114, ns)
        b.write(th)
        v = [i * 1000 + j * 10 + t - 17 for t in range(ns)]
        b.write(struct.pack(">%dh" % ns, *v) if fmt == 3 else struct.pack(">%df" % ns, *v))
    return b.getvalue()
open(C + "/segy/ieee_inline", "wb").write(b"\x02" + segy(5, 2))
open(C + "/segy/ieee_crossline_cube", "wb").write(b"\x03" + segy(5, 1))
open(C + "/segy/int16_line", "wb").write(b"\x00" + segy(3, 0))
rng = np.random.default_rng(1)
def h5(name, opt, build):
    path = C + "/dataset/" + name
    with h5py.File(path + ".tmp", "w", libver=("earliest", "v110")) as f:
        build(f)
    open(path, "wb").write(bytes([opt]) + open(path + ".tmp", "rb").read())
    import os; os.remove(path + ".tmp")
h5("uint8_images", 0x11, lambda f: f.create_dataset("x", data=rng.integers(0, 256, (6, 1, 4, 4), dtype=np.uint8)))
h5("float_vectors_labels", 0x6a, lambda f: (f.create_dataset("x", data=rng.normal(size=(7, 2)).astype(np.float32)),
                                           f.create_dataset("y", data=np.arange(7, dtype=np.int32))))
def chunked(f):
    d = f.create_dataset("x", data=rng.normal(size=(8, 2, 4, 4)), chunks=(2, 2, 4, 4), compression="gzip", shuffle=True)
    d.attrs["nflow_layout"] = "NCHW"
h5("float64_gzip_chunked", 0x0c, chunked)
def nhwc(f):
    d = f.create_dataset("x", data=rng.integers(0, 65535, (5, 4, 4, 3), dtype=np.uint16))
    d.attrs["nflow_layout"] = "NHWC"
h5("uint16_nhwc", 0x05, nhwc)
PY

# model and checkpoint files of small flows, their stamps zeroed (read as plain HDF5)
train() { "$B" train --threads 1 --no-plots --no-gif --quiet --steps 2 --batch 20 --train-size 100 "$@" >/dev/null; }
train --data toy:banana --squeeze none --levels 1 --depth 1 --hidden 4 --out "$T/glow"
train --data toy:moons --flow sequential --spec "realnvp(hidden=4)*2, batchnorm, spline(bins=3,hidden=4)" --out "$T/seq"
"$B" data seismic --n 8 --size 4,4 --out "$T/seis.h5" >/dev/null
train --data "$T/seis.h5:/x" --levels 1 --depth 1 --hidden 2 --coupling additive --out "$T/img"
for r in glow seq img; do
  for f in model checkpoint; do
    /usr/bin/python3 -c "import sys; b = bytearray(open(sys.argv[1], 'rb').read()); b[:512] = bytes(512); open(sys.argv[2], 'wb').write(b)" \
      "$T/$r/$f.h5" "$C/model/${r}_$f"
  done
done
du -sh "$C"/*
