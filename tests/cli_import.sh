#!/usr/bin/env bash
# cli_import.sh - `clseg import` end to end: an ONNX model becomes a .clsm that segment and plan
# take; a truncated file, a text file, an op clseg lacks and a dynamic size without --input-size
# each exit 1 with one line on stderr and no output file; bad options exit 2.
# usage: cli_import.sh CLSEG_BINARY SOURCE_DIR
. "$(dirname "$0")/harness.sh" "$@"
fix=$src/tests/fixtures/onnx


if "$clseg" import "$fix/unpool_op12.onnx" -o "$tmp/probe.clsm" 2>&1 | grep -q "without ONNX"; then
    echo "clseg was built without ONNX import"
    finish
    exit
fi
rm -f "$tmp/probe.clsm"

"$clseg" import --help | grep -q "input-size" && ok "help" || bad "help"
if "$clseg" import "$fix/seedlike_bn_op13.onnx" -o "$tmp/seed.clsm" >"$tmp/out" 2>&1; then
    grep -q "16 layers, 954 parameters, 12 classes" "$tmp/out" && ok "import: $(cat "$tmp/out")" ||
        bad "import output: $(cat "$tmp/out")"
else
    bad "import: $(cat "$tmp/out")"
fi
# the imported model is a model like any other: segment (27x19, the size it was mapped for) and
# plan take it, and so does the .onnx itself
python3 "$src/tests/fixtures/cli/make_png.py" "$tmp/frame.png" 27 19
"$clseg" segment --model "$tmp/seed.clsm" -o "$tmp/seg.png" "$tmp/frame.png" >/dev/null 2>"$tmp/err" &&
    [ -s "$tmp/seg.png" ] && ok "segment with the imported model" || bad "segment: $(cat "$tmp/err")"
"$clseg" segment --model "$fix/seedlike_bn_op13.onnx" -o "$tmp/seg2.png" "$tmp/frame.png" \
    >/dev/null 2>"$tmp/err" && cmp -s "$tmp/seg.png" "$tmp/seg2.png" &&
    ok "segment --model MODEL.onnx gives the same labels" || bad "segment .onnx: $(cat "$tmp/err")"
"$clseg" plan --model "$tmp/seed.clsm" --size 27x19 >"$tmp/plan" 2>&1 && grep -q "e1_Conv" "$tmp/plan" &&
    ok "plan" || bad "plan: $(cat "$tmp/plan")"

# options: class names from a file, normalisation, a pinned size
printf 'background\nroad\nsky\ncar\nperson\n' >"$tmp/names.txt"
"$clseg" import "$fix/sizes_dyn_op11.onnx" -o "$tmp/sizes.clsm" --input-size 24x16 \
    --classes "$tmp/names.txt" --mean 0.5,0.5,0.5 --std 0.25,0.25,0.25 >"$tmp/out" 2>&1 &&
    grep -q "5 classes" "$tmp/out" && ok "--input-size, --classes FILE, --mean, --std" ||
    bad "options: $(cat "$tmp/out")"
"$clseg" import "$fix/unpool_op12.onnx" --out "$tmp/unpool.clsm" --classes 4 >/dev/null 2>&1 &&
    ok "--classes K" || bad "--classes 4"

# failures: exit 1, one line, nothing written
head -c 1000 "$fix/seedlike_bn_op13.onnx" >"$tmp/truncated.onnx"
expect 1 "truncated file" "$tmp/t.clsm" "$clseg" import "$tmp/truncated.onnx" -o "$tmp/t.clsm"
printf 'name,value\nthis is,text\n' >"$tmp/text.onnx"
expect 1 "text file" "$tmp/t.clsm" "$clseg" import "$tmp/text.onnx" -o "$tmp/t.clsm"
expect 1 "unsupported op" "$tmp/t.clsm" "$clseg" import "$fix/unsupported_op.onnx" -o "$tmp/t.clsm"
grep -q "Softsign" "$tmp/stderr" && ok "the message names the op type" || bad "no op type: $(cat "$tmp/stderr")"
expect 1 "dynamic size without --input-size" "$tmp/t.clsm" \
    "$clseg" import "$fix/sizes_dyn_op11.onnx" -o "$tmp/t.clsm"
expect 1 "classes that disagree" "$tmp/t.clsm" \
    "$clseg" import "$fix/unpool_op12.onnx" -o "$tmp/t.clsm" --classes 7
expect 1 "missing file" "$tmp/t.clsm" "$clseg" import "$tmp/nope.onnx" -o "$tmp/t.clsm"
expect 1 "two means for three channels" "$tmp/t.clsm" \
    "$clseg" import "$fix/unpool_op12.onnx" -o "$tmp/t.clsm" --mean 0.5,0.5
expect 1 "a .clsm is not ONNX" "$tmp/t.clsm" "$clseg" import "$tmp/seed.clsm" -o "$tmp/t.clsm"
expect 2 "no output" "$tmp/t.clsm" "$clseg" import "$fix/unpool_op12.onnx"
expect 2 "no input" "$tmp/t.clsm" "$clseg" import -o "$tmp/t.clsm"
expect 2 "bad --input-size" "$tmp/t.clsm" \
    "$clseg" import "$fix/unpool_op12.onnx" -o "$tmp/t.clsm" --input-size 24
expect 2 "bad --mean" "$tmp/t.clsm" "$clseg" import "$fix/unpool_op12.onnx" -o "$tmp/t.clsm" --mean x
finish
