#!/usr/bin/env python3
"""onnx_torchvision.py - torchvision's LR-ASPP MobileNetV3-Large, exported from PyTorch with random
weights and randomised BatchNorm statistics, imported and run by clseg (tests/onnx_run.c on
$CLSEG_DEVICE), against ONNX Runtime's logits (PyPI, in a venv this script makes in the build
directory) or, where ONNX Runtime cannot be installed, PyTorch's own.

usage: onnx_torchvision.py ONNX_RUN BUILD_DIR [--bench WxH]
Exit 0: every case within tolerance; 1: a mismatch or failure; 77: torch / torchvision missing.
The bar (issue 15): max |error| / max |reference logit| <= REL_TOL and argmax agreement >=
ARGMAX_MIN. --bench times clseg and ONNX Runtime (median of 10 runs each) at one size instead.
"""
import os
import warnings
import struct
import subprocess
import sys
import tempfile

warnings.filterwarnings("ignore")  # the exporter's shape-inference chatter
REL_TOL = 1e-3
ARGMAX_MIN = 0.999
# (width, height, opset): an even size, and an odd one whose feature maps are not halved evenly
# (so the head's Resize is not by an integer factor); opset 13 has no HardSwish, which PyTorch
# then writes as x * HardSigmoid(x).
CASES = [(224, 160, 14), (203, 141, 13)]

try:
    import numpy as np
    import torch
    import torchvision
except ImportError as e:
    print(f"onnx_torchvision: SKIP: {e} (install python3-torch and python3-torchvision)")
    sys.exit(77)

ORT_SCRIPT = r"""
import struct, sys, time
import numpy as np, onnxruntime as ort
def read(p):
    with open(p, 'rb') as f:
        d = struct.unpack('<4i', f.read(16))
        return np.frombuffer(f.read(), dtype='<f4').reshape(d)
model, inp, out, iters = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
so = ort.SessionOptions()
s = ort.InferenceSession(model, so, providers=['CPUExecutionProvider'])
x = read(inp)
y = s.run(None, {s.get_inputs()[0].name: x})[0]
with open(out, 'wb') as f:
    f.write(struct.pack('<4i', *y.shape)); f.write(np.ascontiguousarray(y, '<f4').tobytes())
if iters:
    t = []
    for _ in range(iters):
        t0 = time.perf_counter(); s.run(None, {s.get_inputs()[0].name: x}); t.append(time.perf_counter() - t0)
    print('median_ms %.3f onnxruntime %s' % (sorted(t)[len(t) // 2] * 1e3, ort.__version__))
"""


def write_tensor(path, a):
    a = np.ascontiguousarray(a, dtype="<f4")
    with open(path, "wb") as f:
        f.write(struct.pack("<4i", *a.shape))
        f.write(a.tobytes())


def read_tensor(path):
    with open(path, "rb") as f:
        d = struct.unpack("<4i", f.read(16))
        return np.frombuffer(f.read(), dtype="<f4").reshape(d)


def ort_python(build):
    """A venv with onnxruntime (made once, kept in the build directory), or None."""
    venv = os.path.join(build, "onnx-venv")
    py = os.path.join(venv, "bin", "python")
    ok = lambda: subprocess.run([py, "-c", "import onnxruntime"], capture_output=True).returncode == 0
    if os.path.exists(py) and ok():
        return py
    try:
        subprocess.run([sys.executable, "-m", "venv", venv], check=True, capture_output=True)
        subprocess.run([py, "-m", "pip", "install", "-q", "onnxruntime"], check=True,
                       capture_output=True, timeout=300)
    except (subprocess.SubprocessError, OSError) as e:
        print(f"onnx_torchvision: no ONNX Runtime ({e.__class__.__name__}); comparing with PyTorch")
        return None
    return py if ok() else None


