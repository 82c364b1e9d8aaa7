#!/usr/bin/env bash
# cli_bench.sh - `clseg bench` on a tiny model: the JSON has the documented keys (docs/bench.md),
# the roofline included, the CSV one row per layer, --no-memplan and --device all work, bad options
# fail with one line; bench/report turns the JSON into markdown, and into a PNG where matplotlib is
# installed.
# usage: cli_bench.sh CLSEG_BINARY SOURCE_DIR
. "$(dirname "$0")/harness.sh" "$@"
fix=$src/tests/fixtures/cli
# The bench compiles cold into a private driver cache unless one is set: share one across the runs
# of this test so that only the first pays for PoCL's compiler.
export POCL_CACHE_DIR=$tmp/pocl-cache
# The device peak is cached next to the default tuning database: keep it out of the user's cache.
export CLSEG_CACHE_DIR=$tmp/clseg-cache

# Python for JSON checks: any python3 has json; the report's chart needs matplotlib (Debian's).
py=python3
command -v python3 >/dev/null || py=
[ -x /usr/bin/python3 ] && py=/usr/bin/python3

expect_usage() { # NAME CMD... : exit 2, one line on stderr
    local name=$1
    shift
    "$@" >"$tmp/stdout" 2>"$tmp/stderr"
    local rc=$? lines
    lines=$(grep -c . "$tmp/stderr")
    if [ $rc -ne 2 ] || [ "$lines" -ne 1 ]; then bad "$name: exit $rc, $lines stderr lines"; cat "$tmp/stderr" >&2; else ok "$name: $(cat "$tmp/stderr")"; fi
}

"$clseg" bench --help >"$tmp/help" && grep -q "usage: clseg bench" "$tmp/help" && ok "bench --help" || bad "bench --help"
"$clseg" --help | grep -q "bench" && ok "bench listed" || bad "bench not in clseg --help"
"$clseg" init --spec "$fix/tiny.cfg" --classes 5 --out "$tmp/tiny.clsm" >/dev/null || bad "init"

expect_usage "no --size" "$clseg" bench --model "$tmp/tiny.clsm"
expect_usage "bad --size" "$clseg" bench --model "$tmp/tiny.clsm" --size 48
expect_usage "bad --iters" "$clseg" bench --model "$tmp/tiny.clsm" --size 48x32 --iters 0
expect_usage "unknown option" "$clseg" bench --model "$tmp/tiny.clsm" --size 48x32 --bogus
"$clseg" bench --model "$tmp/none.clsm" --size 48x32 --iters 1 --json "$tmp/none.json" >/dev/null 2>"$tmp/stderr"
rc=$?
[ $rc -eq 1 ] && [ "$(grep -c . "$tmp/stderr")" -eq 1 ] && grep -q "none.clsm" "$tmp/stderr" && ok "missing model: $(cat "$tmp/stderr")" || bad "missing model: exit $rc"
expect_fail_device() {
    "$clseg" bench --model "$tmp/tiny.clsm" --size 48x32 --device no-such-device >/dev/null 2>"$tmp/stderr"
    local rc=$?
    [ $rc -eq 1 ] && [ "$(grep -c . "$tmp/stderr")" -eq 1 ] && ok "unknown device: $(cat "$tmp/stderr")" || bad "unknown device: exit $rc"
}
expect_fail_device

# --- one device (CLSEG_DEVICE or the default) ---
if "$clseg" bench --model "$tmp/tiny.clsm" --size 48x32 --iters 2 --warmup 1 --json "$tmp/b.json" \
    --csv "$tmp/b.csv" >"$tmp/b.txt" 2>"$tmp/b.err"; then ok "bench tiny"; else
    bad "bench tiny: exit $?"; cat "$tmp/b.err" >&2; fi
