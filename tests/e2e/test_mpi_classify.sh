#!/usr/bin/env bash
# Data parallelism for `genc classify train` (mpirun --oversubscribe -np 2, loopback): 2 ranks
# give the parameters of 1 rank after 20 steps (dropout 0: every rank draws its own dropout
# masks), to 1e-5 (reduction order; seen 3e-8). The batch of 63 splits 31 / 32, so the check
# also covers the weighting that makes unequal shards average to the batch's mean loss; a 2 -> 1
# rank resume equals the straight run; only rank 0 prints.
. "$(dirname "$0")/lib.sh" "$1"
. "$(dirname "$0")/mpi_lib.sh"
common=(--arch mlp --hidden 64 --limit 2048 --val 1000 --batch 63 --steps 20 --eval-every 0 --threads 1 --seed 7
        --dropout 0)
tol=1e-5
"$genc" classify train "${common[@]}" --out "$tmp/one" >"$tmp/one.log" 2>&1 || bad "1 rank failed: $(tail -1 "$tmp/one.log")"
mpi -np 2 "$genc" classify train "${common[@]}" --out "$tmp/two" >"$tmp/two.log" 2>&1 || bad "2 ranks failed: $(cat "$tmp/two.log")"
d=$(params_diff "$tmp/one/checkpoint.safetensors" "$tmp/two/checkpoint.safetensors")
echo "classify, 1 vs 2 ranks: $d"
within $tol "$d" && ok || bad "2 ranks differ from 1 rank by $d (> $tol)"
[ "$(grep -c 'test: 10000 images' "$tmp/two.log")" -eq 1 ] && ok || bad "the test line was printed $(grep -c 'test: 10000 images' "$tmp/two.log") times"
mpi -np 2 "$genc" classify train "${common[@]}" --stop-at 10 --out "$tmp/r" >/dev/null 2>&1 || bad "2-rank half failed"
"$genc" classify train "${common[@]}" --resume --out "$tmp/r" >"$tmp/r.log" 2>&1 || bad "resume failed: $(tail -1 "$tmp/r.log")"
d=$(params_diff "$tmp/one/checkpoint.safetensors" "$tmp/r/checkpoint.safetensors")
within $tol "$d" && ok || bad "2 -> 1 rank resume differs by $d"
echo "e2e mpi classify: $pass passed, $fail failed"
[ $fail -eq 0 ]
