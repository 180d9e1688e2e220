"""The picture files nflow writes, read with the standard library alone (no Pillow), for
the script tests (cli_common.sh's png and gif):

    python3 picture_files.py png FILE [WIDTH HEIGHT]
        decodes the 8-bit RGB/RGBA PNG (every chunk's CRC checked, the row filters undone)
        and checks its size and that it is a chart (0.3 %..70 % of the pixels not white;
        PNG_KIND=image: at least 16 distinct colours instead)
    python3 picture_files.py gif FILE FRAMES
        a looping GIF89a with FRAMES images
    from picture_files import read_png
        read_png(FILE) -> (width, height, rows), rows[y][x] = (r, g, b)
"""
import os
import struct
import sys
import zlib


def read_png(path):
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG signature"
    pos, idat, ihdr = 8, b"", None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        assert zlib.crc32(kind + body) == struct.unpack(">I", data[pos + 8 + n:pos + 12 + n])[0], "bad CRC"
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        if kind == b"IDAT":
            idat += body
        pos += 12 + n
    w, h, depth, ctype = ihdr[:4]
    assert depth == 8 and ctype in (2, 6), f"unexpected PNG type {depth} {ctype}"
    bpp = 3 if ctype == 2 else 4
    raw, stride = zlib.decompress(idat), w * bpp
    prev, rows = bytearray(stride), []
    for y in range(h):  # undo the PNG filters row by row
        f, row = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = row[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if f == 1:
                row[i] = (row[i] + a) & 255
            elif f == 2:
                row[i] = (row[i] + b) & 255
            elif f == 3:
                row[i] = (row[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                row[i] = (row[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append([tuple(row[x * bpp:x * bpp + 3]) for x in range(w)])
        prev = row
    return w, h, rows


def gif_frames(path):
    d = open(path, "rb").read()
    assert d[:6] == b"GIF89a", "not GIF89a"
    assert b"NETSCAPE2.0" in d[:100], "does not loop"
    assert d[-1] == 0x3B, "no trailer"
    pos, frames = 13, 0
    if d[10] & 0x80:
        pos += 3 * (2 << (d[10] & 7))
    while d[pos] != 0x3B:
        if d[pos] == 0x21:  # extension: skip its sub-blocks
            pos += 2
            while d[pos]:
                pos += d[pos] + 1
            pos += 1
        elif d[pos] == 0x2C:  # image: descriptor, local table, LZW sub-blocks
            flags = d[pos + 9]
            pos += 10
            if flags & 0x80:
                pos += 3 * (2 << (flags & 7))
            pos += 1
            while d[pos]:
                pos += d[pos] + 1
            pos += 1
            frames += 1
        else:
            raise AssertionError(f"bad block 0x{d[pos]:02x} at {pos}")
    return frames


def check_png(args):
    w, h, rows = read_png(args[0])
    if len(args) > 2:
        assert (w, h) == (int(args[1]), int(args[2])), f"size {w}x{h}"
    nonwhite = sum(1 for r in rows for p in r if min(p) < 200)
    colours = {p for r in rows for p in r[::3]}
    frac = nonwhite / (w * h)
    if os.environ.get("PNG_KIND") == "image":
        assert len(colours) >= 16, f"only {len(colours)} colours"
    else:
        assert 0.003 < frac < 0.7, f"{frac:.4f} of the pixels are not white"


if __name__ == "__main__":
    if sys.argv[1] == "png":
        check_png(sys.argv[2:])
    else:
        frames = gif_frames(sys.argv[2])
        assert frames == int(sys.argv[3]), f"{frames} frames, expected {sys.argv[3]}"
