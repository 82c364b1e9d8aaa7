#!/usr/bin/python3
# peers.py - a clseg network spec (models/*.cfg) rebuilt with random weights in the runtimes users
# would otherwise pick (PyTorch, OpenCV DNN, ONNX Runtime) and timed the way `clseg bench` times
# clseg: warm-up runs, then median / min / max wall clock of N forward passes.
#
#   peers.py export  --spec S --size WxH --classes K --onnx OUT.onnx [--npy-input IN.npy]
#   peers.py time    --runtime torch|opencv|onnxruntime --spec S --size WxH --classes K
#                    [--onnx M.onnx] [--iters N] [--warmup N] [--threads T] --json OUT.json
#                    [--save-output OUT.npy]
#   peers.py compare A.npy B.npy ...
#
# BatchNorm is left out: clseg folds it into the convolution at load time, so the inference
# graph of both is conv + bias (+ ReLU); the shapes and FLOPs are the spec's. Each runtime runs
# in its own process so that they can come from different Python environments (ONNX Runtime
# from a venv, OpenCV and PyTorch from Debian).
import argparse
import json
import math
import os
import platform
import statistics
import sys
import time


def parse_spec(path):
    """The [net] channels and the layers of a spec as dicts, in order (the subset used here)."""
    sections = []
    with open(path) as f:
        for raw in f:
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            if line.startswith("[") and line.endswith("]"):
                sections.append({"type": line[1:-1].strip()})
            elif "=" in line and sections:
                k, v = line.split("=", 1)
                sections[-1][k.strip()] = v.strip()
    if not sections or sections[0]["type"] != "net":
        sys.exit(f"{path}: no [net] section first")
    net, layers = sections[0], sections[1:]
    counts = {}
    for layer in layers:
        counts[layer["type"]] = counts.get(layer["type"], 0) + 1
        layer.setdefault("name", f"{layer['type']}{counts[layer['type']]}")
    return int(net.get("channels", 3)), layers


def layer_shapes(channels, layers, classes, h, w):
    """Output (c, h, w) of every layer and each layer's input indices (-1 = network input)."""
    names = {"data": -1}
    shapes, inputs = [], []
    for i, L in enumerate(layers):
        t = L["type"]
        if "inputs" in L:
            ins = [names[n.strip()] for n in L["inputs"].split(",")]
        else:
            ins = [names[L["input"]] if "input" in L else i - 1]
        ins_shape = [(channels, h, w) if j < 0 else shapes[j] for j in ins]
        c, ih, iw = ins_shape[0]
        if t in ("conv", "deconv"):
            f = L["filters"]
            co = classes if f == "classes" else int(f)
            k, s, p = int(L["size"]), int(L.get("stride", 1)), int(L.get("pad", 0))
            if t == "conv":
                oh, ow = (ih + 2 * p - k) // s + 1, (iw + 2 * p - k) // s + 1
            else:
                ref = L.get("output_size")
                if ref is None:
                    op = [int(x) for x in L.get("output_padding", "0").split(",")]
                    oph, opw = op[0], op[-1]
                    oh = (ih - 1) * s - 2 * p + k + oph
                    ow = (iw - 1) * s - 2 * p + k + opw
                else:
                    j = names[ref]
                    _, oh, ow = (channels, h, w) if j < 0 else shapes[j]
            shapes.append((co, oh, ow))
        elif t in ("maxpool", "avgpool"):
            k = int(L["size"])
            s = int(L.get("stride", k))
            rnd = math.ceil if int(L.get("ceil", 1)) else math.floor
            oh = int(rnd((ih - k) / s)) + 1
            ow = int(rnd((iw - k) / s)) + 1
            # PyTorch's rule: the last window must start inside the input
            if (oh - 1) * s >= ih:
                oh -= 1
            if (ow - 1) * s >= iw:
                ow -= 1
            shapes.append((c, oh, ow))
        elif t == "upsample":
            f = int(L["factor"])
            shapes.append((c, ih * f, iw * f))
        elif t == "concat":
            shapes.append((ins_shape[0][0] + ins_shape[1][0], ih, iw))
        elif t == "add":
            shapes.append(ins_shape[0])
        else:
            sys.exit(f"peers.py: [{t}] layers are not supported here")
        names[L["name"]] = i
        inputs.append(ins)
    return shapes, inputs


