#!/usr/bin/env python3
"""make_seeds.py - regenerates the seed corpora of the fuzz targets (stdlib only).

usage: make_seeds.py CLSEG_BINARY   (run from anywhere; writes tests/fuzz/corpus/{model,spec,png,cache,tune})
Models come from `clseg init`; PNGs are crafted here to cover every colour type, bit depth and
interlacing; the cache entries use the fixed key of fuzz_cache.c; the tuning databases follow docs/tuning.md.
"""
import glob
import os
import shutil
import struct
import subprocess
import sys
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CORPUS = os.path.join(HERE, "corpus")


def out(kind, name, data):
    os.makedirs(os.path.join(CORPUS, kind), exist_ok=True)
    with open(os.path.join(CORPUS, kind, name), "wb") as f:
        f.write(data)


# ---- PNG ----------------------------------------------------------------------------------------
def chunk(tag, data):
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))


def pack_row(samples, depth):
    if depth == 8:
        return bytes(samples)
    if depth == 16:
        return b"".join(struct.pack(">H", s) for s in samples)
    bits, acc, n = [], 0, 0
    for s in samples:
        acc = (acc << depth) | s
        n += depth
        if n == 8:
            bits.append(acc)
            acc, n = 0, 0
    if n:
        bits.append(acc << (8 - n))
    return bytes(bits)


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def png(w, h, depth, color, pixels, interlace=0, extra=b""):
    """pixels[y][x] = tuple of channel samples."""
    raw = b""
    passes = ADAM7 if interlace else [(0, 0, 1, 1)]
    for x0, y0, dx, dy in passes:
        for y in range(y0, h, dy):
            row = [s for x in range(x0, w, dx) for s in pixels[y][x]]
            if row:
                raw += b"\x00" + pack_row(row, depth)
    ihdr = struct.pack(">IIBBBBB", w, h, depth, color, 0, 0, interlace)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + extra +
            chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def pngs():
    grid = lambda w, h, f: [[f(x, y) for x in range(w)] for y in range(h)]
    out("png", "rgb8_3x2.png", png(3, 2, 8, 2, grid(3, 2, lambda x, y: (x * 80, y * 120, 7))))
    out("png", "gray1_9x3.png", png(9, 3, 1, 0, grid(9, 3, lambda x, y: ((x + y) % 2,))))
    pal = chunk(b"PLTE", bytes([0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 0, 255])) + chunk(b"tRNS", b"\x00\x80")
    out("png", "pal4_trns_5x4.png", png(5, 4, 4, 3, grid(5, 4, lambda x, y: ((x + y) % 4,)), extra=pal))
    out("png", "rgba16_2x2.png", png(2, 2, 16, 6, grid(2, 2, lambda x, y: (65535, x * 999, y * 4242, 30000))))
    out("png", "graya8_adam7_9x7.png", png(9, 7, 8, 4, grid(9, 7, lambda x, y: (x * 20 + y, 255)), interlace=1))
    text = chunk(b"tEXt", b"Comment\x00fuzz seed") + chunk(b"gAMA", struct.pack(">I", 45455))
    out("png", "gray16_text_1x1.png", png(1, 1, 16, 0, [[(12345,)]], extra=text))


# ---- cache entries ------------------------------------------------------------------------------
KEY = (b"clseg-program-cache-1\nfuzz device\n1.0\nOpenCL 1.2 fuzz\n"
       b"-cl-std=CL1.2 -cl-mad-enable\n0123456789abcdef")


def cache_entry(key, binary):
    body = b"CLSEGPB1" + struct.pack("<I", len(key)) + key + struct.pack("<Q", len(binary)) + binary
    return body + struct.pack("<I", zlib.crc32(body))


def caches():
    out("cache", "fixed_key.clbin", cache_entry(KEY, b"\x7fELF fake device binary" * 4))
    out("cache", "other_key.clbin", cache_entry(b"clseg-program-cache-1\nother\n", b"\x01"))


# ---- tuning databases --------------------------------------------------------------------------
def tune_db(lines):
    body = "clseg-tuning-db 1\n# fuzz seed\n" + "".join(l + "\n" for l in lines)
    return (body + "end\t%d\t%08x\n" % (len(lines), zlib.crc32(body.encode()))).encode()


def tunes():
    op = ("op\tpthread-skylake\t3.1\tconv2d n=1 c=3 h=8 w=8 cout=4 k=3 stride=1 pad=1 relu=1"
          "\tconv2d_direct\tTILE_CO=4 TILE_X=2\t0.1234\t1.50")
    pool = "op\tllvmpipe\t22.3.6\tmaxpool n=1 c=4 h=8 w=8 k=2 stride=2 ceil=1 idx=1\tmaxpool2d\t-\t0.0100\t0.00"
    gemm = "clblast\tpthread-skylake\t3.1\tXgemm\tMWG=64 NWG=64 KWG=32 MDIMC=8 NDIMC=8\t2.0000"
    out("tune", "three.db", tune_db([op, pool, gemm]))
    out("tune", "empty.db", tune_db([]))


# ---- specs and models ---------------------------------------------------------------------------
def specs_and_models(clseg):
    cfgs = sorted(glob.glob(os.path.join(ROOT, "models", "*.cfg")))
    cfgs += [os.path.join(ROOT, "tests", "fixtures", "cli", "tiny.cfg"), os.path.join(HERE, "alltypes.cfg")]
    for cfg in cfgs:
        shutil.copy(cfg, os.path.join(CORPUS, "spec", os.path.basename(cfg)))
    for cfg, classes in [("tests/fixtures/cli/tiny.cfg", 3), ("tests/fuzz/alltypes.cfg", 2)]:
        name = os.path.splitext(os.path.basename(cfg))[0] + ".clsm"
        subprocess.run([clseg, "init", "--spec", os.path.join(ROOT, cfg), "--classes", str(classes),
                        "--out", os.path.join(CORPUS, "model", name)], check=True, stdout=subprocess.DEVNULL)


def main():
    for kind in ("model", "spec", "png", "cache", "tune"):
        os.makedirs(os.path.join(CORPUS, kind), exist_ok=True)
    pngs()
    caches()
    tunes()
    specs_and_models(sys.argv[1])


main()
