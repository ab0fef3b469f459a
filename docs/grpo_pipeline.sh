#!/usr/bin/env bash
# The R1-Zero-style pipeline in one command: a generated pre-training corpus (worked
# solutions as ordinary text, never reasoning inside <think>), a base model trained on it,
# held-out evaluation, GRPO with rule-based rewards, held-out evaluation again at the same
# sampling settings. Usage: docs/grpo_pipeline.sh [BUILD_DIR=build] [OUT=runs/flagship]
set -euo pipefail
build=${1:-build}
out=${2:-runs/flagship}
genc="$build/genc"
mkdir -p "$out"
task=(--task arith --a-digits 2 --b-digits 2 --ops + --heldout 200 --heldout-seed 777)
sampling=(--temperature 0.7 --max-new 100 --acc-needs-format=false)
"$genc" lm corpus "${task[@]}" --docs 20000 --out "$out/corpus.txt"
"$genc" lm train --data "$out/corpus.txt" --tok-vocab 400 --preset small --steps ${BASE_STEPS:-1500} --batch 32 \
  --seq 64 --lr 2e-3 --eval-every 500 --out "$out/base"
echo "== before GRPO"
"$genc" lm eval --checkpoint "$out/base/checkpoint.safetensors" "${task[@]}" "${sampling[@]}" --k 4 | tee "$out/before.txt"
"$genc" lm grpo --base "$out/base/checkpoint.safetensors" "${task[@]}" "${sampling[@]}" --steps ${GRPO_STEPS:-60} \
  --prompts 8 --group 8 --lr 2e-5 --eval-every 20 --eval-problems 100 --eval-k 2 --out "$out/grpo"
echo "== after GRPO"
"$genc" lm eval --checkpoint "$out/grpo/checkpoint.safetensors" "${task[@]}" "${sampling[@]}" --k 4 | tee "$out/after.txt"
