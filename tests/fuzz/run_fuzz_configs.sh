#!/usr/bin/env bash
# Fuzzes the model-config parsers (fuzz_configs.c: the JSON "config" metadata of
# language-model, U-Net, NICE, Glow, classifier and diffusion checkpoints) for a bounded time
# from the committed seeds in tests/fuzz/corpus_configs (one valid config per parser, the
# first byte picks the parser, plus inputs that once crashed it; fuzz_lib.sh builds and runs it).
# Usage: tests/fuzz/run_fuzz_configs.sh [SECONDS=30]. Exits non-zero on a crash.
set -euo pipefail
source "$(dirname "$0")/fuzz_lib.sh"
fuzz_build fuzz_configs
for t in model unet nice glow convnet diffusion family prior logistic gaussian mult channels \
         hidden_size vocab_size n_routed_experts scoring_func softmax genc_balance aux_loss none \
         ddpm rflow stage reflow schedule cosine scaled_linear prediction epsilon v_prediction cond_drop; do
    printf '"\\"%s\\""\n' "$t"
done >"$work/dict"
printf '"-1"\n"0"\n"1e308"\n"2147483648"\n"-0.0"\n"[]"\n"{}"\n"null"\n"true"\n' >>"$work/dict"
fuzz_run fuzz_configs "${1:-30}" 2048 "$root/tests/fuzz/corpus_configs"