def flops(channels, layers, classes, h, w):
    shapes, inputs = layer_shapes(channels, layers, classes, h, w)
    total = 0.0
    for i, L in enumerate(layers):
        j = inputs[i][0]
        ci, ih, iw = (channels, h, w) if j < 0 else shapes[j]
        co, oh, ow = shapes[i]
        k = int(L.get("size", 0))
        if L["type"] == "conv":
            total += 2.0 * co * oh * ow * ci * k * k
        elif L["type"] == "deconv":
            total += 2.0 * ci * ih * iw * co * k * k
    return total


def build_torch(channels, layers, classes, h, w, seed=1, batchnorm=False):
    import torch
    import torch.nn as nn

    torch.manual_seed(seed)
    shapes, inputs = layer_shapes(channels, layers, classes, h, w)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.ops = nn.ModuleList()
            self.relu = []
            for i, L in enumerate(layers):
                j = inputs[i][0]
                ci, ih, iw = (channels, h, w) if j < 0 else shapes[j]
                co, oh, ow = shapes[i]
                t = L["type"]
                relu = L.get("activation", "linear") == "relu"
                k = int(L.get("size", 1))
                s = int(L.get("stride", k if t.endswith("pool") else 1))
                p = int(L.get("pad", 0))
                if t == "conv":
                    m = nn.Conv2d(ci, co, k, s, p)
                    nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                    if batchnorm and int(L.get("batchnorm", 0)):
                        bn = nn.BatchNorm2d(co)  # eval mode: random running statistics
                        bn.running_mean.uniform_(-0.5, 0.5)
                        bn.running_var.uniform_(0.5, 2.0)
                        bn.weight.data.uniform_(0.5, 1.5)
                        bn.bias.data.uniform_(-0.5, 0.5)
                        m = nn.Sequential(m, bn)
                elif t == "deconv":
                    oph = oh - ((ih - 1) * s - 2 * p + k)
                    opw = ow - ((iw - 1) * s - 2 * p + k)
                    m = nn.ConvTranspose2d(ci, co, k, s, p, output_padding=(oph, opw))
                    nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                elif t == "maxpool":
                    m = nn.MaxPool2d(k, s, ceil_mode=bool(int(L.get("ceil", 1))))
                elif t == "avgpool":
                    m = nn.AvgPool2d(k, s, ceil_mode=bool(int(L.get("ceil", 1))))
                elif t == "upsample":
                    mode = L.get("mode", "nearest")
                    m = nn.Upsample(scale_factor=int(L["factor"]), mode=mode,
                                    **({"align_corners": False} if mode == "bilinear" else {}))
                else:
                    m = nn.Identity()
                self.ops.append(m)
                self.relu.append(relu)

        def forward(self, x):
            outs = []
            for i, L in enumerate(layers):
                xs = [x if j < 0 else outs[j] for j in inputs[i]]
                if L["type"] == "concat":
                    y = torch.cat(xs, 1)
                elif L["type"] == "add":
                    y = xs[0] + xs[1]
                else:
                    y = self.ops[i](xs[0])
                if self.relu[i]:
                    y = torch.relu(y)
                outs.append(y)
            return outs[-1]

    return Net().eval()


def timed(fn, iters, warmup):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(iters):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return {"median": statistics.median(times), "min": min(times), "max": max(times)}


def input_array(channels, h, w):
    import numpy as np

    rng = np.random.default_rng(12345)
    return rng.uniform(-2, 2, size=(1, channels, h, w)).astype(np.float32)


def cmd_export(a):
    import torch

    channels, layers = parse_spec(a.spec)
    w, h = a.size
    net = build_torch(channels, layers, a.classes, h, w, batchnorm=a.batchnorm)
    x = torch.from_numpy(input_array(channels, h, w))
    torch.onnx.export(net, x, a.onnx, input_names=["input"], output_names=["logits"],
                      opset_version=11, do_constant_folding=True)
    print(f"peers: wrote {a.onnx}", file=sys.stderr)


