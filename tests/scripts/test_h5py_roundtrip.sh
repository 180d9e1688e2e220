#!/usr/bin/env bash
# h5py <-> nflow: files written by h5py the way users write them (every element type incl. float16,
# NCHW/NHWC/NCDHW/NDHWC/(N, C), contiguous or chunked+gzip+shuffle, both byte orders)
# are read by nflow and checked value by value (tests/unit/test_h5_pyfiles.c), and the
# files nflow's converters write are checked from h5py against datasets/README.md,
# including seismic = reflectivity convolved (numpy) with the centred wavelet.
# argv[1] = build directory. Needs python3-h5py and python3-numpy (skips without them).
set -euo pipefail
build=${1:?usage: test_h5py_roundtrip.sh BUILD_DIR}
py=/usr/bin/python3
if ! "$py" -c 'import h5py, numpy' 2>/dev/null; then
  echo "SKIPPED: /usr/bin/python3 cannot import h5py and numpy (install python3-h5py python3-numpy)"
  exit 0
fi
dir=$(mktemp -d /tmp/nflow_h5py_XXXXXX)
trap 'rm -rf "$dir"' EXIT

"$py" - "$dir" <<'PY'
import sys, numpy as np, h5py
d = sys.argv[1]
N = 37

def value(dtype, shape):
    """v[n, c, d, h, w] = n*31 + c*17 + d*7 + h*5 + w*3 (uint8: mod 256; int16: -300; floats: *0.25 - 100)."""
    idx = np.indices(shape)
    weights = {2: [31, 17], 4: [31, 17, 5, 3], 5: [31, 17, 7, 5, 3]}[len(shape)]
    v = sum(w * i for w, i in zip(weights, idx)).astype(np.float64)
    if dtype == 'uint8': v %= 256
    if dtype == 'int16': v -= 300
    if dtype.startswith('float'): v = v * 0.25 - 100
    return v

for name, dt in [('uint8', 'u1'), ('uint16', 'u2'), ('int16', 'i2'), ('float16', 'f2'), ('float32', 'f4'), ('float64', 'f8'),
                 ('be_uint16', '>u2'), ('be_float32', '>f4')]:
    base = name[3:] if name.startswith('be_') else name
    with h5py.File(f'{d}/{name}.h5', 'w') as f:
        nchw = value(base, (N, 3, 5, 4)).astype(dt)
        ncdhw = value(base, (N, 2, 3, 4, 5)).astype(dt)
        f.create_dataset('nchw_contig', data=nchw)
        f.create_dataset('nchw_gzip', data=nchw, chunks=(8, 3, 5, 4), compression='gzip', shuffle=True)
        f['train/x'] = nchw
        f.create_dataset('nhwc_contig', data=nchw.transpose(0, 2, 3, 1))
        f['nhwc_contig'].attrs['nflow_layout'] = 'NHWC'                 # variable-length str
        f.create_dataset('nhwc_gzip', data=nchw.transpose(0, 2, 3, 1), chunks=True, compression='gzip')
        f['nhwc_gzip'].attrs['nflow_layout'] = np.bytes_('NHWC')       # fixed-length bytes
        f.create_dataset('ncdhw_gzip', data=ncdhw, chunks=(5, 2, 3, 4, 5), compression='gzip', shuffle=True)
        f.create_dataset('ndhwc_contig', data=ncdhw.transpose(0, 2, 3, 4, 1))
        f['ndhwc_contig'].attrs['nflow_layout'] = 'NDHWC'
        f.create_dataset('nc_gzip', data=value(base, (N, 6)).astype(dt), chunks=(4, 6), compression='gzip')
        f['labels'] = np.arange(N)                                      # int64, as numpy makes them
with h5py.File(f'{d}/odd.h5', 'w') as f:
    f['bad_layout'] = np.zeros((4, 3, 2, 2), 'f4')
    f['bad_layout'].attrs['nflow_layout'] = 'NDHWC'
    f['bools'] = np.zeros((4, 1, 2, 2), bool)
    f['strings'] = np.array([b'ab', b'cd', b'ef', b'gh'])
PY

NFLOW_H5PY_DIR="$dir" "$build/unit_test_h5_pyfiles"

"$py" - "$dir" <<'PY'
import sys, numpy as np, h5py
d = sys.argv[1]
with h5py.File(f'{d}/out_toy.h5', 'r') as f:
    x = f['x']
    assert x.shape == (1000, 2, 1, 1) and x.dtype == np.float32, (x.shape, x.dtype)
    assert x.attrs['density'] == 'moons' and int(x.attrs['seed']) == 5
    v = x[:].reshape(1000, 2).astype(np.float64)
    assert np.allclose(x.attrs['nflow_mean'], v.mean(0), atol=1e-6), (x.attrs['nflow_mean'], v.mean(0))
    assert np.allclose(x.attrs['nflow_std'], v.std(0), rtol=1e-5)
    assert abs(v[:500, 1].mean() - 2 / np.pi) < 0.02 and abs(v[500:, 1].mean() + 2 / np.pi) < 0.02  # the two arcs
for name, shape in [('out_seis.h5', (8, 1, 64, 64)), ('out_cube.h5', (8, 1, 16, 8, 12))]:
    with h5py.File(f'{d}/{name}', 'r') as f:
        x, r, w, th = f['x'][:], f['reflectivity'][:], f['wavelet'][:], f['throw'][:]
        assert x.shape == shape and r.shape == shape and x.dtype == np.float32, (x.shape, r.shape)
        assert th.shape == (8,) and w.ndim == 1 and w.size % 2 == 1
        assert f.attrs['axes'].startswith('(sample, channel, time')
        traces_x = np.moveaxis(x, 2, -1).reshape(-1, shape[2])          # (traces, time)
        traces_r = np.moveaxis(r, 2, -1).reshape(-1, shape[2])
        h = w.size // 2                                                 # centred: full[h : h + nt]
        conv = np.array([np.convolve(t, w)[h:h + shape[2]] for t in traces_r.astype(np.float64)])
        err = np.abs(conv - traces_x).max()
        assert err < 1e-5, f'{name}: seismic != reflectivity * wavelet (max error {err})'
        assert np.allclose(f['x'].attrs['nflow_mean'], x.astype(np.float64).mean(), atol=1e-7)
        assert np.allclose(f['x'].attrs['nflow_std'], x.astype(np.float64).std(), rtol=1e-4)
print('h5py round trip: OK')
PY
