#!/usr/bin/env python3
"""check-layers.py - fails when an #include in host/ goes up or sideways against the layer order
of docs/architecture.md, or when the CLI or a public header includes anything but public headers.

A folder may include its own files and the folders before it in LAYERS; host/cli/ may include
only "cli.h" and the public headers (clseg*.h); include/clseg*.h only each other. System
headers (<...>) are not checked."""
import pathlib
import re
import sys

LAYERS = ["core", "ref", "io", "device", "ops", "tune", "net", "train", "api", "cli"]
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')

root = pathlib.Path(__file__).resolve().parent.parent
errors = []


def includes(path):
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        m = INCLUDE.match(line)
        if m:
            yield n, m.group(1)


def public(name):
    return re.fullmatch(r"clseg[a-z_]*\.h", name) is not None


for path in sorted((root / "host").glob("*/*.[ch]")):
    layer = path.parent.name
    if layer not in LAYERS:
        errors.append(f"{path.relative_to(root)}: folder '{layer}' is not in the layer order")
        continue
    for n, inc in includes(path):
        where = f"{path.relative_to(root)}:{n}: #include \"{inc}\""
        if public(inc):
            continue
        if layer == "cli":
            if inc != "cli.h":
                errors.append(f"{where}: the CLI includes only cli.h and the public clseg*.h")
            continue
        target = (path.parent / inc).resolve()
        try:
            rel = target.relative_to(root / "host")
        except ValueError:
            rel = None
        if rel is None or len(rel.parts) != 2:
            # "ops/ops.h" relative to host/ (the include path), not to this file
            rel = pathlib.Path(inc)
            if not (root / "host" / rel).exists():
                errors.append(f"{where}: not a file under host/")
                continue
        dep = rel.parts[0]
        if dep == layer:
            continue
        if dep not in LAYERS or LAYERS.index(dep) > LAYERS.index(layer):
            errors.append(f"{where}: '{layer}' may not include '{dep}' (order: {' < '.join(LAYERS)})")

for path in sorted((root / "include").glob("*.h")):
    for n, inc in includes(path):
        if not public(inc):
            errors.append(f"{path.relative_to(root)}:{n}: a public header includes \"{inc}\"")

for e in errors:
    print(e)
print(f"check-layers: {len(errors)} violation(s)" if errors else "check-layers: ok")
sys.exit(1 if errors else 0)
