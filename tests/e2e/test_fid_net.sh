#!/usr/bin/env bash
# End-to-end checks of the pinned FID/KID feature network: the same `classify train` command
# twice gives the same weights hash (a different seed a different one); `image fid --hash`
# prints it; without --classifier, `image fid` uses GENC_DATA/fid/NAME.safetensors for the
# split's data set and prints the hash, FID, KID with its interval and precision/recall; and
# --seeds 3 prints a summary with intervals. A tiny MLP on 500 Fashion-MNIST images.
. "$(dirname "$0")/lib.sh" "$1"
if [ ! -d /usr/share/datasets/fashion-mnist ]; then
    echo "skipped: Fashion-MNIST not installed (make deps)"
    [ "${GENC_REQUIRE_DEPS:-0}" = 1 ] && exit 1 || exit 77
fi
cls=(classify train --data fashion-mnist --arch mlp --hidden 16 --limit 500 --val 100 --steps 8 --eval-every 0
     --threads 1)
hash_of() { "$genc" image fid --classifier "$1" --hash | grep -o 'fnv1a64 [0-9a-f]*'; }
"$genc" "${cls[@]}" --seed 3 --out "$tmp/a" >/dev/null 2>&1 && "$genc" "${cls[@]}" --seed 3 --out "$tmp/b" >/dev/null 2>&1 \
    && "$genc" "${cls[@]}" --seed 4 --out "$tmp/c" >/dev/null 2>&1 && ok || bad "classify train failed"
ha=$(hash_of "$tmp/a/checkpoint.safetensors") hb=$(hash_of "$tmp/b/checkpoint.safetensors")
hc=$(hash_of "$tmp/c/checkpoint.safetensors")
echo "hashes: seed 3 '$ha' and '$hb', seed 4 '$hc'"
[ -n "$ha" ] && [ "$ha" = "$hb" ] && ok || bad "the same command gave different weights: $ha / $hb"
[ -n "$hc" ] && [ "$ha" != "$hc" ] && ok || bad "another seed gave the same hash: $hc"

# The pinned net is found from the data folder when --classifier is not given.
mkdir -p "$tmp/data/fid" && cp "$tmp/a/checkpoint.safetensors" "$tmp/data/fid/fashion-mnist.safetensors"
GENC_DATA="$tmp/data" "$genc" image fid --a fashion-mnist:train --b fashion-mnist:test --count 200 --seeds 3 \
    --threads 1 >"$tmp/f.log" 2>&1 || bad "image fid: $(tail -1 "$tmp/f.log")"
cat "$tmp/f.log"
grep -q "^feature net: $tmp/data/fid/fashion-mnist.safetensors, .*not Inception-v3.*$ha" "$tmp/f.log" && ok \
    || bad "no feature-net line with the hash"
[ "$(grep -c '^FID [0-9.e+-]*  KID [0-9.e+-]* \[[0-9.e+-]*, [0-9.e+-]*\]  precision [0-9.]* recall' "$tmp/f.log")" = 3 ] \
    && ok || bad "expected 3 lines of FID, KID [lo, hi], precision, recall"
grep -q '^over 3 seeds .* FID .* KID .* precision .* recall' "$tmp/f.log" && ok || bad "no summary over 3 seeds"
expect_error "no pinned net" "fid/fashion-mnist.safetensors: no pinned feature net; train it once with .bash scripts/fid_net.sh fashion-mnist." env GENC_DATA="$tmp/none" "$genc" image fid \
    --a fashion-mnist:test --count 10
expect_error "no split, no classifier" "--classifier is required" "$genc" image fid --a "$tmp/x" --b "$tmp/y"

echo "e2e fid net: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
