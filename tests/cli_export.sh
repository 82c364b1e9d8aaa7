#!/usr/bin/env bash
# cli_export.sh - `clseg export` end to end: the bundled model becomes an ONNX file that
# `clseg import` takes back with the same layers; a missing or broken model exits 1 with one line
# on stderr and no output file; bad options exit 2. (test_onnx_export compares the logits.)
# usage: cli_export.sh CLSEG_BINARY SOURCE_DIR
. "$(dirname "$0")/harness.sh" "$@"
model=$src/models/seednet-camvid.clsm


if "$clseg" export "$model" -o "$tmp/probe.onnx" --input-size 64x48 2>&1 | grep -q "without ONNX"; then
    echo "clseg was built without ONNX support"
    finish
    exit
fi
rm -f "$tmp/probe.onnx"

"$clseg" export --help | grep -q "input-size" && ok "help" || bad "help"
if "$clseg" export "$model" -o "$tmp/seed.onnx" --input-size 64x48 >"$tmp/out" 2>&1; then
    grep -q "13 layers, 12 classes, input 1x48x64" "$tmp/out" && ok "export: $(cat "$tmp/out")" ||
        bad "export output: $(cat "$tmp/out")"
else
    bad "export: $(cat "$tmp/out")"
fi
"$clseg" import "$tmp/seed.onnx" -o "$tmp/seed.clsm" >"$tmp/out" 2>&1 &&
    grep -q "13 layers, 5460300 parameters, 12 classes" "$tmp/out" &&
    ok "import of the export: $(cat "$tmp/out")" || bad "import of the export: $(cat "$tmp/out")"
"$clseg" export "$model" -o "$tmp/default.onnx" >"$tmp/out" 2>&1 && grep -q "input 1x360x480" "$tmp/out" &&
    ok "default size 480x360" || bad "default size: $(cat "$tmp/out")"

# failures: exit 1, one line, nothing written
expect 1 "missing model" "$tmp/t.onnx" "$clseg" export "$tmp/nope.clsm" -o "$tmp/t.onnx"
printf 'not a model\n' >"$tmp/text.clsm"
expect 1 "text file" "$tmp/t.onnx" "$clseg" export "$tmp/text.clsm" -o "$tmp/t.onnx"
expect 2 "no output" "$tmp/t.onnx" "$clseg" export "$model"
expect 2 "no model" "$tmp/t.onnx" "$clseg" export -o "$tmp/t.onnx"
expect 2 "bad --input-size" "$tmp/t.onnx" "$clseg" export "$model" -o "$tmp/t.onnx" --input-size 64
finish
