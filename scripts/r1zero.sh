#!/usr/bin/env bash
# The R1-Zero recipe end to end (docs/r1zero.md): a pre-training corpus that teaches the
# skill only as ordinary prose (no document in the RL template, no reasoning inside think
# tags), a tiny DeepSeek-V3-architecture base model trained on it, held-out evaluation in
# the R1 format (accuracy only inside <answer> of a well-formed reply), GRPO with rule-based
# rewards alone, the same evaluation after, the no-thinking ablation (the think block forced
# empty) and an out-of-distribution set with one more digit.
#
# Usage: scripts/r1zero.sh [BUILD=build] [OUT=runs/r1zero]; environment (defaults give the
# full run of docs/r1zero.md): SEED (1), THREADS (2), DOCS (20000), BASE_STEPS (2000),
# GRPO_STEPS (120), R1_STEPS (200), EVAL_N (200 held-out problems), EVAL_K (4 samples each),
# TEMPLATE (short), CORPUS: "markup" (default: worked solutions in tags of made-up names,
# tags read as text, lm corpus --style markup, lm train --tok-tags text) or "plain" (tags as
# special tokens, session 8's corpus); RULE: the rewards GRPO trains on, "two-stage"
# (default: GRPO_STEPS with the answer block counted anywhere and no format reward, then
# R1_STEPS under the R1 rule with its 0.1 format reward), "anywhere" (the first stage only)
# or "r1" (the R1 rule from the start); STAGE2_OPTS: lm grpo flags of the R1-rule stage
# (--no-std; empty for session 9's stage); REUSE_BASE=1 keeps a base already in OUT/base. Every evaluation scores both rules. Every step
# writes into OUT; summary.txt holds the table.
set -euo pipefail
build=${1:-build}
out=${2:-runs/r1zero}
genc="$build/genc"
seed=${SEED:-1} threads=${THREADS:-2}
start=$(date +%s)
mkdir -p "$out"
task=(--task arith --ops + --a-digits 3 --b-digits 3)
ood=(--task arith --ops + --a-digits 4 --b-digits 4)
held=(--heldout "${EVAL_N:-200}" --heldout-seed 777)
reply=(--template "${TEMPLATE:-short}" --max-new 160)
eval_opts=(--k "${EVAL_K:-4}" --temperature 0.7 --seed 5 --threads "$threads" "${reply[@]}")
anywhere=(--acc-needs-format=false --w-fmt 0)
case "${RULE:-two-stage}" in
  anywhere|two-stage) rule=("${anywhere[@]}") ;;
  r1) rule=() ;;
  *) echo "r1zero.sh: RULE: expected two-stage, anywhere or r1, found \"$RULE\"" >&2; exit 2 ;;
esac
# Stage 2's advantages skip the division by the group's reward std (Dr. GRPO): with it, a
# group where one reply collects the 0.1 format reward and none is correct gives that reply
# the advantage a correct one would get, and the format wins over the working
# (docs/r1zero.md, "Replies that grow").
read -r -a stage2 <<< "${STAGE2_OPTS---no-std}"
case "${CORPUS:-markup}" in
  markup) style=(--style markup) tags=(--tok-tags text) ;;
  plain) style=() tags=() ;;
  *) echo "r1zero.sh: CORPUS: expected markup or plain, found \"$CORPUS\"" >&2; exit 2 ;;
esac
note() { printf '\n== %s (%d s)\n' "$1" $(($(date +%s) - start)); }

make_base() {
note "1. pre-training corpus: 3-digit sums (held-out problems excluded) and 4-digit sums (the OOD set excluded)"
"$genc" lm corpus "${task[@]}" "${held[@]}" "${style[@]}" --docs "${DOCS:-20000}" --seed "$seed" --out "$out/corpus3.txt"
"$genc" lm corpus "${ood[@]}" "${held[@]}" "${style[@]}" --docs $(( ${DOCS:-20000} / 4 )) --seed "$seed" --out "$out/corpus4.txt"
cat "$out/corpus3.txt" <(echo) "$out/corpus4.txt" > "$out/corpus.txt"

note "2. base model: tiny preset (MLA, DeepSeekMoE, MTP), 512 positions"
"$genc" lm train --data "$out/corpus.txt" --tok-vocab 400 --tok-pretok genc-v1 "${tags[@]}" --preset tiny --max-seq 512 --steps "${BASE_STEPS:-2000}" \
  --batch 8 --seq 512 --lr 3e-3 --eval-every 1000 --seed "$seed" --threads "$threads" --out "$out/base"
}
if [ -n "${REUSE_BASE:-}" ] && [ -f "$out/base/checkpoint.safetensors" ]; then note "1-2. the base in $out/base (REUSE_BASE)"
else make_base; fi

