#!/usr/bin/env bash
# End-to-end checks of the diffusion verbs: `image train --model ddpm|rflow` lowers the
# validation loss and writes EMA weights, a loss plot and checkpoints; stop + resume gives the
# byte-identical checkpoint (EMA included); `image sample` runs every sampler (ddpm small/large,
# ddim eta 0/1 and every spacing, euler, heun), deterministically per seed, writes grids,
# trajectory strips, image files and reflow pairs; DDIM inversion round-trips; reflow and
# distillation train from the pairs; `image fid` compares splits, files, folders and
# checkpoints (FID(x, x) = 0); bad flags and corrupt checkpoints give one `genc: error:` line.
# A tiny U-Net on 500 Fashion-MNIST images, so it checks plumbing, not image quality.
. "$(dirname "$0")/lib.sh" "$1"

net=(--data fashion-mnist --width 8 --levels 2 --mult 1,2 --groups 4 --res-blocks 1 --attn-heads 2 --limit 500
     --val 100 --batch 16 --eval-every 10 --lr 2e-3 --warmup 0 --threads 2 --seed 3)

# 1. DDPM training: validation loss falls; EMA tensors and the loss plot are written.
"$genc" image train --model ddpm --T 100 --steps 30 "${net[@]}" --out "$tmp/d" >"$tmp/d.log" 2>&1 \
  || bad "ddpm training failed: $(tail -1 "$tmp/d.log")"
vloss() { grep '"event":"eval"' "$1/metrics.jsonl" | sed -n "$2" | sed 's/.*"val_loss":\([0-9.e+-]*\).*/\1/'; }
first=$(vloss "$tmp/d" 1p) last=$(vloss "$tmp/d" '$p')
python3 -c "import sys; sys.exit(0 if 0 < $last < $first else 1)" && ok || bad "ddpm val loss $first -> $last"
grep -q 'extra.ema.conv_in.weight' "$tmp/d/checkpoint.safetensors" && ok || bad "no EMA weights in the checkpoint"
[ -s "$tmp/d/loss.png" ] && [ -s "$tmp/d/best.safetensors" ] && ok || bad "no loss plot or best checkpoint"

# 2. Resume is bit-exact (parameters, moments and EMA).
"$genc" image train --model ddpm --T 100 --steps 30 "${net[@]}" --stop-at 15 --out "$tmp/r" >"$tmp/r1.log" 2>&1
grep -q 'stopped at step 15' "$tmp/r1.log" && ok || bad "no stop message: $(tail -1 "$tmp/r1.log")"
"$genc" image train --model ddpm --T 100 --steps 30 "${net[@]}" --resume --out "$tmp/r" >"$tmp/r2.log" 2>&1 \
  || bad "resume failed: $(tail -1 "$tmp/r2.log")"
cmp -s "$tmp/d/checkpoint.safetensors" "$tmp/r/checkpoint.safetensors" && ok || bad "resumed checkpoint differs"

# 3. Every DDPM-side sampler; same seed same images, another seed other images.
ck="$tmp/d/checkpoint.safetensors"
smp() { "$genc" image sample --checkpoint "$ck" --count 6 --grid 6 --cols 3 --threads 2 "$@" >>"$tmp/s.log" 2>&1 \
  || bad "sample $* failed: $(tail -1 "$tmp/s.log")"; }
smp --sampler ddpm --seed 1 --out "$tmp/p1.png" --trajectory "$tmp/traj.png"
smp --sampler ddpm --seed 1 --out "$tmp/p2.png"
smp --sampler ddpm --seed 2 --out "$tmp/p3.png" --variance fixed_large
cmp -s "$tmp/p1.png" "$tmp/p2.png" && ok || bad "same seed, different ddpm samples"
cmp -s "$tmp/p1.png" "$tmp/p3.png" && bad "different seeds, same samples" || ok
[ -s "$tmp/traj.png" ] && ok || bad "no trajectory strip"
for sp in uniform trailing linspace quadratic; do smp --sampler ddim --steps 5 --spacing "$sp" --out "$tmp/i_$sp.png"; done
smp --sampler ddim --steps 5 --eta 1 --clip-x0=false --ema=false --out "$tmp/e1.png" --save "$tmp/imgs.safetensors"
grep -c 'sampled 6 images' "$tmp/s.log" | grep -qx 8 && ok || bad "not every sampler reported: $(cat "$tmp/s.log")"
"$genc" image sample --checkpoint "$ck" --invert 4 --steps 10 --threads 2 >"$tmp/inv.log" 2>&1 \
  && grep -q 'DDIM inversion round trip (10 steps, 4 test images): mean' "$tmp/inv.log" && ok || bad "inversion: $(cat "$tmp/inv.log")"

