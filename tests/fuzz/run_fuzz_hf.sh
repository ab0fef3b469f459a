#!/usr/bin/env bash
# Fuzzes the Hugging Face folder readers' JSON parts (fuzz_hf.c: config.json key by key,
# tokenizer.json of genc's layout) for a bounded time from the committed seeds in
# tests/fuzz/corpus_hf (a genc export's config.json and tokenizer.json, a DeepSeek-style
# config with nulls and FP8 quantization_config). Usage: tests/fuzz/run_fuzz_hf.sh
# [SECONDS=30]. Exits non-zero on a crash; the input is left in build-fuzz/artifacts/.
set -euo pipefail
source "$(dirname "$0")/fuzz_lib.sh"
fuzz_build fuzz_hf
for t in rope_scaling norm_topk_prob scoring_func sigmoid softmax n_group topk_group quantization_config \
         weight_block_size topk_method noaux_tc hidden_act silu merges vocab pre_tokenizer Split ByteLevel BPE null; do
    printf '"\\"%s\\""\n' "$t"
done >"$work/dict"
fuzz_run fuzz_hf "${1:-30}" 65536 "$root/tests/fuzz/corpus_hf"
