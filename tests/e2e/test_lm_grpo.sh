#!/usr/bin/env bash
# End-to-end check of GRPO under the R1 rule: a base model trained for a minute on a
# generated single-digit addition corpus, then `genc lm grpo` (short template, <think>
# prefill) on six fixed training prompts (JSON lines) with 16 rollouts each; the think rate
# (well-formed replies with a non-blank think) of the last 8 steps must exceed that of the
# first 8 by 0.08 and the mean reward by 0.008 (seen: 0.829 -> 0.992 and 0.083 -> 0.099; the
# reward here is the 0.1 format reward, accuracy stays 0 under the R1 rule). This checks the learning loop, not
# reasoning: the think blocks it learns may be the corpus's placeholders (docs/r1zero.md).
# Also: `lm eval --task` prints the think statistics and the trivial baselines, the R1
# template is refused where it does not fit the model, and bad flags give one clear line.
. "$(dirname "$0")/lib.sh" "$1"
task=(--task arith --a-digits 1 --b-digits 1 --ops + --heldout 10)
"$genc" lm corpus "${task[@]}" --docs 6000 --out "$tmp/corpus.txt" >/dev/null || bad "corpus"
"$genc" lm train --data "$tmp/corpus.txt" --tok-vocab 300 --steps 800 --batch 16 --seq 64 --eval-every 0 \
  --out "$tmp/base" --threads 2 >"$tmp/base.log" 2>&1 || bad "base training: $(tail -1 "$tmp/base.log")"
for q in "2 + 3:5" "4 + 4:8" "7 + 1:8" "6 + 3:9" "5 + 2:7" "9 + 0:9"; do
  printf '{"prompt": "What is %s?", "answer": "%s"}\n' "${q%%:*}" "${q##*:}"
done >"$tmp/train.jsonl"
"$genc" lm grpo --base "$tmp/base/checkpoint.safetensors" "${task[@]}" --problems "$tmp/train.jsonl" \
  --template short --steps 40 --prompts 6 --group 16 --max-new 40 --temperature 1.0 --lr 1e-3 \
  --eval-every 0 --eval-problems 5 --eval-k 2 --out "$tmp/grpo" --threads 2 >"$tmp/grpo.log" 2>&1 \
  || bad "grpo: $(tail -1 "$tmp/grpo.log")"
python3 - "$tmp/grpo/metrics.jsonl" <<'PY' && ok || bad "reward or think rate did not rise"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if '"event":"grpo"' in l]
def mean(key, part): return sum(r[key] for r in part) / len(part)
r0, r1 = mean("reward", rows[:8]), mean("reward", rows[-8:])
t0, t1 = mean("think", rows[:8]), mean("think", rows[-8:])
print("grpo: reward %.3f -> %.3f, think rate %.3f -> %.3f (first / last 8 steps)" % (r0, r1, t0, t1))
sys.exit(0 if len(rows) == 40 and r1 > r0 + 0.008 and t1 > t0 + 0.08 else 1)
PY
for png in reward length think; do [ -s "$tmp/grpo/$png.png" ] && ok || bad "no $png.png"; done
"$genc" lm eval --checkpoint "$tmp/grpo/checkpoint.safetensors" "${task[@]}" --template short --k 2 --max-new 40 \
  --show 1 --threads 2 >"$tmp/eval.log" 2>&1 && grep -q 'pass@1 .*think .*think tokens' "$tmp/eval.log" \
  && grep -q '^trivial baselines on these 10 problems: first number' "$tmp/eval.log" && ok || bad "eval --task"
expect_error "r1 too long" 'exceed' "$genc" lm eval --checkpoint "$tmp/base/checkpoint.safetensors" "${task[@]}" \
  --max-new 40
expect_error "template" 'template' "$genc" lm grpo --base "$tmp/base/checkpoint.safetensors" --template chat --out "$tmp/x"
expect_error "loss-agg" 'loss-agg' "$genc" lm grpo --base "$tmp/base/checkpoint.safetensors" --loss-agg mean --out "$tmp/x"
expect_error "task" 'task' "$genc" lm grpo --base "$tmp/base/checkpoint.safetensors" --task chess --out "$tmp/x"
expect_error "no base" 'nope' "$genc" lm grpo --base "$tmp/nope.safetensors" --out "$tmp/x"
printf '{"prompt": "What is 1 + 1?", "anwser": "2"}\n' >"$tmp/bad.jsonl"
expect_error "jsonl" 'bad.jsonl:1' "$genc" lm grpo --base "$tmp/base/checkpoint.safetensors" --problems "$tmp/bad.jsonl" --out "$tmp/x"
# The default pipeline: lm grpo's default --base is where lm train writes by default.
mkdir -p "$tmp/pipe/runs/lm" && cp "$tmp/base/checkpoint.safetensors" "$tmp/pipe/runs/lm/"
(cd "$tmp/pipe" && "$genc" lm grpo --template short --steps 1 --prompts 2 --group 2 --max-new 8 --eval-every 0 \
  --eval-problems 2 --eval-k 1 --threads 1 >log 2>&1) && [ -s "$tmp/pipe/runs/grpo/checkpoint.safetensors" ] && ok \
  || bad "lm grpo did not find lm train's default output: $(tail -1 "$tmp/pipe/log")"
"$genc" lm --help >"$tmp/help.txt" && grep -q '^  genc lm  *grpo' "$tmp/help.txt" && ! grep -q 'genc image' "$tmp/help.txt" \
  && ok || bad "genc lm --help"
echo "e2e lm grpo: $pass passed, $fail failed"
[ $fail -eq 0 ]
