#!/usr/bin/env bash
# Data as users write it with h5py, through the nflow command: channels-last uint8 images
# without an attribute (guessed, said in one note line), (N, H, W) grayscale, float16,
# channels-last with the attribute, an ambiguous shape (refused, naming --layout and the
# attribute, until --layout says), and (N, D, H, W) volumes (read and trained by the 3-D
# Glow). Every image layout trains; an NHWC file and its NCHW twin give the
# same losses step for step and the same evaluation.
# argv[1] = build directory. Needs python3-h5py and python3-numpy (skips without them).
source "$(dirname "$0")/cli_common.sh"
need_h5py
py=/usr/bin/python3
"$py" - "$T" <<'PY'
import sys, numpy as np, h5py
d = sys.argv[1]
rng = np.random.default_rng(3)
img = rng.integers(0, 256, (96, 3, 16, 16)).astype(np.uint8)       # (N, C, H, W)
with h5py.File(f'{d}/nchw.h5', 'w') as f:
    f.create_dataset('x', data=img, chunks=(16, 3, 16, 16), compression='gzip')
with h5py.File(f'{d}/nhwc.h5', 'w') as f:                           # how most Python code writes colour images
    f.create_dataset('x', data=img.transpose(0, 2, 3, 1), chunks=(16, 16, 16, 3), compression='gzip')
with h5py.File(f'{d}/other.h5', 'w') as f:
    f['gray'] = img[:, 0]                                             # (N, H, W), MNIST-like
    f['half'] = (img.astype(np.float32) / 255).astype(np.float16)     # float16 NCHW
    f['nhwc_attr'] = img.transpose(0, 2, 3, 1).astype(np.float32)
    f['nhwc_attr'].attrs['nflow_layout'] = 'NHWC'
    f['cube'] = rng.random((96, 4, 4, 4), dtype=np.float32)           # channels first or last?
    f['volume'] = rng.random((96, 4, 8, 8), dtype=np.float32)         # (N, D, H, W)
PY
TRAIN=(--levels 2 --depth 1 --hidden 8 --batch 16 --steps 4 --val none --threads 1 --no-plots --no-gif --quiet)

# trains; $2 = expected note ('' for none)
trains() {
  local name=$1 note=$2; shift 2
  "$B" train "${TRAIN[@]}" --out "$T/run_$name" "$@" >"$T/$name.log" 2>"$T/$name.err"
  local rc=$?
  [ $rc -eq 0 ] || { fail "$name: train exited $rc: $(cat "$T/$name.err")"; return; }
  if [ -n "$note" ]; then
    [ "$(wc -l <"$T/$name.err")" -eq 1 ] && grep -q "^nflow train: note: .*$note" "$T/$name.err" ||
      fail "$name: expected one note line with '$note', got: $(cat "$T/$name.err")"
  else
    [ -s "$T/$name.err" ] && fail "$name: unexpected stderr: $(cat "$T/$name.err")"
  fi
  ok
}
trains nchw '' --data "$T/nchw.h5:/x"
trains nhwc 'nhwc.h5:/x (96, 16, 16, 3) read as NHWC (channels last), guessed from the shape; --layout nchw' --data "$T/nhwc.h5:/x"
trains gray 'other.h5:/gray (96, 16, 16) read as NHW: one channel, (N, 1, 16, 16)' --data "$T/other.h5:/gray"
trains half '' --data "$T/other.h5:/half" --normalize compute
trains nhwc_attr '' --data "$T/other.h5:/nhwc_attr" --normalize compute
trains cube_told "" --data "$T/other.h5:/cube" --layout nhwc

# the NHWC file and its NCHW twin: the same batches, hence the same losses, step for step
"$py" - "$T/run_nchw/metrics.csv" "$T/run_nhwc/metrics.csv" <<'PY' || fail "NHWC and NCHW runs differ"
import csv, sys
a, b = ([r["loss"] for r in csv.DictReader(open(p)) if r["loss"]] for p in sys.argv[1:])
assert len(a) == 4 and a == b, (a, b)
PY
ev() { "$B" eval --model "$T/run_nhwc/model.h5" --data "$1" --json --threads 1 2>/dev/null; }
[ "$(ev "$T/nhwc.h5:/x")" = "$(ev "$T/nchw.h5:/x")" ] && [ -n "$(ev "$T/nchw.h5:/x")" ] ||
  fail "eval differs between the NHWC file and its twin: $(ev "$T/nhwc.h5:/x") vs $(ev "$T/nchw.h5:/x")"
ok

# the ambiguous cube: exit 3, one line naming --layout and the attribute
"$B" train "${TRAIN[@]}" --data "$T/other.h5:/cube" --out "$T/run_cube" >/dev/null 2>"$T/cube.err"; rc=$?
[ $rc -eq 3 ] || fail "ambiguous shape: exit $rc, expected 3"
[ "$(wc -l <"$T/cube.err")" -eq 1 ] && grep -q "^nflow train: .*(96, 4, 4, 4).*--layout nchw|nhwc.*nflow_layout attribute" "$T/cube.err" ||
  fail "ambiguous shape message: $(cat "$T/cube.err")"
"$B" eval --model "$T/run_nchw/model.h5" --data "$T/other.h5:/cube" >/dev/null 2>"$T/cube_eval.err"; rc=$?
[ $rc -eq 3 ] && grep -q -- "--layout" "$T/cube_eval.err" || fail "eval on the ambiguous shape: exit $rc, $(cat "$T/cube_eval.err")"
ok

# (N, D, H, W): read as a one-channel volume with --layout ndhw and trained by the 3-D Glow
"$B" train "${TRAIN[@]}" --data "$T/other.h5:/volume" --layout ndhw --out "$T/run_vol" >/dev/null 2>"$T/vol.err"; rc=$?
[ $rc -eq 0 ] && [ -s "$T/run_vol/model.h5" ] || fail "volume: exit $rc, $(cat "$T/vol.err")"
# three levels cannot squeeze a depth of 4
"$B" train --levels 3 "${TRAIN[@]:2}" --data "$T/other.h5:/volume" --layout ndhw --out "$T/run_vol3" >/dev/null 2>"$T/vol3.err"; rc=$?
[ $rc -eq 3 ] && [ "$(wc -l <"$T/vol3.err")" -eq 1 ] && grep -q "other.h5:/volume: glow: volumes of depth 4 .*divisible by 2^L = 8" "$T/vol3.err" ||
  fail "volume, 3 levels: exit $rc, $(cat "$T/vol3.err")"
"$B" train "${TRAIN[@]}" --data "$T/other.h5:/gray" --layout ndhw --out "$T/run_bad" >/dev/null 2>"$T/ndhw.err"; rc=$?
[ $rc -eq 3 ] && grep -q "rank 3; layout ndhw means (N, D, H, W)" "$T/ndhw.err" || fail "ndhw on rank 3: exit $rc, $(cat "$T/ndhw.err")"
"$B" train "${TRAIN[@]}" --data "$T/nchw.h5:/x" --layout chw --out "$T/run_bad" >/dev/null 2>"$T/bad.err"; rc=$?
[ $rc -eq 2 ] && grep -q -- "--layout" "$T/bad.err" || fail "--layout chw: exit $rc, $(cat "$T/bad.err")"
ok
finish
