#!/usr/bin/env bash
# Builds the libFuzzer target for the model-config parsers (fuzz_configs.c: the JSON "config"
# metadata of language-model, U-Net, NICE, Glow and classifier checkpoints) with clang (ASan,
# UBSan, coverage) and fuzzes it for a bounded time, from the committed seeds in
# tests/fuzz/corpus_configs (one valid config per parser; the first byte picks the parser).
# Usage: tests/fuzz/run_fuzz_configs.sh [SECONDS=30]. Exits non-zero on a crash.
set -euo pipefail
secs=${1:-30}
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${GENC_FUZZ_BUILD:-$root/build-fuzz}
CC=clang cmake -S "$root" -B "$build" -DGENC_FUZZ=ON -DGENC_NATIVE=ON -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" --target fuzz_configs -j "$(nproc)"
work=$(mktemp -d /tmp/genc_fuzz_configs_XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/corpus" "$build/artifacts"
for t in model unet nice glow convnet diffusion family prior logistic gaussian mult channels \
         hidden_size vocab_size n_routed_experts scoring_func softmax genc_balance aux_loss none; do
    printf '"\\"%s\\""\n' "$t"
done >"$work/dict"
printf '"-1"\n"0"\n"1e308"\n"2147483648"\n"-0.0"\n"[]"\n"{}"\n"null"\n"true"\n' >>"$work/dict"
"$build/fuzz_configs" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=2048 \
    -print_final_stats=1 -dict="$work/dict" -artifact_prefix="$build/artifacts/" "$work/corpus" \
    "$root/tests/fuzz/corpus_configs"