# The defaults are the best measured (docs/diffusion.md): the ddpm sampler (all T = 100 steps
# here) on a DDPM checkpoint, and eta 1 for ddim.
"$genc" image sample --checkpoint "$ck" --count 2 --out "" --threads 2 2>&1 | grep -q '100 network evaluations per image' \
  && ok || bad "the default sampler of a DDPM checkpoint is not ddpm"
smp --sampler ddim --steps 5 --out "$tmp/d_default.png"; smp --sampler ddim --steps 5 --eta 1 --out "$tmp/d_eta1.png"
cmp -s "$tmp/d_default.png" "$tmp/d_eta1.png" && ok || bad "ddim's default eta is not 1"

# A flag the checkpoint or the sampler would ignore is refused: DDPM runs all T steps.
expect_error "ddpm ignores --steps" '--steps has no effect with the ddpm sampler' "$genc" image sample --checkpoint "$ck" --steps 3 --out "$tmp/x.png"
expect_error "ddim ignores --variance" '--variance has no effect outside --sampler ddpm' "$genc" image sample --checkpoint "$ck" \
  --sampler ddim --variance fixed_large --out "$tmp/x.png"
expect_error "unconditional guidance" '--guidance has no effect on an unconditional' "$genc" image sample --checkpoint "$ck" \
  --sampler ddim --guidance 2 --out "$tmp/x.png"

# Class-conditional with label dropout; guidance w != 1 costs two evaluations a step.
"$genc" image train --model ddpm --cond --cond-drop 0.2 --T 50 --steps 4 "${net[@]}" --out "$tmp/cd" >"$tmp/cd.log" 2>&1 \
  || bad "conditional training failed: $(tail -1 "$tmp/cd.log")"
"$genc" image sample --checkpoint "$tmp/cd/checkpoint.safetensors" --sampler ddim --steps 5 --guidance 3 --label 4 \
  --count 4 --out "$tmp/cd.png" --threads 2 >"$tmp/cds.log" 2>&1 && grep -q '10 network evaluations per image' "$tmp/cds.log" \
  && ok || bad "guided sampling: $(cat "$tmp/cds.log")"
expect_error "bad label" '--label' "$genc" image sample --checkpoint "$tmp/cd/checkpoint.safetensors" --sampler ddim --label 10

# 4. Rectified flow, pairs, reflow, distillation, straightness.
"$genc" image train --model rflow --steps 30 "${net[@]}" --out "$tmp/f" >"$tmp/f.log" 2>&1 || bad "rflow training failed: $(tail -1 "$tmp/f.log")"
first=$(vloss "$tmp/f" 1p) last=$(vloss "$tmp/f" '$p')
python3 -c "import sys; sys.exit(0 if 0 < $last < $first else 1)" && ok || bad "rflow val loss $first -> $last"
fk="$tmp/f/checkpoint.safetensors"
"$genc" image sample --checkpoint "$fk" --sampler heun --steps 3 --count 40 --pairs "$tmp/pairs.safetensors" \
  --straightness 8 --out "$tmp/h.png" --threads 2 >"$tmp/h.log" 2>&1 || bad "heun/pairs failed: $(tail -1 "$tmp/h.log")"
