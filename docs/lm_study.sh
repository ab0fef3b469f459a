#!/usr/bin/env bash
# The language-model study of docs/lm_study.md: at equal compute per token (same steps,
# batch, sequence length and active FFN width), on Debian's fortunes corpus:
#   dense vs MoE; MoE with aux-loss-free balancing vs the classic auxiliary loss vs none;
#   MTP (D = 1) on vs off.
# Reports held-out loss of the main head, perplexity, mean MaxVio over the last 50 steps
# and wall time. Usage: docs/lm_study.sh [BUILD_DIR=build] [STEPS=600]
set -euo pipefail
build=${1:-build}
steps=${2:-600}
genc="$build/genc"
F=/usr/share/games/fortunes
[ -f "$F/fortunes" ] || { echo "needs Debian's fortunes package (apt-get install fortunes)" >&2; exit 1; }
data=$(ls $F | grep -v -E '\.(dat|u8)$' | sed "s|^|$F/|" | paste -sd, -)
out=${OUT:-runs/study}
mkdir -p "$out"
"$genc" tokenizer train --input "$data" --vocab 1024 --out "$out/tokenizer.safetensors" >/dev/null
common=(--data "$data" --tokenizer "$out/tokenizer.safetensors" --steps "$steps" --batch 16 --seq 128
        --eval-every "$steps" --eval-tokens 0 --threads 2 --seed 1)
# The tiny preset's MoE layer activates 1 shared + 2 routed experts of width 32: an active
# FFN width of 96, the width of the dense comparator's second layer.
declare -A runs=(
  [dense]="--experts 0 --dense-layers 0 --dense-inter 96 --mtp 0"
  [moe_aux_free]="--mtp 0 --balance aux_free --bias-gamma 0.01"
  [moe_aux_loss]="--mtp 0 --balance aux_loss --aux-alpha 0.01 --seq-aux false"
  [moe_none]="--mtp 0 --balance none"
  [moe_aux_free_mtp1]="--mtp 1 --balance aux_free --bias-gamma 0.01"
)
printf '| run | flags | parameters | val loss | val ppl | MaxVio (last 50 steps) | seconds |\n|---|---|---|---|---|---|---|\n' >"$out/table.md"
for name in dense moe_aux_free moe_aux_loss moe_none moe_aux_free_mtp1; do
  # shellcheck disable=SC2086
  /usr/bin/time -f %e -o "$out/$name.time" "$genc" lm train "${common[@]}" ${runs[$name]} --out "$out/$name" >"$out/$name.log" 2>&1
  python3 - "$out/$name" "$name" "${runs[$name]}" "$(cat "$out/$name.time")" >>"$out/table.md" <<'PY'
import json, re, sys
d, name, flags, secs = sys.argv[1:]
rows = [json.loads(l) for l in open(d + "/metrics.jsonl")]
ev = [r for r in rows if r.get("event") == "eval"][-1]
mv = [sum(r["maxvio"]) / len(r["maxvio"]) for r in rows if r.get("maxvio")][-50:]
params = re.search(r"vocab \d+, (\d+) parameters", open(d + "/../" + name + ".log").read()).group(1)
mvs = "%.3f" % (sum(mv) / len(mv)) if mv else "-"
print("| %s | `%s` | %s | %.4f | %.2f | %s | %s |" % (name, flags, params, ev["val_loss"], ev["val_ppl"], mvs, secs))
PY
done
cat "$out/table.md"