def make_model(seed, classes=5):
    torch.manual_seed(seed)
    m = torchvision.models.segmentation.lraspp_mobilenet_v3_large(
        weights=None, weights_backbone=None, num_classes=classes)
    g = torch.Generator().manual_seed(seed)
    for mod in m.modules():  # randomised statistics, so the folded weights are not the identity
        if isinstance(mod, torch.nn.BatchNorm2d):
            c = mod.num_features
            mod.running_mean.copy_(0.2 * torch.randn(c, generator=g))
            mod.running_var.copy_(0.5 + torch.rand(c, generator=g))
            mod.weight.data.copy_(0.75 + 0.5 * torch.rand(c, generator=g))
            mod.bias.data.copy_(0.1 * torch.randn(c, generator=g))
    return m.eval()


def export(m, w, h, opset, path):
    x = torch.randn(1, 3, h, w, generator=torch.Generator().manual_seed(w * 1000 + h))
    with torch.no_grad():
        torch.onnx.export(m, x, path, opset_version=opset, input_names=["input"],
                          output_names=["out"])
        want = m(x)["out"].numpy()
    return x.numpy(), want


def compare(got, want):
    err = float(np.max(np.abs(got.astype(np.float64) - want)))
    rel = err / max(float(np.max(np.abs(want))), 1e-30)
    agree = float(np.mean(np.argmax(got, axis=1) == np.argmax(want, axis=1)))
    return rel, agree


def main():
    if len(sys.argv) not in (3, 5):
        print(__doc__)
        return 2
    onnx_run, build = sys.argv[1], sys.argv[2]
    bench = sys.argv[4] if len(sys.argv) == 5 and sys.argv[3] == "--bench" else None
    ortpy = ort_python(build)
    failed = 0
    with tempfile.TemporaryDirectory(prefix="clseg-tv-") as tmp:
        cases = CASES
        if bench:
            w, h = (int(v) for v in bench.split("x"))
            cases = [(w, h, 14)]
        for w, h, opset in cases:
            path = os.path.join(tmp, f"lraspp_{w}x{h}_op{opset}.onnx")
            x, torch_out = export(make_model(seed=w + h), w, h, opset, path)
            inp, got_p, ref_p = (os.path.join(tmp, n) for n in ("in.bin", "clseg.bin", "ref.bin"))
            write_tensor(inp, x)
            iters = ["10"] if bench else []
            r = subprocess.run([onnx_run, path, inp, got_p] + iters, capture_output=True, text=True)
            if r.returncode:
                print(f"FAIL lraspp {w}x{h} opset {opset}: clseg: {r.stderr.strip()}")
                failed += 1
                continue
            timing = r.stdout.strip()
            want, by = torch_out, f"PyTorch {torch.__version__}"
            if ortpy:
                o = subprocess.run([ortpy, "-c", ORT_SCRIPT, path, inp, ref_p,
                                    "10" if bench else "0"], capture_output=True, text=True)
                if o.returncode == 0:
                    want, by = read_tensor(ref_p), "ONNX Runtime"
                    if bench:
                        print(f"bench lraspp {w}x{h}: clseg {timing}; ORT {o.stdout.strip()}")
                else:
                    print(f"onnx_torchvision: ONNX Runtime failed: {o.stderr.strip()[-300:]}")
            got = read_tensor(got_p)
            if got.shape != want.shape:
                print(f"FAIL lraspp {w}x{h} opset {opset}: shape {got.shape} vs {want.shape}")
                failed += 1
                continue
            rel, agree = compare(got, want)
            ok = rel <= REL_TOL and agree >= ARGMAX_MIN
            failed += not ok
            print(f"{'ok  ' if ok else 'FAIL'} lraspp_mobilenet_v3_large {w}x{h} opset {opset} vs "
                  f"{by}: max|err|/max|ref| {rel:.3g} (<= {REL_TOL:g}), argmax agreement "
                  f"{100 * agree:.3f}% (>= {100 * ARGMAX_MIN:g}%)")
    print(f"onnx_torchvision: {len(cases) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
