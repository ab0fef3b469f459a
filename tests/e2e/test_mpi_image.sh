#!/usr/bin/env bash
# Data parallelism for `genc image train` (diffusion: DDPM and rectified flow) over MPI
# (mpirun --oversubscribe -np 2, loopback): each rank trains its rows of every batch with the
# noise, times and label drops one process draws for those rows, so 2 ranks give the parameters
# of 1 process after 10 steps (dropout 0: every rank draws its own dropout masks). The batch of
# 15 splits 7 / 8, which also checks the weighting that makes unequal shards average to the
# batch's mean loss. A 2 -> 1 rank resume equals the straight run; only rank 0 prints; ranks
# started differently are refused; with dropout the 2 ranks still train (equivalent in
# distribution only, not checked in bits).
# Tolerance 1e-5 (reduction order): seen 3.5e-6 (rflow) and 3.8e-6 (ddpm --cond), both on the
# attention's key bias, whose true gradient is 0 (a key bias shifts every score of a query
# alike), so AdamW scales rounding noise up to a step there; every other parameter within 3.2e-7.
. "$(dirname "$0")/lib.sh" "$1"
. "$(dirname "$0")/mpi_lib.sh"
net=(--data fashion-mnist --width 8 --levels 2 --mult 1,2 --groups 4 --res-blocks 1 --attn-heads 2 --limit 500
     --val 100 --batch 15 --eval-every 0 --lr 2e-3 --warmup 0 --threads 1 --seed 3 --steps 10)
tol=1e-5

# 1. Rectified flow, then conditional DDPM: 1 process vs 2 ranks.
for model in rflow ddpm; do
  extra=(--dropout 0); [ $model = ddpm ] && extra=(--dropout 0 --T 100 --cond)
  "$genc" image train --model $model "${net[@]}" "${extra[@]}" --out "$tmp/$model.1" >"$tmp/$model.1.log" 2>&1 \
    || bad "$model, 1 rank failed: $(tail -1 "$tmp/$model.1.log")"
  mpi -np 2 "$genc" image train --model $model "${net[@]}" "${extra[@]}" --out "$tmp/$model.2" >"$tmp/$model.2.log" 2>&1 \
    || bad "$model, 2 ranks failed: $(cat "$tmp/$model.2.log")"
  d=$(params_diff "$tmp/$model.1/checkpoint.safetensors" "$tmp/$model.2/checkpoint.safetensors")
  echo "$model, 1 vs 2 ranks: $d"
  within $tol "$d" && ok || bad "$model: 2 ranks differ from 1 rank by $d (> $tol)"
done
grep -q '^dist: 2 ranks x 7 images; [0-9]* bytes sent per step per rank' "$tmp/rflow.2.log" && ok \
  || bad "no bytes-per-step line: $(cat "$tmp/rflow.2.log")"
[ "$(grep -c '^image train: ' "$tmp/rflow.2.log")" -eq 1 ] && ok || bad "the opening line was printed more than once"
[ -s "$tmp/rflow.2/loss.png" ] && ok || bad "no loss plot from 2 ranks"

# 2. Resume across rank counts: 5 steps on 2 ranks, then 5 on 1 process.
mpi -np 2 "$genc" image train --model rflow "${net[@]}" --dropout 0 --stop-at 5 --out "$tmp/r" >/dev/null 2>&1 \
  || bad "2-rank half failed"
"$genc" image train --model rflow "${net[@]}" --dropout 0 --resume --out "$tmp/r" >"$tmp/r.log" 2>&1 \
  || bad "resume failed: $(tail -1 "$tmp/r.log")"
d=$(params_diff "$tmp/rflow.1/checkpoint.safetensors" "$tmp/r/checkpoint.safetensors")
echo "rflow, 2 ranks then 1: $d"
within $tol "$d" && ok || bad "2 -> 1 rank resume differs by $d"

# 3. Dropout: every rank its own masks; the run completes and the ranks stay in step.
mpi -np 2 "$genc" image train --model rflow "${net[@]}" --dropout 0.1 --out "$tmp/drop" >"$tmp/drop.log" 2>&1 \
  && [ -s "$tmp/drop/checkpoint.safetensors" ] && ok || bad "2 ranks with dropout failed: $(cat "$tmp/drop.log")"

# 4. Ranks started with different flags are refused at start: one error line, naming rank 1.
mpi -np 1 "$genc" image train --model rflow "${net[@]}" --out "$tmp/mm" : -np 1 "$genc" image train --model rflow \
  "${net[@]}" --ema 0.99 --out "$tmp/mm" >"$tmp/mm.log" 2>&1 && bad "mismatched ranks ran"
[ "$(grep -c '^genc: error: ' "$tmp/mm.log")" -eq 1 ] && grep -q '^genc: error: rank 1 was started with a different configuration' \
  "$tmp/mm.log" && ok || bad "mismatch: $(cat "$tmp/mm.log")"
echo "e2e mpi image: $pass passed, $fail failed"
[ $fail -eq 0 ]
