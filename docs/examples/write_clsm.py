#!/usr/bin/env python3
"""write_clsm.py - writes a clseg .clsm model (docs/model-format.md) with the standard library only.

Usage: write_clsm.py SPEC.cfg OUT.clsm [--classes K] [--seed N] [--weights W.json] [--names a,b,..]

W.json maps tensor names ("enc1.weight", "enc1.bn.running_var", ...) to flat lists of numbers in
row-major order and PyTorch layouts. Tensors it leaves out get He-initialised random weights,
zero biases and identity BatchNorm. 12 classes get CamVid's names and colours by default.
"""
import argparse, json, math, random, struct, zlib

MAGIC = b"\x89CLSM\r\n\x1a"
CAMVID = [("Sky", (128, 128, 128)), ("Building", (128, 0, 0)), ("Pole", (192, 192, 128)),
          ("Road", (128, 64, 128)), ("Pavement", (60, 40, 222)), ("Tree", (128, 128, 0)),
          ("SignSymbol", (192, 128, 128)), ("Fence", (64, 64, 128)), ("Car", (64, 0, 128)),
          ("Pedestrian", (64, 64, 0)), ("Bicyclist", (0, 128, 192)), ("Unlabelled", (0, 0, 0))]
IMAGENET_MEAN, IMAGENET_STD = [0.485, 0.456, 0.406, 0.5], [0.229, 0.224, 0.225, 0.25]


def parse_spec(text):
    """Just enough of docs/network-spec.md to size the tensors; clseg validates the rest."""
    sections = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line.startswith("["):
            sections.append((line.strip("[] "), {}))
        elif line:
            key, value = line.split("=", 1)
            sections[-1][1][key.strip()] = value.strip()
    return sections[0][1], sections[1:]


def tensor_shapes(text, classes):
    """Returns input channels and [(name, dims, fan_in)] in the order clseg expects."""
    net, layers = parse_spec(text)
    in_channels = int(net.get("channels", "3"))
    channels, ordinal, prev, shapes = {"data": in_channels}, {}, "data", []
    for kind, keys in layers:
        ordinal[kind] = ordinal.get(kind, 0) + 1
        name = keys.get("name", "%s%d" % (kind, ordinal[kind]))
        inputs = [s.strip() for s in keys.get("inputs", keys.get("input", prev)).split(",")]
        cin = cout = channels[inputs[0]]
        if kind in ("conv", "deconv"):
            cout = classes if keys["filters"] == "classes" else int(keys["filters"])
            k = int(keys["size"])
            dims = [cout, cin, k, k] if kind == "conv" else [cin, cout, k, k]
            shapes.append((name + ".weight", dims, cin * k * k))
            if keys.get("bias", "1") == "1":
                shapes.append((name + ".bias", [cout], 0))
            if keys.get("batchnorm", "0") == "1":
                for part in ("weight", "bias", "running_mean", "running_var"):
                    shapes.append(("%s.bn.%s" % (name, part), [cout], 0))
        elif kind == "concat":
            cout = cin + channels[inputs[1]]
        channels[name], prev = cout, name
    return in_channels, shapes


def initial_values(name, dims, fan_in, rng):
    count = math.prod(dims)
    if name.endswith(".weight") and not name.endswith(".bn.weight"):
        std = math.sqrt(2.0 / fan_in)
        return [rng.gauss(0.0, std) for _ in range(count)]
    one = name.endswith(".bn.weight") or name.endswith(".bn.running_var")
    return [1.0 if one else 0.0] * count


def voc_color(i):
    """Pascal VOC colour map: distinct for every index below 256."""
    rgb = [0, 0, 0]
    for bit in range(7, -1, -1):
        for c in range(3):
            rgb[c] |= ((i >> c) & 1) << bit
        i >>= 3
    return tuple(rgb)


def section(out, tag, payload):
    out += tag + struct.pack("<Q", len(payload)) + payload


def write_clsm(path, spec_text, names, palette, mean, std, tensors):
    out = bytearray(MAGIC + struct.pack("<I", 1))
    section(out, b"SPEC", spec_text.encode())
    encoded = [n.encode() for n in names]
    section(out, b"CLAS", struct.pack("<I", len(names)) +
            b"".join(struct.pack("<I", len(n)) + n for n in encoded))
    section(out, b"PALT", struct.pack("<I", len(names)) + bytes(c for rgb in palette for c in rgb))
    section(out, b"NORM", struct.pack("<I%df" % (2 * len(mean)), len(mean), *mean, *std))
    # Tensor data starts at a multiple of 16 bytes from the start of the file, so the padding
    # depends on where the TENS payload lands: after its 12-byte section header.
    start = len(out) + 12
    tens = bytearray(struct.pack("<I", len(tensors)))
    for name, dims, values in tensors:
        tens += struct.pack("<I", len(name)) + name.encode()
        tens += struct.pack("<II%dI" % len(dims), 0, len(dims), *dims)
        tens += bytes(-(start + len(tens)) % 16)
        tens += struct.pack("<%df" % len(values), *values)
    section(out, b"TENS", bytes(tens))
    out += struct.pack("<I", zlib.crc32(out))
    with open(path, "wb") as f:
        f.write(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("spec")
    ap.add_argument("out")
    ap.add_argument("--classes", type=int, default=12)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--weights", help="JSON file: tensor name -> flat list of numbers")
    ap.add_argument("--names", help="comma-separated class names")
    args = ap.parse_args()
    with open(args.spec) as f:
        spec_text = f.read()
    channels, shapes = tensor_shapes(spec_text, args.classes)
    given = {}
    if args.weights:
        with open(args.weights) as f:
            given = json.load(f)
    rng = random.Random(args.seed)
    tensors = []
    for name, dims, fan_in in shapes:
        values = given.pop(name, None)
        if values is None:
            values = initial_values(name, dims, fan_in, rng)
        elif len(values) != math.prod(dims):
            raise SystemExit("%s: %d values, shape %s needs %d" %
                             (name, len(values), dims, math.prod(dims)))
        tensors.append((name, dims, [float(v) for v in values]))
    if given:
        raise SystemExit("the network has no tensor(s) %s" % ", ".join(sorted(given)))
    camvid = args.classes == len(CAMVID)
    names = args.names.split(",") if args.names else [n for n, _ in CAMVID] if camvid else \
        ["class%d" % i for i in range(args.classes)]
    if len(names) != args.classes:
        raise SystemExit("%d names for %d classes" % (len(names), args.classes))
    palette = [c for _, c in CAMVID] if camvid else [voc_color(i) for i in range(args.classes)]
    write_clsm(args.out, spec_text, names, palette, IMAGENET_MEAN[:channels],
               IMAGENET_STD[:channels], tensors)


if __name__ == "__main__":
    main()
