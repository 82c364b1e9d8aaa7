#!/usr/bin/env python3
"""onnx_export_check.py - runs the ONNX files test_onnx_export leaves in BUILD/tests through ONNX
Runtime and OpenCV DNN (whichever imports) and compares with clseg's logits. By hand, not in CI:
    /usr/bin/python3 tests/onnx_export_check.py build          # OpenCV DNN (Debian python3-opencv)
    VENV/bin/python tests/onnx_export_check.py build           # ONNX Runtime (PyPI onnxruntime)
Exits 1 when a runtime's logits differ from clseg's by more than 1e-4 of the largest."""
import os
import sys

import numpy as np

CASES = {"export_all": (1, 3, 24, 32), "seednet": (1, 3, 48, 64)}


def runtimes():
    try:
        import onnxruntime as ort

        def run_ort(path, x):
            s = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
            return s.run(None, {s.get_inputs()[0].name: x})[0]

        yield "ONNX Runtime " + ort.__version__, run_ort
    except ImportError:
        pass
    try:
        import cv2

        def run_cv(path, x):
            net = cv2.dnn.readNetFromONNX(path)
            net.setInput(x)
            return net.forward()

        yield "OpenCV DNN " + cv2.__version__, run_cv
    except ImportError:
        pass


def main():
    tests = os.path.join(sys.argv[1] if len(sys.argv) > 1 else "build", "tests")
    status, ran = 0, 0
    for label, run in runtimes():
        for name, shape in CASES.items():
            x = np.fromfile(os.path.join(tests, name + ".input.bin"), np.float32).reshape(shape)
            y = run(os.path.join(tests, name + ".onnx"), x)
            c = np.fromfile(os.path.join(tests, name + ".clseg.bin"), np.float32).reshape(y.shape)
            err, ref = float(np.abs(y - c).max()), float(np.abs(y).max())
            agree = float((y.argmax(1) == c.argmax(1)).mean())
            print("%-18s %-10s max |err| %.3g, max |logit| %.3g, relative %.3g, argmax %.4f%%"
                  % (label, name, err, ref, err / ref, 100 * agree))
            status |= err > 1e-4 * ref
            ran += 1
    if not ran:
        print("neither onnxruntime nor cv2 imports")
        return 1
    return status


if __name__ == "__main__":
    sys.exit(main())