def cmd_time(a):
    import numpy as np

    channels, layers = parse_spec(a.spec)
    w, h = a.size
    x = input_array(channels, h, w)
    threads = a.threads or os.cpu_count()
    if a.runtime == "torch":
        import torch

        torch.set_num_threads(threads)
        net = build_torch(channels, layers, a.classes, h, w, batchnorm=a.batchnorm)
        xt = torch.from_numpy(x)
        out = {}

        def run():
            with torch.inference_mode():
                out["y"] = net(xt)

        name, version = "PyTorch", torch.__version__
        stats = timed(run, a.iters, a.warmup)
        y = out["y"].numpy()
    elif a.runtime == "opencv":
        import cv2

        cv2.setNumThreads(threads)
        net = cv2.dnn.readNetFromONNX(a.onnx)
        net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
        net.setPreferableTarget(cv2.dnn.DNN_TARGET_CPU)
        out = {}

        def run():
            net.setInput(x)
            out["y"] = net.forward()

        name, version = "OpenCV DNN", cv2.__version__
        stats = timed(run, a.iters, a.warmup)
        y = out["y"]
    elif a.runtime == "onnxruntime":
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        sess = ort.InferenceSession(a.onnx, so, providers=["CPUExecutionProvider"])
        out = {}

        def run():
            out["y"] = sess.run(None, {"input": x})[0]

        name, version = "ONNX Runtime", ort.__version__
        stats = timed(run, a.iters, a.warmup)
        y = out["y"]
    else:
        sys.exit(f"unknown runtime {a.runtime}")
    if a.save_output:
        np.save(a.save_output, y)
    gflop = flops(channels, layers, a.classes, h, w) / 1e9
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    res = {
        "schema": "clseg-bench/1",
        "runtime": f"{name} {version}",
        "device": f"CPU, {threads} threads ({cpu})",
        "device_type": "CPU",
        "network": os.path.splitext(os.path.basename(a.spec))[0],
        "input": {"n": 1, "c": channels, "h": h, "w": w},
        "iters": a.iters,
        "warmup": a.warmup,
        "forward_ms": stats,
        "gflop": gflop,
        "gflops": gflop / stats["median"] * 1e3,
        "layers": [],
    }
    with open(a.json, "w") as f:
        json.dump(res, f, indent=2)
    print(f"peers: {res['runtime']}: forward median {stats['median']:.1f} ms "
          f"(min {stats['min']:.1f}, max {stats['max']:.1f})", file=sys.stderr)


def cmd_compare(a):
    import numpy as np

    arrays = [(p, np.load(p)) for p in a.files]
    ref_name, ref = arrays[0]
    scale = float(np.abs(ref).max()) or 1.0
    ok = True
    for name, y in arrays[1:]:
        if y.shape != ref.shape:
            print(f"peers: {name}: shape {y.shape} != {ref.shape}", file=sys.stderr)
            ok = False
            continue
        err = float(np.abs(y - ref).max()) / scale
        print(f"peers: {os.path.basename(name)} vs {os.path.basename(ref_name)}: "
              f"max |diff| / max |ref| = {err:.2e}", file=sys.stderr)
        ok = ok and err < 1e-3
    sys.exit(0 if ok else 1)


def size_arg(s):
    w, h = s.lower().split("x")
    return int(w), int(h)


def main():
    p = argparse.ArgumentParser(description="clseg's network in other runtimes")
    sub = p.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("export")
    t = sub.add_parser("time")
    for q in (e, t):
        q.add_argument("--spec", required=True)
        q.add_argument("--size", type=size_arg, required=True)
        q.add_argument("--classes", type=int, default=12)
        q.add_argument("--onnx")
        q.add_argument("--batchnorm", action="store_true",
                       help="BatchNorm after the convs the spec marks (eval mode, random "
                            "statistics), as a PyTorch user exports it")
    t.add_argument("--runtime", required=True, choices=["torch", "opencv", "onnxruntime"])
    t.add_argument("--iters", type=int, default=10)
    t.add_argument("--warmup", type=int, default=2)
    t.add_argument("--threads", type=int, default=0)
    t.add_argument("--json", required=True)
    t.add_argument("--save-output")
    c = sub.add_parser("compare")
    c.add_argument("files", nargs="+")
    a = p.parse_args()
    {"export": cmd_export, "time": cmd_time, "compare": cmd_compare}[a.cmd](a)


if __name__ == "__main__":
    main()
