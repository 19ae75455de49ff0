#!/usr/bin/env python3
"""Writes resources/icon.png: the tile's 128x128 icon (a terminal prompt ">_" on a dark square).

Standard library only (zlib + struct), so it runs anywhere python3 does:  python3 tile/make_icon.py
"""
import os
import struct
import zlib

SIZE = 128
BG = (0x1F, 0x2A, 0x36)
FG = (0x4C, 0xD9, 0x64)


def pixel(x, y):
    # A rounded frame, a ">" chevron and an underscore cursor.
    if x < 4 or y < 4 or x >= SIZE - 4 or y >= SIZE - 4:
        return (0xFF, 0xFF, 0xFF)
    cx, cy = x - 28, y - 40
    if 0 <= cx < 36 and 0 <= cy < 48 and abs(cx - (24 - abs(cy - 24))) < 6:
        return FG
    if 68 <= x < 100 and 80 <= y < 88:
        return FG
    return BG


def chunk(kind, data):
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def main():
    rows = b"".join(b"\x00" + bytes(c for x in range(SIZE) for c in pixel(x, y)) for y in range(SIZE))
    png = (b"\x89PNG\r\n\x1a\n"
           + chunk(b"IHDR", struct.pack(">IIBBBBB", SIZE, SIZE, 8, 2, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(rows, 9))
           + chunk(b"IEND", b""))
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "resources", "icon.png")
    with open(out, "wb") as f:
        f.write(png)
    print(f"wrote {out} ({len(png)} bytes)")


if __name__ == "__main__":
    main()
