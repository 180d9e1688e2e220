#!/usr/bin/env bash
# nflow data npy: NumPy arrays of every supported element type, both byte orders and
# .npy format versions 1 and 2 convert to HDF5 datasets equal to the array (checked from
# h5py), with labels and the layout attribute; Fortran order, unsupported types, truncated
# and non-.npy files are refused with one line and exit 3; the converted NHWC file trains.
# argv[1] = build directory. Needs python3-h5py and python3-numpy (skips without them).
source "$(dirname "$0")/cli_common.sh"
need_h5py
py=/usr/bin/python3
"$py" - "$T" <<'PY'
import sys, numpy as np
from numpy.lib import format as npf
d = sys.argv[1]
rng = np.random.default_rng(5)
arrays = {
    'f4_nhwc': rng.standard_normal((70, 16, 16, 3)).astype('<f4'),
    'be_u2': rng.integers(0, 4096, (70, 1, 8, 8)).astype('>u2'),
    'f2': rng.standard_normal((70, 2, 4, 4)).astype('<f2'),
    'be_f8': rng.standard_normal((70, 5)).astype('>f8'),
    'u1_gray': rng.integers(0, 256, (70, 12, 10)).astype('u1'),
    'i1': rng.integers(-128, 128, (70, 3)).astype('i1'),
    'i2_vol': rng.integers(-3000, 3000, (70, 2, 3, 4, 5)).astype('<i2'),
    'labels_i8': rng.integers(0, 10, 70).astype('<i8'),
    'labels_bool': rng.integers(0, 2, 70).astype(bool),
    'be_i4': rng.integers(-10**6, 10**6, (70, 2)).astype('>i4'),
    'u8': rng.integers(0, 2**40, (70,)).astype('<u8'),
}
for k, a in arrays.items():
    np.save(f'{d}/{k}.npy', a)
with open(f'{d}/v2.npy', 'wb') as f:                                  # format version 2
    npf.write_array(f, arrays['f4_nhwc'][:, :, :, 0], version=(2, 0))
np.save(f'{d}/fortran.npy', np.asfortranarray(arrays['f4_nhwc'][:, :, :, 0]))
np.save(f'{d}/complex.npy', np.zeros((4, 2), np.complex64))
np.save(f'{d}/short_labels.npy', np.arange(69))
raw = open(f'{d}/f4_nhwc.npy', 'rb').read()
open(f'{d}/truncated.npy', 'wb').write(raw[:len(raw) // 2])
open(f'{d}/text.npy', 'w').write('not an array\n')
PY
conv() { "$B" data npy --input "$T/$1.npy" --out "$T/$1.h5" "${@:2}" >"$T/conv.out" 2>"$T/conv.err"; }
for k in f4_nhwc be_u2 f2 be_f8 u1_gray i1 i2_vol labels_i8 labels_bool be_i4 u8 v2; do
  conv "$k" || fail "$k: exit $?: $(cat "$T/conv.err")"
done
conv u1_gray --labels "$T/labels_i8.npy" --layout nchw && [ ! -e "$T/u1_gray.h5.partial" ] ||
  fail "u1_gray with labels: $(cat "$T/conv.err")"
conv be_u2 --layout nhwc 2>/dev/null || fail "be_u2 --layout nhwc: $(cat "$T/conv.err")"
"$py" - "$T" <<'PY' || fail "the HDF5 files differ from the arrays"
import sys, numpy as np, h5py
d = sys.argv[1]
def check(name, src, path='x'):
    a = np.load(f'{d}/{src}.npy')
    with h5py.File(f'{d}/{name}.h5', 'r') as f:
        x = f[path]
        want = a.dtype.newbyteorder('<') if a.dtype != bool else np.dtype('u1')
        assert x.dtype == want, (name, x.dtype, want)
        assert x.shape == a.shape and np.array_equal(x[:], a.astype(want)), name
        return dict(x.attrs)
for k in ['f4_nhwc', 'f2', 'be_f8', 'i1', 'i2_vol', 'labels_i8', 'labels_bool', 'be_i4', 'u8']:
    assert 'nflow_layout' not in check(k, k), k
assert check('u1_gray', 'u1_gray')['nflow_layout'] == 'NHW'
check('u1_gray', 'labels_i8', 'y')
assert check('be_u2', 'be_u2')['nflow_layout'] == 'NHWC'
a = np.load(f'{d}/f4_nhwc.npy')[:, :, :, 0]
with h5py.File(f'{d}/v2.h5', 'r') as f:
    assert np.array_equal(f['x'][:], a)
PY
ok

bad() {
  local name=$1 pat=$2; shift 2
  "$B" data npy --input "$T/$name.npy" --out "$T/bad.h5" "$@" >/dev/null 2>"$T/bad.err"; local rc=$?
  [ $rc -eq 3 ] && [ "$(wc -l <"$T/bad.err")" -eq 1 ] && grep -q "$pat" "$T/bad.err" ||
    fail "$name: exit $rc, '$(cat "$T/bad.err")', expected exit 3 and /$pat/"
  [ -e "$T/bad.h5" ] || [ -e "$T/bad.h5.partial" ] && fail "$name left an output file"
  ok
}
bad fortran "Fortran order; save it in C order"
bad complex "element type '<c8' is not supported"
bad truncated "is truncated: the shape needs"
bad text "not a NumPy .npy file"
bad f2 "short_labels.npy has 69 samples but .*f2.npy has 70" --labels "$T/short_labels.npy"
bad u1_gray "rank 3; layout ndhw means" --layout ndhw
"$B" data npy --out "$T/bad.h5" 2>"$T/bad.err"; [ $? -eq 2 ] && grep -q "npy needs --input" "$T/bad.err" || fail "no --input"

# the converted files train: the NHWC float array (guessed, said once) and the grayscale bytes
"$B" train --data "$T/f4_nhwc.h5:/x" --normalize compute --levels 2 --depth 1 --hidden 8 --batch 16 --steps 3 \
  --val none --threads 1 --no-plots --no-gif --quiet --out "$T/run" >/dev/null 2>"$T/train.err" &&
  grep -q "note: .*(70, 16, 16, 3) read as NHWC" "$T/train.err" || fail "training on f4_nhwc.h5: $(cat "$T/train.err")"
"$B" train --data "$T/u1_gray.h5:/x" --levels 1 --depth 1 --hidden 8 --batch 16 --steps 3 \
  --val none --threads 1 --no-plots --no-gif --quiet --out "$T/run2" >/dev/null 2>"$T/train2.err" ||
  fail "training on u1_gray.h5: $(cat "$T/train2.err")"
ok
finish
