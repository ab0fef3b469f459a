#!/usr/bin/env bash
# `make demo-lm`: train a tiny DeepSeek-V3-architecture model (MLA, DeepSeekMoE with
# aux-loss-free balancing, MTP) on Debian's fortunes corpus (2.5 MB of English) for a few
# minutes, report held-out perplexity, then sample from it with the latent KV cache.
set -euo pipefail
build=${1:-build}
threads=${2:-2}
steps=${DEMO_STEPS:-1200}
F=/usr/share/games/fortunes
data=$(ls "$F" | grep -v -E '\.(dat|u8)$' | sed "s|^|$F/|" | paste -sd, -)
out=runs/demo
"$build/genc" lm train --data "$data" --tok-vocab 1024 --steps "$steps" --eval-every 300 --threads "$threads" --out "$out"
for prompt in "The secret of life is" "A computer" "Q: Why did the"; do
  echo
  echo "--- genc lm sample --prompt \"$prompt\""
  "$build/genc" lm sample --checkpoint "$out/checkpoint.safetensors" --prompt "$prompt" --max-new 80 \
    --temperature 0.8 --top-p 0.95 --seed 1 --stop '\n\n' --threads "$threads"
done
