#!/usr/bin/env bash
# cli_train.sh - clseg train and clseg eval end to end on generated data: a small net reaches
# near-zero loss, an interrupted and resumed run repeats the uninterrupted one bit for bit, a
# NaN stops training and leaves the last checkpoint alone, and eval reproduces a confusion
# matrix computed independently.
# usage: cli_train.sh CLSEG_BINARY SOURCE_DIR
. "$(dirname "$0")/harness.sh" "$@"
fix=$src/tests/fixtures/train

# expect_fail NAME CODE CMD... : exit CODE, one line on stderr
expect_fail() {
    local name=$1 code=$2
    shift 2
    "$@" >"$tmp/stdout" 2>"$tmp/stderr"
    local rc=$? lines
    lines=$(grep -c . "$tmp/stderr")
    if [ $rc -ne "$code" ]; then
        bad "$name: exit $rc, expected $code"; cat "$tmp/stderr" >&2
    elif [ "$lines" -ne 1 ]; then
        bad "$name: expected one line on stderr, got $lines:"; cat "$tmp/stderr" >&2
    else
        ok; echo "ok   $name: $(cat "$tmp/stderr")"
    fi
}
# expect_stop NAME CMD... : exit 1 with "clseg: ..." as the last stderr line (train prints its
# set-up first)
expect_stop() {
    local name=$1
    shift
    "$@" >"$tmp/stdout" 2>"$tmp/stderr"
    local rc=$?
    if [ $rc -ne 1 ] || ! tail -1 "$tmp/stderr" | grep -q '^clseg: '; then
        bad "$name: exit $rc"; tail -3 "$tmp/stderr" >&2
    else
        ok; echo "ok   $name: $(tail -1 "$tmp/stderr")"
    fi
}
expect_ok() {
    local name=$1
    shift
    if "$@" >"$tmp/stdout" 2>"$tmp/stderr"; then ok; echo "ok   $name"; else
        bad "$name: exit $?"; tail -5 "$tmp/stderr" >&2; fi
}

for sub in train eval; do
    "$clseg" $sub --help >"$tmp/help" 2>&1 && grep -q "usage: clseg $sub" "$tmp/help" && ok ||
        bad "$sub --help"
done

d=$tmp/data
python3 "$fix/make_dataset.py" regions "$d/train" 8 32 24 1 4 255 &&
    python3 "$fix/make_dataset.py" regions "$d/val" 4 32 24 2 4 255 &&
    python3 "$fix/make_dataset.py" eval "$d/eval" && ok || bad "generating the data"
spec=$fix/tiny_train.cfg
data=(--train-images "$d/train/images" --train-labels "$d/train/labels"
      --val-images "$d/val/images" --val-labels "$d/val/labels" --classes 4 --ignore 255)

# --- usage errors: exit 2, one line ---
expect_fail "no --epochs" 2 "$clseg" train --spec "$spec" "${data[@]}" --out "$tmp/x.clsm"
expect_fail "bad --crop" 2 "$clseg" train --spec "$spec" "${data[@]}" --epochs 1 --crop 32by24 --out "$tmp/x.clsm"
expect_fail "bad --optimizer" 2 "$clseg" train --spec "$spec" "${data[@]}" --epochs 1 --optimizer rmsprop --out "$tmp/x.clsm"
expect_fail "bad --class-weights" 2 "$clseg" train --spec "$spec" "${data[@]}" --epochs 1 --class-weights 1,2 --out "$tmp/x.clsm"
expect_fail "missing labels" 1 "$clseg" train --spec "$spec" --classes 4 --train-images "$d/train/images" --train-labels "$d/val/labels" --epochs 1 --out "$tmp/x.clsm"
expect_stop "label out of range" "$clseg" train --spec "$spec" --classes 3 --ignore 255 --train-images "$d/train/images" --train-labels "$d/train/labels" --epochs 1 --out "$tmp/x.clsm"
[ ! -e "$tmp/x.clsm" ] && ok || bad "a failed run left --out behind"

# --- a small net learns the colour -> class mapping to near-zero loss ---
expect_ok "train to near-zero loss" "$clseg" train --spec "$spec" "${data[@]}" --epochs 40 --batch 4 \
    --scale 1,1 --no-flip --lr 0.02 --schedule const --val-every 10 --out "$tmp/fit.clsm" \
    --loss-log "$tmp/fit.log"
last=$(tail -1 "$tmp/fit.log" 2>/dev/null | awk '{print $4}')
if awk -v l="${last:-9}" 'BEGIN { exit !(l < 0.05) }'; then ok; echo "ok   final loss $last"; else
    bad "final training loss ${last:-none} is not near zero"; fi
grep -q "val mIoU" "$tmp/stderr" && ok || bad "no validation mIoU in the log"
expect_ok "eval the fitted model" "$clseg" eval --model "$tmp/fit.clsm" --images "$d/val/images" \
    --labels "$d/val/labels" --ignore 255 --json "$tmp/fit.json"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if d["miou"] > 95 and d["images"] == 4 else 1)' "$tmp/fit.json" &&
    ok || bad "fitted model: val mIoU $(grep '"miou"' "$tmp/fit.json")"

