#!/usr/bin/env bash
# Data-parallel GRPO over MPI (mpirun --oversubscribe -np 2, loopback): with a random stream per
# rollout (--rollout-streams rollout, what several ranks use) 2 ranks, each rolling out half of
# the groups, sample the same rollouts as 1 process (the rewards of every step are equal) and
# end with its parameters; a run resumes from 2 ranks to 1; prompts that do not split, one
# shared stream over 2 ranks and ranks started with different flags are refused in one line.
# Tolerance: the ranks' gradients are summed in another order than one process's and the
# training rows are padded to another length, so the parameters agree to float rounding, not
# bit for bit: at most 1e-5 apart after 6 AdamW steps (seen: 1.2e-6, while the 6 steps moved the
# policy by 6e-3 from the base). A token sampled differently would change a reward and move the
# parameters by far more.
. "$(dirname "$0")/lib.sh" "$1"
. "$(dirname "$0")/mpi_lib.sh"
task=(--task arith --a-digits 1 --b-digits 1 --ops + --heldout 10)
"$genc" lm corpus "${task[@]}" --docs 6000 --out "$tmp/corpus.txt" >/dev/null || bad "corpus"
"$genc" lm train --data "$tmp/corpus.txt" --tok-vocab 300 --steps 600 --batch 16 --seq 64 --eval-every 0 \
  --out "$tmp/base" --threads 1 >"$tmp/base.log" 2>&1 || bad "base training: $(tail -1 "$tmp/base.log")"
for q in "2 + 3:5" "4 + 4:8" "7 + 1:8" "6 + 3:9"; do
  printf '{"prompt": "What is %s?", "answer": "%s"}\n' "${q%%:*}" "${q##*:}"
done >"$tmp/train.jsonl"
common=(--base "$tmp/base/checkpoint.safetensors" "${task[@]}" --problems "$tmp/train.jsonl" --template short
        --steps 6 --prompts 4 --group 8 --max-new 40 --reward tinyzero --lr 1e-3 --eval-every 0 --eval-problems 2 --eval-k 1
        --threads 1)
tol=1e-5

# 1. Equivalence: 1 process with a stream per rollout, and 2 ranks of 2 groups each.
"$genc" lm grpo "${common[@]}" --rollout-streams rollout --out "$tmp/one" >"$tmp/one.log" 2>&1 \
  || bad "1 rank failed: $(tail -1 "$tmp/one.log")"
mpi -np 2 "$genc" lm grpo "${common[@]}" --out "$tmp/two" >"$tmp/two.log" 2>&1 || bad "2 ranks failed: $(cat "$tmp/two.log")"
# The same rollouts: every step's rewards, and a batch that carried a learning signal.
python3 - "$tmp/one/metrics.jsonl" "$tmp/two/metrics.jsonl" <<'PY' && ok || bad "the rollouts differ (or had no signal)"
import json, sys
rows = [[json.loads(l) for l in open(p) if '"event":"grpo"' in l] for p in sys.argv[1:]]
same = len(rows[0]) == len(rows[1]) == 6 and all(a["rewards"] == b["rewards"] for a, b in zip(*rows))
signal = sum(r["groups_with_signal"] for r in rows[0])
print("rewards equal at every step: %s; groups with a signal over 6 steps: %d" % (same, signal))
sys.exit(0 if same and signal > 0 else 1)
PY
d=$(params_diff "$tmp/one/checkpoint.safetensors" "$tmp/two/checkpoint.safetensors")
echo "1 vs 2 ranks: largest parameter difference $d"
within $tol "$d" && ok || bad "2 ranks differ from 1 rank by $d (> $tol)"
m=$(params_diff "$tmp/base/checkpoint.safetensors" "$tmp/one/checkpoint.safetensors")
echo "the policy moved from the base by $m"
within 1e-3 "$m" && bad "GRPO barely moved the policy ($m): the equivalence says nothing" || ok
grep -q '^dist: 2 ranks x 2 groups; [0-9]* bytes sent per step per rank' "$tmp/two.log" && ok \
  || bad "no bytes-per-step line: $(cat "$tmp/two.log")"
[ "$(grep -c '^grpo: ' "$tmp/two.log")" -eq 1 ] && ok || bad "the opening line was printed $(grep -c '^grpo: ' "$tmp/two.log") times"
for png in reward length think; do [ -s "$tmp/two/$png.png" ] && ok || bad "no $png.png from 2 ranks"; done

# 2. Resume across rank counts: 3 steps on 2 ranks, then 3 on 1 process.
mpi -np 2 "$genc" lm grpo "${common[@]}" --stop-at 3 --out "$tmp/r21" >"$tmp/r21a.log" 2>&1 || bad "2-rank half failed"
"$genc" lm grpo "${common[@]}" --rollout-streams rollout --resume --out "$tmp/r21" >"$tmp/r21b.log" 2>&1 \
  || bad "1-rank resume failed: $(tail -1 "$tmp/r21b.log")"
d=$(params_diff "$tmp/one/checkpoint.safetensors" "$tmp/r21/checkpoint.safetensors")
echo "2 ranks then 1: $d"
within $tol "$d" && ok || bad "2 -> 1 rank resume differs by $d"

# 3. Refusals, each one error line before any step: prompts that do not split, one shared stream
#    over 2 ranks, ranks started with different flags (naming rank 1).
set_flag prompts 3 "${common[@]}"
mpi -np 2 "$genc" lm grpo "${args[@]}" --out "$tmp/x1" >"$tmp/x1.log" 2>&1 && bad "3 prompts on 2 ranks ran"
grep -q '^genc: error: grpo: 3 prompts per rollout batch do not split over 2 ranks' "$tmp/x1.log" && ok \
  || bad "odd prompts: $(cat "$tmp/x1.log")"
mpi -np 2 "$genc" lm grpo "${common[@]}" --rollout-streams shared --out "$tmp/x2" >"$tmp/x2.log" 2>&1 && bad "shared ran"
grep -q '^genc: error: --rollout-streams shared: one stream cannot be split over 2 ranks' "$tmp/x2.log" && ok \
  || bad "shared stream: $(cat "$tmp/x2.log")"
mpi -np 1 "$genc" lm grpo "${common[@]}" --out "$tmp/x3" : -np 1 "$genc" lm grpo "${common[@]}" --seed 2 \
  --out "$tmp/x3" >"$tmp/x3.log" 2>&1 && bad "mismatched ranks ran"
[ "$(grep -c '^genc: error: ' "$tmp/x3.log")" -eq 1 ] && grep -q '^genc: error: rank 1 was started with a different configuration' \
  "$tmp/x3.log" && ok || bad "mismatch: $(cat "$tmp/x3.log")"
[ ! -e "$tmp/x3/checkpoint.safetensors" ] && ok || bad "a refused run wrote a checkpoint"
echo "e2e mpi grpo: $pass passed, $fail failed"
[ $fail -eq 0 ]