grep -q 'straightness S = [0-9.]* per pixel' "$tmp/h.log" && ok || bad "no straightness line: $(cat "$tmp/h.log")"
"$genc" image train --model rflow --pairs "$tmp/pairs.safetensors" --init "$fk" --steps 5 "${net[@]}" --out "$tmp/f2" \
  >"$tmp/f2.log" 2>&1 && grep -q '(reflow, 2-rectified)' "$tmp/f2.log" && ok || bad "reflow: $(tail -2 "$tmp/f2.log")"
"$genc" image train --model rflow --pairs "$tmp/pairs.safetensors" --init "$tmp/f2/checkpoint.safetensors" --distill \
  --steps 5 "${net[@]}" --out "$tmp/f3" >"$tmp/f3.log" 2>&1 && ok || bad "distill: $(tail -1 "$tmp/f3.log")"
"$genc" image sample --checkpoint "$tmp/f3/checkpoint.safetensors" --sampler euler --steps 1 --count 4 --out "$tmp/o.png" \
  --threads 2 >"$tmp/o.log" 2>&1 && grep -q '1 network evaluations per image' "$tmp/o.log" && ok || bad "one-step: $(cat "$tmp/o.log")"

# 5. FID: a tiny classifier; FID(x, x) = 0 for a split, an images file and a PNG folder.
"$genc" classify train --c1 4 --c2 8 --hidden 16 --steps 20 --limit 1000 --val 100 --eval-every 0 --threads 2 \
  --out "$tmp/c" >"$tmp/c.log" 2>&1 || bad "classifier failed: $(tail -1 "$tmp/c.log")"
cls="$tmp/c/checkpoint.safetensors"
fid() { "$genc" image fid --classifier "$cls" --threads 2 "$@" 2>&1 | grep -o 'FID [0-9.e+-]*' | cut -d' ' -f2; }
v=$(fid --a fashion-mnist:test --b fashion-mnist:test --count 300)
python3 -c "import sys; sys.exit(0 if abs($v) < 1e-6 else 1)" && ok || bad "FID(test, test) = $v"
v=$(fid --a fashion-mnist:test --b fashion-mnist:train --count 300)
python3 -c "import sys; sys.exit(0 if $v > 0 else 1)" && ok || bad "FID(test, train) = $v"
# FID is symmetric, and two samples of real images are far closer than real images and the
# barely trained U-Net's samples (seen, 300 each: FID(test, train) 0.0017 vs FID(test, samples) 0.21).
vr=$(fid --a fashion-mnist:train --b fashion-mnist:test --count 300)
vs=$(fid --a fashion-mnist:test --b "$ck" --sampler ddim --steps 5 --count 300)
echo "FID: test/train $v, train/test $vr, test/samples $vs"
python3 -c "import sys; sys.exit(0 if abs($v - $vr) <= 1e-4 * $v + 1e-6 else 1)" && ok || bad "FID(test, train) $v != FID(train, test) $vr"
python3 -c "import sys; sys.exit(0 if $v * 5 < $vs else 1)" && ok || bad "FID(test, train) $v not << FID(test, samples) $vs"
mkdir -p "$tmp/pngs" && cp "$tmp"/i_*.png "$tmp/p1.png" "$tmp/p2.png" "$tmp/pngs/"
v=$(fid --a "$tmp/pngs" --b "$tmp/pngs" --count 30)
python3 -c "import sys; sys.exit(0 if abs($v) < 1e-6 else 1)" && ok || bad "FID(folder, folder) = $v"
v=$(fid --a "$tmp/imgs.safetensors" --b "$ck" --sampler ddim --steps 5 --eta 1 --clip-x0=false --ema=false --count 6)
python3 -c "import sys; sys.exit(0 if abs($v) < 1e-6 else 1)" && ok || bad "FID(saved, resampled) = $v"
# A run split in parts with --first gives the same images as one run.
for part in "0 2" "2 4"; do set -- $part
  "$genc" image sample --checkpoint "$fk" --sampler euler --steps 2 --first "$1" --count "$2" --out= \
    --save "$tmp/part$1.safetensors" --threads 2 >/dev/null 2>&1 || bad "sample part $1 failed"; done
