#!/usr/bin/env bash
# cli_tune.sh - clseg tune and clseg plan end to end on a tiny network: tuning writes a database
# that plan then reports as 'tuned'; a corrupt database is ignored with a warning; a foreign file
# is never overwritten; help and usage errors.
# usage: cli_tune.sh CLSEG_BINARY SOURCE_DIR
. "$(dirname "$0")/harness.sh" "$@"
fix=$src/tests/fixtures/cli
export CLSEG_CACHE_DIR=$tmp/cache
unset CLSEG_TUNING_DB CLSEG_PLAIN_KERNELS

for sub in plan tune; do
    "$clseg" $sub --help >"$tmp/help" 2>&1 && grep -q "usage: clseg $sub" "$tmp/help" && ok "$sub --help" ||
        bad "$sub --help"
done
"$clseg" tune --model "$tmp/none.clsm" 2>"$tmp/err" && bad "tune without --size" || {
    [ $? -eq 2 ] && [ "$(grep -c . "$tmp/err")" -eq 1 ] && ok "tune usage error" || bad "tune usage error"; }
"$clseg" plan --spec "$fix/tiny.cfg" --size 0x4 2>/dev/null && bad "plan bad size" || ok "plan bad size"

"$clseg" init --spec "$fix/tiny.cfg" --classes 12 --out "$tmp/tiny.clsm" --seed 3 >/dev/null ||
    bad "init"

db=$tmp/tuning.db
if "$clseg" tune --model "$tmp/tiny.clsm" --size 64x48 --budget 5 --db "$db" >"$tmp/tune.out" \
    2>"$tmp/tune.err"; then
    ok "tune --budget 5"
else
    bad "tune failed:"; cat "$tmp/tune.err" "$tmp/tune.out" >&2
fi
head -1 "$db" 2>/dev/null | grep -q '^clseg-tuning-db 1$' && ok "database header" || bad "database header"
grep -q "wrote $db" "$tmp/tune.out" && ok "tune reports the database" || bad "tune output"

"$clseg" plan --model "$tmp/tiny.clsm" --size 64x48 --db "$db" >"$tmp/plan.out" 2>"$tmp/plan.err" ||
    bad "plan failed: $(cat "$tmp/plan.err")"
grep -Eq ' tuned +[a-z]' "$tmp/plan.out" && ok "plan shows a tuned layer" || {
    bad "plan shows no tuned layer"; cat "$tmp/plan.out" >&2; }
[ -s "$tmp/plan.err" ] && bad "plan warned: $(cat "$tmp/plan.err")" || ok "plan quiet on a good database"

# --train: the data gradients' forward calls are tuned too (dec1's is a conv, the classifier's a
# transposed conv; enc1 reads the input and has none), and train accepts the database.
if "$clseg" tune --model "$tmp/tiny.clsm" --size 32x24 --batch 2 --train --budget 3 \
    --db "$tmp/train.db" >"$tmp/ttrain.out" 2>"$tmp/ttrain.err"; then
    ok "tune --train"
else
    bad "tune --train failed:"; cat "$tmp/ttrain.err" "$tmp/ttrain.out" >&2
fi
grep -Eq '^dec1 dx +conv2d ' "$tmp/ttrain.out" && grep -Eq '^classifier dx +deconv2d ' "$tmp/ttrain.out" &&
    ! grep -q '^enc1 dx' "$tmp/ttrain.out" && ok "tune --train lists the data-gradient calls" || {
    bad "tune --train layers"; cat "$tmp/ttrain.out" >&2; }
"$clseg" train --spec "$fix/tiny.cfg" --classes 12 --batch 2 --crop 32x24 --benchmark-steps 1 \
    --db "$tmp/train.db" >"$tmp/tstep.out" 2>&1 && ok "train runs with the --train database" || {
    bad "train with the --train database"; cat "$tmp/tstep.out" >&2; }

# Same network at another size: other signatures, so nothing is tuned there.
"$clseg" plan --model "$tmp/tiny.clsm" --size 40x24 --db "$db" >"$tmp/plan2.out" 2>&1
grep -Eq ' tuned +[a-z]' "$tmp/plan2.out" && bad "another size shows tuned" || ok "tuned entries are per shape"

# Corrupt: one byte changed -> ignored with one warning, nothing tuned.
cp "$db" "$tmp/corrupt.db"
sed -i '0,/^op\t/s/^op\t\(.\)/op\t\1X/' "$tmp/corrupt.db"
"$clseg" plan --model "$tmp/tiny.clsm" --size 64x48 --db "$tmp/corrupt.db" >"$tmp/plan3.out" \
    2>"$tmp/plan3.err" && ok "plan runs with a corrupt database" || bad "plan fails on a corrupt database"
grep -q "warning: tuning database ignored: .*checksum" "$tmp/plan3.err" && ok "corrupt database warned" ||
    bad "no warning for a corrupt database: $(cat "$tmp/plan3.err")"
grep -Eq ' tuned +[a-z]' "$tmp/plan3.out" && bad "corrupt database trusted" || ok "corrupt database not trusted"

# Foreign file: plan ignores it, tune refuses to overwrite it.
printf 'not a database\n' >"$tmp/foreign.db"
"$clseg" tune --model "$tmp/tiny.clsm" --size 64x48 --budget 1 --db "$tmp/foreign.db" \
    >/dev/null 2>"$tmp/tune2.err" && bad "tune overwrote a foreign file" || ok "tune refuses a foreign file"
grep -q "refusing to overwrite" "$tmp/tune2.err" && ok "refusal explained" || bad "refusal: $(cat "$tmp/tune2.err")"
[ "$(cat "$tmp/foreign.db")" = "not a database" ] && ok "foreign file untouched" || bad "foreign file changed"

# Segment reads the database too (and says nothing about a good one).
"$clseg" segment --model "$tmp/tiny.clsm" --db "$db" -o "$tmp/seg.png" \
    "$src/models/samples/camvid_0016E5_08085.png" 2>"$tmp/seg.err" && ok "segment --db" ||
    bad "segment --db: $(cat "$tmp/seg.err")"

# Recorded devices need no hardware.
"$clseg" plan --spec "$src/models/seednet.cfg" --size 480x352 \
    --fixture "$src/tests/fixtures/devices/mali-g78.dev" >"$tmp/fx.out" 2>&1 &&
    grep -q "class mali-valhall" "$tmp/fx.out" && ok "plan --fixture" || bad "plan --fixture: $(cat "$tmp/fx.out")"

finish
