#!/usr/bin/env bash
# nflow data images from the command line: a folder of 1200 noisy 128x128 PNG pictures in
# four class folders (about 60 MB, as big decoded) plus two broken files converts in
# memory that does not grow with the folder (max RSS measured by /usr/bin/time against
# a 12-picture folder), with the expected shape, labels and a count of the skipped
# files; the result trains. The pixel-exact checks are in tests/unit/test_images.c.
# argv[1] = build directory. Needs python3-numpy and /usr/bin/time (skips without them).
source "$(dirname "$0")/cli_common.sh"
need_h5py
[ -x /usr/bin/time ] || { echo "SKIPPED: needs /usr/bin/time"; exit 0; }
py=/usr/bin/python3
"$py" - "$T" <<'PY'
import os, sys, struct, zlib, numpy as np
d = sys.argv[1]
def png(path, a):                     # (h, w, 3) uint8 RGB or (h, w) >u2 gray; no filter, no gAMA
    h, w = a.shape[:2]
    raw = b''.join(b'\x00' + a[y].tobytes() for y in range(h))
    depth, colour = (16, 0) if a.dtype == np.dtype('>u2') else (8, 2)
    chunk = lambda t, b: struct.pack('>I', len(b)) + t + b + struct.pack('>I', zlib.crc32(t + b) & 0xffffffff)
    with open(path, 'wb') as f:
        f.write(b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', w, h, depth, colour, 0, 0, 0))
                + chunk(b'IDAT', zlib.compress(raw, 1)) + chunk(b'IEND', b''))
rng = np.random.default_rng(2)
for name, n in [('big', 300), ('small', 3)]:
    for k in range(4):
        os.makedirs(f'{d}/{name}/class{k}')
        for i in range(n):
            png(f'{d}/{name}/class{k}/{i:04d}.png', rng.integers(0, 256, (128, 128, 3), dtype=np.uint8))
os.makedirs(f'{d}/deep')                                              # 16-bit gray: v * 257 -> v
png(f'{d}/deep/g16.png', (np.arange(64).reshape(8, 8) * 4 * 257).astype('>u2'))
open(f'{d}/big/class1/broken.png', 'wb').write(open(f'{d}/big/class1/0000.png', 'rb').read()[:5000])
open(f'{d}/big/class2/fake.jpg', 'w').write('this is not a picture\n')
PY
# sanitizer builds: freed memory waits in ASan's quarantine (256 MiB) unless it is off, and
# the shadow memory makes the baseline larger than half the folder
limit=$(( $(du -sk "$T/big" | cut -f1) / 2 ))
if ldd "$B" 2>/dev/null | grep -q libasan; then
  export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=0"
  limit=$((limit * 4))
fi
rss() { # max RSS in KiB of: nflow data images --dir $1 --out $2
  /usr/bin/time -v "$B" data images --dir "$1" --size 64,64 --out "$2" >"$T/conv.out" 2>"$T/conv.err" || return 1
  awk -F: '/Maximum resident set size/ {gsub(/ /, "", $2); print $2}' "$T/conv.err"
}
small=$(rss "$T/small" "$T/small.h5") || fail "small folder: $(cat "$T/conv.err")"
big=$(rss "$T/big" "$T/big.h5") || fail "big folder: $(cat "$T/conv.err")"
folder=$(du -sk "$T/big" | cut -f1)
echo "max RSS: ${small} KiB for 12 pictures, ${big} KiB for 1200 pictures (folder ${folder} KiB)"
[ "$big" -lt $((small + 8192)) ] && [ "$big" -lt "$limit" ] ||
  fail "memory grows with the folder: ${small} KiB -> ${big} KiB for a ${folder} KiB folder"
grep -q "^wrote $T/big.h5: 1200 pictures of 3x64x64 (C x H x W), 4 classes$" "$T/conv.out" || fail "summary: $(cat "$T/conv.out")"
grep -v "^	\|Command being timed\|^ \|^$" "$T/conv.err" >"$T/skips" || true
grep -q "^nflow data: skipped $T/big/class1/broken.png: corrupt or truncated PNG" "$T/skips" &&
  grep -q "^nflow data: skipped $T/big/class2/fake.jpg: not a PNG or JPEG file" "$T/skips" &&
  grep -q "^nflow data: skipped 2 bad picture files (listed above), ignored 0 other files" "$T/skips" ||
  fail "skipped files: $(cat "$T/skips")"
"$py" - "$T/big.h5" <<'PY' || fail "big.h5 content"
import sys, numpy as np, h5py
with h5py.File(sys.argv[1], 'r') as f:
    x, y = f['x'], f['y'][:]
    assert x.shape == (1200, 3, 64, 64) and x.dtype == np.uint8, x.shape
    assert list(np.bincount(y)) == [300] * 4 and np.all(np.diff(y) >= 0)
    assert [s.decode() for s in f['class_names'][:]] == ['class0', 'class1', 'class2', 'class3']
    assert f['names'][5].decode() == 'class0/0005.png'
    v = x[:50].astype(np.float64)                                     # downscaled noise: mean kept, spread shrunk
    assert abs(v.mean() - 127.5) < 3 and 10 < v.std() < 60, (v.mean(), v.std())
PY
[ -e "$T/big.h5.partial" ] && fail "a .partial file was left"
"$B" data images --dir "$T/deep" --gray --out "$T/deep.h5" >/dev/null 2>"$T/err" || fail "16-bit PNG: $(cat "$T/err")"
"$py" -c "import h5py, numpy as np, sys; x = h5py.File(sys.argv[1])['x'][:]; \
assert x.shape == (1, 1, 8, 8) and np.array_equal(x.ravel(), np.arange(64) * 4), x.ravel()" "$T/deep.h5" ||
  fail "a 16-bit PNG is not its values scaled to 8 bits"
"$B" train --data "$T/big.h5:/x" --levels 2 --depth 1 --hidden 8 --batch 16 --steps 3 --val none --threads 1 \
  --no-plots --no-gif --quiet --out "$T/run" >/dev/null 2>"$T/train.err" || fail "training on big.h5: $(cat "$T/train.err")"
"$B" data images --dir "$T/nowhere" --out "$T/x.h5" 2>"$T/err"; rc=$?
[ $rc -eq 3 ] && grep -q "^nflow data: .*cannot open folder .*nowhere" "$T/err" || fail "missing folder: exit $rc, $(cat "$T/err")"
"$B" data images --dir "$T/small" --size 64 --out "$T/x.h5" 2>"$T/err"; rc=$?
[ $rc -eq 2 ] && grep -q -- "--size: expected H,W" "$T/err" || fail "--size 64: exit $rc, $(cat "$T/err")"
ok
finish