# --- resume: interrupted mid-epoch + resumed == uninterrupted, bit for bit ---
run=(--spec "$spec" "${data[@]}" --epochs 3 --batch 3 --crop 24x16 --lr 0.02 --schedule cosine
     --class-weights median-freq --seed 5)
resume=(--resume "$tmp/b.ckpt" "${data[@]}" --epochs 3 --batch 3 --crop 24x16 --lr 0.02
        --schedule cosine --class-weights median-freq --seed 5)
expect_ok "uninterrupted run" "$clseg" train "${run[@]}" --out "$tmp/a.clsm" --checkpoint "$tmp/a.ckpt" --loss-log "$tmp/a.log"
expect_ok "run stopped at step 3" "$clseg" train "${run[@]}" --out "$tmp/b.clsm" --checkpoint "$tmp/b.ckpt" --loss-log "$tmp/b.log" --stop-at-step 3
[ "$(wc -l <"$tmp/b.log")" -eq 3 ] && ok || bad "the stopped run logged $(wc -l <"$tmp/b.log") steps"
expect_fail "resume with another lr" 1 "$clseg" train "${resume[@]}" --lr 0.03 --out "$tmp/b.clsm" --checkpoint "$tmp/b.ckpt"
expect_fail "resume from a model file" 1 "$clseg" train --resume "$tmp/a.clsm" "${data[@]}" --epochs 3 --out "$tmp/b.clsm"
expect_ok "resumed run" "$clseg" train "${resume[@]}" --out "$tmp/b.clsm" --checkpoint "$tmp/b.ckpt" --loss-log "$tmp/b.log"
if cmp -s "$tmp/a.log" "$tmp/b.log" && [ "$(wc -l <"$tmp/a.log")" -eq 6 ]; then ok; echo "ok   identical loss curves"; else
    bad "loss curves differ:"; paste "$tmp/a.log" "$tmp/b.log" >&2; fi
cmp -s "$tmp/a.clsm" "$tmp/b.clsm" && ok || bad "best models differ"
cmp -s "$tmp/a.ckpt" "$tmp/b.ckpt" && ok || bad "final checkpoints differ"
# Extending a finished run: only --epochs changes; the lr-step default (epochs / 3) must stay
# the run's (1), not become 6 / 3.
extend=(--resume "$tmp/b.ckpt" "${data[@]}" --epochs 6 --batch 3 --crop 24x16 --lr 0.02
        --schedule cosine --class-weights median-freq --seed 5)
expect_ok "resumed run extended to 6 epochs" "$clseg" train "${extend[@]}" --out "$tmp/b.clsm" \
    --checkpoint "$tmp/b.ckpt" --loss-log "$tmp/b.log"
[ "$(wc -l <"$tmp/b.log")" -eq 12 ] && ok || bad "the extended run logged $(wc -l <"$tmp/b.log") steps, not 12"
expect_ok "a checkpoint is a model" "$clseg" eval --model "$tmp/a.ckpt" --images "$d/val/images" --labels "$d/val/labels" --ignore 255

# --- NaN: stops with a clear message, writes nothing, keeps the last checkpoint ---
cp "$tmp/a.ckpt" "$tmp/keep.ckpt"
expect_stop "NaN stops training" "$clseg" train --init "$tmp/a.clsm" "${data[@]}" --epochs 2 --batch 3 \
    --optimizer sgd --lr 1e30 --out "$tmp/nan.clsm" --checkpoint "$tmp/a.ckpt"
grep -q "training stopped: the .* is \(NaN\|Inf\)" "$tmp/stderr" && ok || bad "NaN message"
cmp -s "$tmp/a.ckpt" "$tmp/keep.ckpt" && [ ! -e "$tmp/nan.clsm" ] && ok || bad "files changed after NaN"

# --- eval against an independently computed confusion matrix ---
printf '[net]\nname = pixel\n[conv]\nname = out\nfilters = classes\nsize = 1\n' >"$tmp/pixel.cfg"
python3 "$src/docs/examples/write_clsm.py" "$tmp/pixel.cfg" "$tmp/pixel.clsm" --classes 4 \
    --weights "$d/eval/weights.json" --names red,green,blue,void >/dev/null && ok || bad "write_clsm"
expect_ok "eval known answer" "$clseg" eval --model "$tmp/pixel.clsm" --images "$d/eval/images" \
    --labels "$d/eval/labels" --ignore 3 --json "$tmp/eval.json"
python3 "$fix/make_dataset.py" check "$d/eval/expected.json" "$tmp/eval.json" && ok || bad "eval JSON"
grep -q "^mIoU 68.87 " "$tmp/stdout" && ok || bad "eval summary: $(tail -1 "$tmp/stdout")"
expect_fail "eval label out of range" 1 "$clseg" eval --model "$tmp/pixel.clsm" --images "$d/val/images" --labels "$d/val/labels"
expect_fail "eval missing labels" 1 "$clseg" eval --model "$tmp/pixel.clsm" --images "$d/eval/images" --labels "$d/val/labels"
expect_fail "eval without --labels" 2 "$clseg" eval --model "$tmp/pixel.clsm" --images "$d/eval/images"

# --- the benchmark mode runs without data ---
expect_ok "benchmark" "$clseg" train --spec "$spec" --classes 4 --batch 2 --crop 32x24 --benchmark-steps 2
grep -q "median" "$tmp/stdout" && ok || bad "benchmark output"

finish
