#!/usr/bin/env bash
# End-to-end check of GRPO: a base model trained for a minute on a generated single-digit
# addition corpus, then `genc lm grpo` on six fixed training prompts (JSON lines) with 16
# rollouts each; the mean training reward of the last 8 steps must exceed that of the first 8.
# Also: `lm eval --task` runs, and bad flags give one clear error line.
. "$(dirname "$0")/lib.sh" "$1"
task=(--task arith --a-digits 1 --b-digits 1 --ops + --heldout 10)
"$genc" lm corpus "${task[@]}" --docs 6000 --out "$tmp/corpus.txt" >/dev/null || bad "corpus"
"$genc" lm train --data "$tmp/corpus.txt" --tok-vocab 300 --steps 800 --batch 16 --seq 64 --eval-every 0 \
  --out "$tmp/base" --threads 2 >"$tmp/base.log" 2>&1 || bad "base training: $(tail -1 "$tmp/base.log")"
for q in "2 + 3:5" "4 + 4:8" "7 + 1:8" "6 + 3:9" "5 + 2:7" "9 + 0:9"; do
  printf '{"prompt": "What is %s?", "answer": "%s"}\n' "${q%%:*}" "${q##*:}"
done >"$tmp/train.jsonl"
"$genc" lm grpo --base "$tmp/base/checkpoint.safetensors" "${task[@]}" --problems "$tmp/train.jsonl" \
  --acc-needs-format=false --steps 40 --prompts 6 --group 16 --max-new 40 --temperature 1.0 --lr 1e-3 \
  --eval-every 0 --eval-problems 5 --eval-k 2 --out "$tmp/grpo" --threads 2 >"$tmp/grpo.log" 2>&1 \
  || bad "grpo: $(tail -1 "$tmp/grpo.log")"
python3 - "$tmp/grpo/metrics.jsonl" <<'PY' && ok || bad "reward did not rise"
import json, sys
r = [json.loads(l)["reward"] for l in open(sys.argv[1]) if '"event":"grpo"' in l]
first, last = sum(r[:8]) / 8, sum(r[-8:]) / 8
print("grpo reward: first 8 steps %.3f, last 8 steps %.3f" % (first, last))
sys.exit(0 if len(r) == 40 and last > first + 0.05 else 1)
PY
[ -s "$tmp/grpo/reward.png" ] && ok || bad "no reward curve"
"$genc" lm eval --checkpoint "$tmp/grpo/checkpoint.safetensors" "${task[@]}" --k 2 --max-new 40 --show 1 \
  --threads 2 >"$tmp/eval.log" 2>&1 && grep -q 'pass@1' "$tmp/eval.log" && ok || bad "eval --task"
expect_error "loss-agg" 'loss-agg' "$genc" lm grpo --base "$tmp/base/checkpoint.safetensors" --loss-agg mean --out "$tmp/x"
expect_error "task" 'task' "$genc" lm grpo --base "$tmp/base/checkpoint.safetensors" --task chess --out "$tmp/x"
expect_error "no base" 'nope' "$genc" lm grpo --base "$tmp/nope.safetensors" --out "$tmp/x"
printf '{"prompt": "What is 1 + 1?", "anwser": "2"}\n' >"$tmp/bad.jsonl"
expect_error "jsonl" 'bad.jsonl:1' "$genc" lm grpo --base "$tmp/base/checkpoint.safetensors" --problems "$tmp/bad.jsonl" --out "$tmp/x"
echo "e2e lm grpo: $pass passed, $fail failed"
[ $fail -eq 0 ]
