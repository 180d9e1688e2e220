#!/usr/bin/env bash
# A data file whose unfiltered chunks record other sizes than their shape gives (found by
# fuzz_dataset: one chunk of 511 bytes where 512 are read) is refused at open with exit 3
# and one line; HDF5 1.10.8 read past the chunk's buffer (CVE-2025-44904). The file is the
# fuzz seed tests/fuzz/corpus/dataset/regress_chunk_size without its first (options) byte.
# argv[1] = build directory.
source "$(dirname "$0")/cli_common.sh"
tail -c +2 "${NFLOW_SOURCE_DIR:-$(dirname "$0")/../..}/tests/fuzz/corpus/dataset/regress_chunk_size" >"$T/chunks.h5"
expect 3 "^nflow train: .*chunks\.h5:/x: its 4 unfiltered chunks of 512 bytes take 2059 bytes in the file \(corrupted file\)" \
  "$B" train --data "$T/chunks.h5:/x" --steps 1 --out "$T/run"
finish