grep -q "forward (wall clock)" "$tmp/b.txt" && ok "text output" || bad "text output"
grep -q "cold start-up" "$tmp/b.err" && ok "progress on stderr" || bad "no progress on stderr"
check_json() { # FILE MEMPLAN(true/false) ALL(0/1)
    $py - "$@" <<'PY'
import json, sys
path, memplan, all_ = sys.argv[1], sys.argv[2] == "true", sys.argv[3] == "1"
d = json.load(open(path))
if all_:
    assert isinstance(d.get("results"), list) and d["results"], "no results array"
    rs = d["results"]
else:
    rs = [d]
for r in rs:
    assert "error" not in r, r.get("error")
    for k in ("device", "forward_ms", "startup_ms", "peak_bytes", "layers", "peak_bytes_memplan",
              "peak_bytes_no_memplan", "selector", "platform", "input", "iters", "layer_timing"):
        assert k in r, "missing " + k
    f = r["forward_ms"]
    assert 0 < f["min"] <= f["median"] <= f["max"], f
    assert r["startup_ms"]["cold"] > 0 and r["startup_ms"]["warm"] > 0, r["startup_ms"]
    assert r["iters"] == 2, r["iters"]
    assert r["peak_gflops"] > 0 and r["peak_gbs"] > 0, (r["peak_gflops"], r["peak_gbs"])
    assert r["memplan"] == memplan
    assert 0 < r["peak_bytes_memplan"] <= r["peak_bytes_no_memplan"]
    assert r["peak_bytes"] == (r["peak_bytes_memplan"] if memplan else r["peak_bytes_no_memplan"])
    assert [L["name"] for L in r["layers"]] == ["enc1", "pool1", "dec1", "classifier"]
    for L in r["layers"]:
        for k in ("name", "op", "variant", "ms", "gflop", "params", "gflops", "gbs", "out_shape"):
            assert k in L, "layer missing " + k
        assert L["ms"] >= 0 and L["variant"], L
        assert "roofline_fraction" in L, "layer missing roofline_fraction"
    assert r["layers"][0]["gflop"] > 0 and r["layers"][1]["gflop"] == 0
    assert r["layers"][3]["out_shape"] == [1, 5, 32, 48], r["layers"][3]["out_shape"]
PY
}
if [ -n "$py" ]; then
    check_json "$tmp/b.json" true 0 && ok "JSON keys" || bad "JSON keys"
else
    echo "skip: no python3 for the JSON checks"
fi
[ "$(head -1 "$tmp/b.csv" | cut -d, -f1-4)" = "device,selector,layer,op" ] && ok "CSV header" || bad "CSV header"
[ "$(grep -c . "$tmp/b.csv")" -eq 6 ] && ok "CSV rows" || bad "CSV: $(grep -c . "$tmp/b.csv") lines, want 6"

# --- without the memory planner ---
if "$clseg" bench --model "$tmp/tiny.clsm" --size 48x32 --iters 2 --warmup 0 --no-memplan \
    --json "$tmp/n.json" >/dev/null 2>"$tmp/n.err"; then ok "bench --no-memplan"; else
    bad "bench --no-memplan"; cat "$tmp/n.err" >&2; fi
[ -z "$py" ] || { check_json "$tmp/n.json" false 0 && ok "--no-memplan JSON" || bad "--no-memplan JSON"; }

# --- every device ---
if "$clseg" bench --model "$tmp/tiny.clsm" --size 48x32 --iters 2 --warmup 0 --device all \
    --json "$tmp/all.json" >"$tmp/all.txt" 2>"$tmp/all.err"; then ok "bench --device all"; else
    bad "bench --device all"; cat "$tmp/all.err" >&2; fi
grep -q "side by side" "$tmp/all.txt" && ok "side-by-side table" || bad "no side-by-side table"
[ -z "$py" ] || { check_json "$tmp/all.json" true 1 && ok "--device all JSON" || bad "--device all JSON"; }

# --- bench/report ---
if [ -n "$py" ]; then
    if $py "$src/bench/report" -o "$tmp/rep" "$tmp/b.json" "$tmp/all.json" >/dev/null 2>"$tmp/rep.err"; then
        ok "report"; else bad "report"; cat "$tmp/rep.err" >&2; fi
    grep -q "^| enc1 | conv2d |" "$tmp/rep.md" && ok "report markdown" || bad "report markdown"
    if $py -c 'import matplotlib' 2>/dev/null; then
        head -c 8 "$tmp/rep.png" 2>/dev/null | od -An -tx1 | grep -q '89 50 4e 47' && ok "report PNG" || bad "report PNG"
    else
        echo "skip: matplotlib not installed for $py, no PNG check"
        grep -q "matplotlib" "$tmp/rep.err" && ok "report says why there is no chart" || bad "report: no message"
    fi
fi

finish
