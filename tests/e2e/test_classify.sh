#!/usr/bin/env bash
# End-to-end checks of `genc classify`: a short run lowers held-out loss; N steps in one go
# and N/2 + checkpoint + resume give byte-identical checkpoints; bad flags and corrupt or
# truncated checkpoints give one clear error line and a non-zero exit, never a crash.
. "$(dirname "$0")/lib.sh" "$1"

common=(--arch mlp --hidden 64 --limit 2048 --val 1000 --batch 64 --steps 40 --eval-every 20 --threads 2 --seed 7)

# 1. Training lowers held-out loss and learns: last validation loss <= 1.6 (chance ln 10 =
#    2.30; seen 1.34) and test accuracy >= 55% (chance 10%; seen 66.6%).
"$genc" classify train "${common[@]}" --out "$tmp/a" >"$tmp/a.log" 2>&1 || bad "training run failed: $(tail -1 "$tmp/a.log")"
first=$(grep '"event":"eval"' "$tmp/a/metrics.jsonl" | head -1 | sed 's/.*"val_loss":\([0-9.e+-]*\).*/\1/')
last=$(grep '"event":"eval"' "$tmp/a/metrics.jsonl" | tail -1 | sed 's/.*"val_loss":\([0-9.e+-]*\).*/\1/')
python3 -c "import sys; sys.exit(0 if $last <= 1.6 and $last < $first else 1)" && ok || bad "val loss $first -> $last"
acc=$(sed -n 's/.*test: 10000 images, loss [0-9.]*, accuracy \([0-9.]*\)%.*/\1/p' "$tmp/a.log")
python3 -c "import sys; sys.exit(0 if float('${acc:-0}') >= 55 else 1)" && ok || bad "test accuracy '$acc'%: $(grep test: "$tmp/a.log")"

# 2. Resume is bit-exact: 20 steps, stop, resume to 40 == 40 straight.
"$genc" classify train "${common[@]}" --stop-at 20 --out "$tmp/b" >"$tmp/b1.log" 2>&1 || bad "first half failed"
grep -q 'stopped at step 20' "$tmp/b1.log" && ok || bad "no stop message"
"$genc" classify train "${common[@]}" --resume --out "$tmp/b" >"$tmp/b2.log" 2>&1 || bad "resume failed: $(tail -1 "$tmp/b2.log")"
cmp -s "$tmp/a/checkpoint.safetensors" "$tmp/b/checkpoint.safetensors" && ok || bad "resumed checkpoint differs from the uninterrupted one"
"$genc" classify eval --checkpoint "$tmp/b/checkpoint.safetensors" --threads 2 >"$tmp/e.log" 2>&1 && ok || bad "eval failed"
grep -q 'accuracy' "$tmp/e.log" && ok || bad "eval printed no accuracy"

# 3. Bad input: one line "genc: error: ...", non-zero exit, no crash (exit < 128).
expect_error "bad number" '--lr' "$genc" classify train --lr fast
expect_error "unknown flag" '--nope' "$genc" classify train --nope 1
expect_error "out of range" '--batch' "$genc" classify train --batch 0
expect_error "bad arch" '--arch expects one of convnet|mlp' "$genc" classify train --arch rnn --steps 1 --out "$tmp/x"
expect_error "unknown verb" 'classify' "$genc" classify fly
expect_error "missing checkpoint" "$tmp/none.safetensors" "$genc" classify eval --checkpoint "$tmp/none.safetensors"
ck="$tmp/a/checkpoint.safetensors"
head -c 1000 "$ck" >"$tmp/trunc.safetensors"
expect_error "truncated checkpoint" 'trunc.safetensors' "$genc" classify eval --checkpoint "$tmp/trunc.safetensors"
cp "$ck" "$tmp/flip.safetensors"
printf '\x7b' | dd of="$tmp/flip.safetensors" bs=1 seek=5 conv=notrunc 2>/dev/null   # header length byte
expect_error "corrupt header length" 'flip.safetensors' "$genc" classify eval --checkpoint "$tmp/flip.safetensors"
echo 'not a checkpoint' >"$tmp/text.safetensors"
expect_error "not safetensors" 'text.safetensors' "$genc" classify eval --checkpoint "$tmp/text.safetensors"
# The resume of a model with other flags is refused with both configs named.
set_flag hidden 32 "${common[@]}"
expect_error "config mismatch" 'config' "$genc" classify train "${args[@]}" --resume --out "$tmp/b"

echo "e2e classify: $pass passed, $fail failed"
[ $fail -eq 0 ]