evaluate() { # checkpoint label
  "$genc" lm eval --checkpoint "$1" "${task[@]}" "${held[@]}" "${eval_opts[@]}" | tee "$out/$2.txt"
  "$genc" lm eval --checkpoint "$1" "${ood[@]}" "${held[@]}" "${eval_opts[@]}" | tee "$out/$2_ood.txt"
  "$genc" lm eval --checkpoint "$1" "${task[@]}" "${held[@]}" "${eval_opts[@]}" --empty-think | tee "$out/$2_nothink.txt"
  "$genc" lm eval --checkpoint "$1" "${task[@]}" "${held[@]}" "${eval_opts[@]}" --acc-needs-format=false | tee "$out/$2_any.txt"
  "$genc" lm eval --checkpoint "$1" "${ood[@]}" "${held[@]}" "${eval_opts[@]}" --acc-needs-format=false | tee "$out/$2_any_ood.txt"
  "$genc" lm eval --checkpoint "$1" "${task[@]}" "${held[@]}" "${eval_opts[@]}" --acc-needs-format=false --empty-think \
    | tee "$out/$2_any_nothink.txt"
}
note "3. the base model, held-out, R1 rule (well-formed replies only)"
evaluate "$out/base/checkpoint.safetensors" before

grpo() { # base out steps rule...
  local base=$1 dir=$2 steps=$3; shift 3
  "$genc" lm grpo --base "$base" "${task[@]}" "${held[@]}" "${reply[@]}" "$@" \
    --steps "$steps" --prompts 8 --group 8 --temperature 1.0 --lr 1e-4 \
    --dynamic-sampling 4 --eval-every 40 --eval-problems 50 --eval-k 2 --seed "$seed" --threads "$threads" \
    --out "$dir"
}
note "4. GRPO: rule-based rewards only (RULE=${RULE:-two-stage})"
grpo "$out/base/checkpoint.safetensors" "$out/grpo" "${GRPO_STEPS:-120}" "${rule[@]}"
final="$out/grpo/checkpoint.safetensors"
if [ "${RULE:-two-stage}" = two-stage ]; then
  note "4b. GRPO stage 2: the R1 rule (accuracy only in a well-formed reply, 0.1 format reward), ${stage2[*]}"
  grpo "$final" "$out/grpo_r1" "${R1_STEPS:-200}" "${stage2[@]}"
  final="$out/grpo_r1/checkpoint.safetensors"
fi

note "5. after GRPO: the same evaluations"
evaluate "$final" after

field() { sed -n "s/.*$2 \([0-9.]*\)%.*/\1/p" "$out/$1.txt"; }
tokens() { sed -n 's/.*think tokens \([0-9.]*\),.*/\1/p' "$out/$1.txt"; }
length() { sed -n 's/.*mean length \([0-9.]*\) tokens.*/\1/p' "$out/$1.txt"; }
{
  printf 'GRPO trained on RULE=%s, CORPUS=%s\n' "${RULE:-two-stage}" "${CORPUS:-markup}"
  printf '%-44s %10s %10s\n' "held-out, T 0.7" before after
  row() { printf '%-44s %9s%% %9s%%\n' "$1" "$(field "before$2" "$3")" "$(field "after$2" "$3")"; }
  row "pass@1, R1 rule (well-formed replies only)" "" pass@1
  row "pass@1, answer block anywhere" _any pass@1
  row "format (well-formed)" "" format
  row "think rate" "" think
  row "correct after thinking" "" "correct after thinking"
  printf '%-44s %10s %10s\n' "think tokens" "$(tokens before)" "$(tokens after)"
  printf '%-44s %10s %10s\n' "response tokens" "$(length before)" "$(length after)"
  row "pass@1, think forced empty, R1 rule" _nothink pass@1
  row "pass@1, think forced empty, anywhere" _any_nothink pass@1
  row "pass@1, 4-digit sums (OOD), R1 rule" _ood pass@1
  row "pass@1, 4-digit sums (OOD), anywhere" _any_ood pass@1
  grep -h "trivial baselines" "$out/after.txt" | head -1
  printf 'total %d s\n' $(($(date +%s) - start))
} | tee "$out/summary.txt"
