#!/usr/bin/env bash
# The evidence of docs/fp8.md (DeepSeek-V3 report section 3.3): the same model, data and seed
# trained with the linear layers' GEMMs in FP32, BF16 and FP8 (E4M3, 1x128 / 128x128 scales,
# promotion every 128) and FP8 without promotion; the loss curves on one PNG and the relative
# loss errors against BF16; then the FP8 weights of the FP32 model (file size, perplexity).
# Usage: docs/fp8_evidence.sh [BUILD_DIR=build] [PRESET=tiny] [STEPS=2000]
# Environment: PRECISIONS="fp32 bf16 fp8 fp8none", BATCH=16 (sequences of 128 tokens per step),
# SEED=1, NICE=10, OUT=runs/fp8, RESUME=1 (go on from the checkpoints of interrupted runs). The runs go
# in parallel, one thread each; a run whose log already reports its last step is not run again.
set -euo pipefail
build=${1:-build}
preset=${2:-tiny}
steps=${3:-2000}
precisions=${PRECISIONS:-fp32 bf16 fp8 fp8none}
batch=${BATCH:-16}
nice=${NICE:-10}
genc="$build/genc"
F=/usr/share/games/fortunes
[ -f "$F/fortunes" ] || { echo "needs Debian's fortunes package (apt-get install fortunes)" >&2; exit 1; }
data=$(ls $F | grep -v -E '\.(dat|u8)$' | sed "s|^|$F/|" | paste -sd, -)
out=${OUT:-runs/fp8}
mkdir -p "$out"
[ -f "$out/tok1024.safetensors" ] || "$genc" tokenizer train --input "$data" --vocab 1024 --out "$out/tok1024.safetensors" >/dev/null
common=(--data "$data" --tokenizer "$out/tok1024.safetensors" --preset "$preset" --steps "$steps" --batch "$batch"
        --eval-every $((steps / 4)) --save-every $((steps / 4)) --threads 1 --seed "${SEED:-1}")
for p in $precisions; do
  flags=(--precision "$p")
  [ "$p" = fp8none ] && flags=(--precision fp8 --fp8-promote none)
  log="$out/${preset}_$p.log"
  grep -q "the last step, $steps)" "$log" 2>/dev/null && continue
  if [ -n "${RESUME:-}" ] && [ -f "$out/${preset}_$p/checkpoint.safetensors" ]; then
    flags+=(--resume)  # an interrupted run goes on from its checkpoint (bit-exact); metrics past it dropped
    python3 -c "import json,sys; p=sys.argv[1]; k=int(sys.argv[2]); L=[l for l in open(p) if json.loads(l).get('step', 0) <= k]; open(p, 'w').writelines(L)" \
      "$out/${preset}_$p/metrics.jsonl" "$(grep -a -o 'interrupted at step [0-9]*' "$log" | tail -1 | grep -o '[0-9]*$')"
  fi
  nice -n "$nice" /usr/bin/time -f "cpu_s %U wall_s %e" "$genc" lm train "${common[@]}" "${flags[@]}" \
    --out "$out/${preset}_$p" >>"$log" 2>&1 &
done
wait
series=()  # BF16 first: the reference of the relative errors
for p in bf16 $(echo "$precisions" | tr ' ' '\n' | grep -v '^bf16$'); do
  [ -f "$out/${preset}_$p/metrics.jsonl" ] && series+=("$p=$out/${preset}_$p/metrics.jsonl")
done
"$build/bench_fp8_curves" "$out/${preset}_loss.png" 50 "${series[@]}" | tee "$out/${preset}_table.txt"