"$genc" image sample --checkpoint "$fk" --sampler euler --steps 2 --count 6 --out= --save "$tmp/whole.safetensors" \
  --threads 2 >/dev/null 2>&1 || bad "whole sample failed"
v=$(fid --a "$tmp/part0.safetensors,$tmp/part2.safetensors" --b "$tmp/whole.safetensors" --count 6)
python3 -c "import sys; sys.exit(0 if abs($v) < 1e-6 else 1)" && ok || bad "FID(parts, whole) = $v"
"$genc" image fid --classifier "$cls" --a "$fk" --sampler euler --steps 2 --count 10 --threads 2 >"$tmp/fc.log" 2>&1 \
  && grep -q 'a: sampled 10 images from .* in [0-9.]* s' "$tmp/fc.log" && ok || bad "fid of a checkpoint: $(cat "$tmp/fc.log")"

# 6. Bad input: one line "genc: error: ...", non-zero exit, no crash.
expect_error "bad model" 'nice' "$genc" image train --model vae --steps 1 --out "$tmp/x"
expect_error "bad schedule" '--beta-schedule expects one of linear|scaled_linear|cosine' "$genc" image train --model ddpm --beta-schedule exp "${net[@]}" --steps 1 --out "$tmp/x"
expect_error "bad prediction" '--prediction expects one of epsilon|v' "$genc" image train --model ddpm --prediction noise "${net[@]}" --steps 1 --out "$tmp/x"
expect_error "bad mult" '--mult' "$genc" image train --model=ddpm "${net[@]}" --mult 1,2,x --steps 1 --out "$tmp/x"
expect_error "distill without pairs" '--init' "$genc" image train --model rflow --distill "${net[@]}" --steps 1 --out "$tmp/x"
expect_error "wrong sampler" 'euler or heun' "$genc" image sample --checkpoint "$fk" --sampler ddim --out "$tmp/x.png"
expect_error "bad spacing" '--spacing expects one of' "$genc" image sample --checkpoint "$ck" --sampler ddim --spacing odd --out "$tmp/x.png"
expect_error "too many steps" '--steps' "$genc" image sample --checkpoint "$ck" --sampler ddim --steps 500 --out "$tmp/x.png"
expect_error "bad eta" '--eta' "$genc" image sample --checkpoint "$ck" --sampler ddim --eta -1
head -c 3000 "$ck" >"$tmp/trunc.safetensors"
expect_error "truncated checkpoint" 'trunc.safetensors' "$genc" image sample --checkpoint "$tmp/trunc.safetensors" --sampler ddim
# a checkpoint whose config has beta_end 2 (same length as 0.02): refused naming the file
python3 -c "import sys; b = open(sys.argv[1], 'rb').read(); n = b.count(b'beta_end\\\\\":0.02'); \
open(sys.argv[2], 'wb').write(b.replace(b'beta_end\\\\\":0.02', b'beta_end\\\\\":2.00')); sys.exit(n != 1)" \
  "$ck" "$tmp/betas.safetensors" && ok || bad "could not write the bad-betas checkpoint"
expect_error "bad betas" 'betas.safetensors: config: diffusion: betas' "$genc" image sample --checkpoint "$tmp/betas.safetensors"
set_flag width 16 "${net[@]}"
expect_error "config mismatch" 'config' "$genc" image train --model ddpm --T 100 --steps 30 "${args[@]}" --resume --out "$tmp/r"
expect_error "fid missing side" 'nowhere' "$genc" image fid --classifier "$cls" --a "$tmp/nowhere" --count 10
expect_error "fid count" '--count' "$genc" image fid --classifier "$cls" --a fashion-mnist:test --count 999999
expect_error "fid bad split" 'train or NAME:test' "$genc" image fid --classifier "$cls" --a fashion-mnist:val --count 10
expect_error "fid not a classifier" 'config' "$genc" image fid --classifier "$ck" --a fashion-mnist:test --count 10

echo "e2e image diffusion: $pass passed, $fail failed"
[ $fail -eq 0 ]
