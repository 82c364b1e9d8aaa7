#!/usr/bin/env bash
# cli_compare.sh - `clseg compare` on the bundled model and frame: every device present (or
# $CLSEG_DEVICE) agrees with the C reference end to end and layer by layer (exit 0); with a kernel
# directory whose direct conv adds 0.01 to every output it exits 1 and the JSON names a conv
# layer as the first departure; bad options exit 2; bench/compare-chart draws the JSON.
# usage: cli_compare.sh CLSEG_BINARY SOURCE_DIR
. "$(dirname "$0")/harness.sh" "$@"
model=$src/models/seednet-camvid.clsm
dev=${CLSEG_DEVICE:-all}
# Python for JSON checks: any python3 has json; the chart needs matplotlib (Debian's).
py=$(command -v python3 || true)
[ -x /usr/bin/python3 ] && py=/usr/bin/python3

# --- help and usage errors (exit 2, one line) ---
"$clseg" compare --help >"$tmp/help" 2>&1 && grep -q "usage: clseg compare" "$tmp/help" &&
    ok "compare --help" || bad "compare --help"
expect_usage() {
    local name=$1
    shift
    "$clseg" compare "$@" >/dev/null 2>"$tmp/stderr"
    local rc=$?
    [ $rc -eq 2 ] && [ "$(grep -c . "$tmp/stderr")" -eq 1 ] && ok "$name: $(cat "$tmp/stderr")" ||
        bad "$name: exit $rc, $(grep -c . "$tmp/stderr") lines on stderr"
}
expect_usage "no --model"
expect_usage "unknown option" --model "$model" --frobnicate
expect_usage "empty selector" --model "$model" --device pocl,,rusticl
expect_usage "bad --ignore" --model "$model" --ignore 300
"$clseg" compare --model "$model" --device "$dev" --images "$tmp/none" >/dev/null 2>"$tmp/stderr"
rc=$?
[ $rc -eq 1 ] && grep -q "none" "$tmp/stderr" && ok "missing --images: $(cat "$tmp/stderr")" ||
    bad "missing --images: exit $rc"

# --- the bundled frame agrees on every device (the samples' labels give mIoU too) ---
if "$clseg" compare --model "$model" --device "$dev" --layers --labels "$src/models/samples" \
    --ignore 11 --json "$tmp/good.json" --md "$tmp/good.md" >"$tmp/good.txt" 2>"$tmp/good.err"; then
    ok "compare --layers: exit 0"
else
    bad "compare --layers: exit $?"
    cat "$tmp/good.txt" "$tmp/good.err" >&2
fi
cat "$tmp/good.txt"
grep -q "agrees" "$tmp/good.txt" && ok "text verdict" || bad "no 'agrees' in the text"
grep -q "^| 0 | enc1 | conv2d |" "$tmp/good.md" && ok "markdown layer table" || bad "markdown layers"
if [ -n "$py" ]; then
    $py - "$tmp/good.json" <<'PY' && ok "good JSON" || bad "good JSON"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["schema"] == "clseg-compare/1" and d["agree"] is True, d.get("agree")
assert d["frames"] == ["camvid_0016E5_08085.png"], d["frames"]
assert d["reference"]["miou"] is not None
ids = d["label_agreement"]["ids"]
assert len(d["label_agreement"]["matrix"]) == len(ids) == len(d["devices"]) + 1
for dev in d["devices"]:
    assert dev["agrees"] and dev["error"] is None and dev["first_departure"] is None, dev["id"]
    assert dev["logit_error_rel"] <= d["thresholds"]["logit_error_rel"]
    assert dev["label_agreement_reference"] >= d["thresholds"]["label_agreement"]
    assert dev["miou"] is not None and dev["forward_ms"] > 0
    assert len(dev["layers"]) == 13 and all(L["pass"] and L["worst_ratio"] <= 1 for L in dev["layers"])
    print(f"{dev['id']} {dev['device']}: logit error {dev['logit_error_rel']:.2e}, worst layer "
          f"ratio {max(L['worst_ratio'] for L in dev['layers']):.3f}")
PY
    if $py -c 'import matplotlib' 2>/dev/null; then
        $py "$src/bench/compare-chart" -o "$tmp/chart.png" "$tmp/good.json" 2>"$tmp/chart.err" &&
            head -c 8 "$tmp/chart.png" | od -An -tx1 | grep -q '89 50 4e 47' && ok "compare-chart PNG" ||
            { bad "compare-chart"; cat "$tmp/chart.err" >&2; }
    else
        echo "skip: matplotlib not installed for $py, no chart check"
    fi
fi

# --- a broken conv kernel: exit 1, a conv layer is the first departure ---
# The seed net's first conv runs the direct kernel (kernels/conv2d.cl) on PoCL and llvmpipe
# (`clseg plan`); add 0.01 to everything it stores.
cp -r "$src/kernels" "$tmp/kernels"
sed -i 's|VEC v = ACT(acc\[c\], act);|VEC v = ACT(acc[c], act) + 0.01f;|' \
    "$tmp/kernels/conv2d.cl"
if ! grep -q "+ 0.01f;" "$tmp/kernels/conv2d.cl"; then
    bad "the perturbation no longer applies to kernels/conv2d.cl: update this test"
elif ! "$clseg" plan --model "$model" --size 480x360 ${CLSEG_DEVICE:+--device "$CLSEG_DEVICE"} 2>/dev/null |
    grep -q "conv2d .* direct "; then
    echo "skip: no conv layer runs the direct kernel on this device"
else
    CLSEG_KERNEL_DIR=$tmp/kernels CLSEG_NO_CACHE=1 "$clseg" compare --model "$model" --device "$dev" \
        --layers --json "$tmp/bad.json" >"$tmp/bad.txt" 2>"$tmp/bad.err"
    rc=$?
    cat "$tmp/bad.txt"
    [ $rc -eq 1 ] && ok "broken conv kernel: exit 1" || { bad "broken conv kernel: exit $rc"; cat "$tmp/bad.err" >&2; }
    grep -q "first departure at layer" "$tmp/bad.txt" && ok "text names the first departure" ||
        bad "no first-departure line"
    if [ -n "$py" ]; then
        $py - "$tmp/bad.json" <<'PY' && ok "bad JSON names a conv layer" || bad "bad JSON"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["agree"] is False
for dev in d["devices"]:
    f = dev["first_departure"]
    assert not dev["agrees"] and f is not None, dev["id"]
    assert f["op"] == "conv2d" and f["variant"] == "direct" and not f["pass"], f
    assert dev["departure"] == "layer " + f["name"]
    assert f["failures"] > 0 and f["worst_ratio"] > 1 and f["params"], f
    # layers after it ran on its wrong outputs, and are still judged on their own
    later = [L for L in dev["layers"][f["index"] + 1:] if L["variant"] != "direct"]
    assert later and all(L["pass"] for L in later), "an error upstream was blamed downstream"
    print(f"{dev['id']}: first departure {f['name']} ({f['op']} {f['variant']}), "
          f"ratio {f['worst_ratio']:.1f}")
PY
    fi
fi
finish
