#!/usr/bin/env bash
# Fuzzes genc's GGUF reader (fuzz_gguf.c) for a bounded time from seeds written by
# tests/fuzz/gguf_seeds.py (small files of every key and tensor type; fuzz_lib.sh builds and
# runs it). Usage: tests/fuzz/run_fuzz_gguf.sh [SECONDS=30]. Exits non-zero on a crash; the
# crashing input is left in build-fuzz/artifacts/.
set -euo pipefail
source "$(dirname "$0")/fuzz_lib.sh"
fuzz_build fuzz_gguf
for t in GGUF general.alignment general.architecture tokenizer.ggml.tokens deepseek2.block_count; do
    printf '"%s"\n' "$t"
done >"$work/dict"
printf '"\\x03\\x00\\x00\\x00"\n"\\x08\\x00\\x00\\x00"\n"\\x09\\x00\\x00\\x00"\n"\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xff"\n' >>"$work/dict"
/usr/bin/python3 "$root/tests/fuzz/gguf_seeds.py" "$work/seeds"
fuzz_run fuzz_gguf "${1:-30}" 8192 "$work/seeds"
