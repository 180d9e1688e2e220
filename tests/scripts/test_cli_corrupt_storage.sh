#!/usr/bin/env bash
# A data file whose recorded storage size disagrees with its shape is refused at open with
# exit 3 and one line; HDF5 1.10.8 allocates the recorded size and copies the shape's size
# out of it, reading past its buffer (CVE-2025-44904). Two cases: unfiltered chunks, one of
# 511 bytes where 512 are read (found by fuzz_dataset: the seed
# tests/fuzz/corpus/dataset/regress_chunk_size without its first, options, byte), and
# compact data whose layout message records 64 of its 96 bytes (patched after h5py). And
# chunks longer than a fixed axis (HDF5 refuses to create them; a fuzzed file claimed
# chunks of (2, 2, 4, 590077) for a (8, 2, 20, 4) dataset, and HDF5 allocated and filled
# 75 MB for every read: seed regress_chunk_shape), and a gzip chunk recording 4 GB in an
# 11 KB file (HDF5 allocated the 4 GB before reading: seed regress_chunk_stored).
# argv[1] = build directory.
source "$(dirname "$0")/cli_common.sh"
need_h5py
SEEDS="${NFLOW_SOURCE_DIR:-$(dirname "$0")/../..}/tests/fuzz/corpus/dataset"
tail -c +2 "$SEEDS/regress_chunk_size" >"$T/chunks.h5"
expect 3 "^nflow train: .*chunks\.h5:/x: its 4 unfiltered chunks of 512 bytes take 2059 bytes in the file \(corrupted file\)" \
  "$B" train --data "$T/chunks.h5:/x" --steps 1 --out "$T/run"

/usr/bin/python3 - "$T/compact.h5" <<'PY' || { echo "FAIL: h5py"; exit 1; }
import sys, h5py, numpy as np
x = np.arange(24, dtype="<f4").reshape(4, 6) + 100
with h5py.File(sys.argv[1], "w") as f:
    dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
    dcpl.set_layout(h5py.h5d.COMPACT)
    h5py.h5d.create(f.id, b"x", h5py.h5t.IEEE_F32LE, h5py.h5s.create_simple((4, 6)), dcpl).write(
        h5py.h5s.ALL, h5py.h5s.ALL, x)
b = bytearray(open(sys.argv[1], "rb").read())
# layout message version 3, class 0 (compact), size 96, then the data
at = b.find(bytes([3, 0]) + (96).to_bytes(2, "little") + x.tobytes()[:8])
assert at > 0 and b.find(bytes([3, 0]) + (96).to_bytes(2, "little"), at + 1) < 0
b[at + 2:at + 4] = (64).to_bytes(2, "little")
open(sys.argv[1], "wb").write(b)
PY
expect 3 "^nflow train: .*compact\.h5:/x: its 96 bytes of data take 64 bytes in the file \(corrupted file\)" \
  "$B" train --data "$T/compact.h5:/x" --steps 1 --out "$T/run"
tail -c +2 "$SEEDS/regress_chunk_shape" >"$T/shape.h5"
expect 3 "^nflow train: .*shape\.h5:/x: chunks of 590077 along axis 3, which holds at most 4 \(corrupted file\)" \
  "$B" train --data "$T/shape.h5:/x" --steps 1 --out "$T/run"
tail -c +2 "$SEEDS/regress_chunk_stored" >"$T/stored.h5"
expect 3 "^nflow train: .*stored\.h5:/x: its data take 4278191113 bytes in a file of 11291 \(corrupted file\)" \
  "$B" train --data "$T/stored.h5:/x" --steps 1 --out "$T/run"
finish
