#!/usr/bin/env bash
# A dataset whose header claims enormous samples (an axis past 2^31, as a fuzzed file
# did: shape (8, 2, 140737488355332, 4)) is refused at open with exit 3 and one line;
# the axis used to wrap to a small int and the first read ran past the buffers.
# argv[1] = build directory.
source "$(dirname "$0")/cli_common.sh"
need_h5py
/usr/bin/python3 - "$T/huge.h5" <<'PY' || { echo "FAIL: h5py"; exit 1; }
import sys, h5py
with h5py.File(sys.argv[1], "w") as f:
    f.create_dataset("x", shape=(8, 2, 2**47 + 4, 4), dtype="f4", chunks=(1, 1, 1024, 4))
    f.create_dataset("y", shape=(8, 2, 2**20, 2**13), dtype="f4", chunks=(1, 1, 1024, 4))
PY
expect 3 "^nflow train: .*huge\.h5:/x.*too large" timeout 60 "$B" train --data "$T/huge.h5:/x" --steps 1 --out "$T/run"
expect 3 "^nflow train: .*huge\.h5:/y.*too large" timeout 60 "$B" train --data "$T/huge.h5:/y" --steps 1 --out "$T/run"
finish
