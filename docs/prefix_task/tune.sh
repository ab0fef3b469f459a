#!/usr/bin/env bash
# Every configuration tried while tuning the prefix-tuning evidence (docs/prefix.md lists them
# all, not only the best). Needs run.sh's work dir (data and base model). One thread, one run at
# a time; a configuration whose log tune/NAME.log exists is not run again. Summary at the end.
#  pass 1: the first settings, evaluated on test (low data = the first N training examples);
#  pass 2 to 5: the low-data grid, evaluated on dev (96 held-out records that are not in test), on
#          subsets 0 and 1 of each size; run.sh then reports the setting with the best mean dev
#          exact match per method and size on test, over 5 subsets.
#  pass 6: the zero start (--init-std 0: P = MLP(P') = 0 before the first step); pass 7: shorter runs of it at N = 2;
#  pass 8: prefix lengths 1, 2 and 5 at N = 2 and 5.
#  --init-words runs: "p10words" trains P directly (--reparam 0), "p10mlpwords" trains through the
#  MLP, its output fitted to the words' latents at the start (pass 4).
# Usage: [JOBS=2] docs/prefix_task/tune.sh [genc-binary] [workdir]   (~50 min on one core, ~25 with JOBS=2; JOBS
# runs that many one-thread runs at once)
set -euo pipefail
G=$(realpath "${1:-build/genc}")
W=${2:-runs/prefix_task}
here=$(cd "$(dirname "$0")" && pwd)
cd "$W"
B=base/checkpoint.safetensors
WORDS="is a restaurant in the with prices and an rating."
mkdir -p tune
JOBS=${JOBS:-1}
source "$here/runs.sh"
run() { local name=$1 ev=$2; shift 2; prefix_run tune - "$ev" "$name" "$@"; } # name, eval file, flags...
# pass 1, on test
run full_lr3e-3_s300 test.jsonl --data train.jsonl --full --lr 3e-3 --steps 300
run full_lr1e-3_s300 test.jsonl --data train.jsonl --full --lr 1e-3 --steps 300
run p10_lr5e-3_s800 test.jsonl --data train.jsonl --prefix-len 10 --reparam 512 --lr 5e-3 --steps 800
run p5_lr5e-3_s800 test.jsonl --data train.jsonl --prefix-len 5 --reparam 512 --lr 5e-3 --steps 800
run p20_lr5e-3_s800 test.jsonl --data train.jsonl --prefix-len 20 --reparam 512 --lr 5e-3 --steps 800
for n in 50 20; do
  run low${n}_full_lr3e-3_s300 test.jsonl --data train.jsonl --limit $n --full --lr 3e-3 --steps 300
  run low${n}_full_lr1e-3_s300 test.jsonl --data train.jsonl --limit $n --full --lr 1e-3 --steps 300
  run low${n}_p10_lr5e-3_s800 test.jsonl --data train.jsonl --limit $n --prefix-len 10 --reparam 512 --lr 5e-3 --steps 800
  run low${n}_p10words_lr5e-3_s800 test.jsonl --data train.jsonl --limit $n --prefix-len 10 --reparam 0 --init-words "$WORDS" \
    --lr 5e-3 --steps 800
done
# pass 2, on dev
for n in 10 20 50 100; do
  for k in 0 1; do
    d=low${n}_$k.jsonl
    for lr in 3e-4 1e-3 3e-3; do
      for s in 100 300; do run dev_low${n}_${k}_full_lr${lr}_s$s dev.jsonl --data $d --full --lr $lr --steps $s; done
    done
    for lr in 1e-3 5e-3; do
      for s in 300 800; do
        run dev_low${n}_${k}_p10_lr${lr}_s$s dev.jsonl --data $d --prefix-len 10 --reparam 512 --lr $lr --steps $s
        run dev_low${n}_${k}_p10words_lr${lr}_s$s dev.jsonl --data $d --prefix-len 10 --reparam 0 --init-words "$WORDS" \
          --lr $lr --steps $s
      done
    done
  done
done
# pass 3, on dev: smaller sets (2 and 5 examples), longer and faster --init-words training
for n in 2 5; do
  for k in 0 1; do
    d=low${n}_$k.jsonl
    for lr in 3e-4 1e-3; do
      for s in 100 300; do run dev_low${n}_${k}_full_lr${lr}_s$s dev.jsonl --data $d --full --lr $lr --steps $s; done
    done
    for s in 800 1500; do
      run dev_low${n}_${k}_p10_lr1e-3_s$s dev.jsonl --data $d --prefix-len 10 --reparam 512 --lr 1e-3 --steps $s
    done
    run dev_low${n}_${k}_p10_lr5e-3_s800 dev.jsonl --data $d --prefix-len 10 --reparam 512 --lr 5e-3 --steps 800
  done
done
for n in 2 5 10 20 50 100; do
  for k in 0 1; do
    for cfg in "5e-3 1500" "2e-2 800" "2e-2 1500"; do
      set -- $cfg
      run dev_low${n}_${k}_p10words_lr$1_s$2 dev.jsonl --data low${n}_$k.jsonl --prefix-len 10 --reparam 0 --init-words "$WORDS" \
        --lr $1 --steps $2
    done
  done
done
# pass 4, on dev: --init-words through the reparameterisation MLP
for n in 2 5 10 20 50 100; do
  for k in 0 1; do
    for cfg in "3e-4 800" "1e-3 800" "5e-3 800"; do
      set -- $cfg
      run dev_low${n}_${k}_p10mlpwords_lr$1_s$2 dev.jsonl --data low${n}_$k.jsonl --prefix-len 10 --reparam 512 \
        --init-words "$WORDS" --lr $1 --steps $2
    done
  done
done
# pass 5, on dev: shorter runs (300 steps) for both MLP starts at every size
for n in 2 5 10 20 50 100; do
  for k in 0 1; do
    d=low${n}_$k.jsonl
    run dev_low${n}_${k}_p10_lr1e-3_s300 dev.jsonl --data $d --prefix-len 10 --reparam 512 --lr 1e-3 --steps 300
    for lr in 3e-4 1e-3; do
      run dev_low${n}_${k}_p10mlpwords_lr${lr}_s300 dev.jsonl --data $d --prefix-len 10 --reparam 512 \
        --init-words "$WORDS" --lr $lr --steps 300
    done
  done
done
# pass 6, on dev: the MLP's output starting at zero (--init-std 0: W2 = 0, so P = 0 and the base's
# outputs are nearly unchanged before the first step; 2026-12-03, session 5)
for n in 2 5 10 20 50 100; do
  for k in 0 1; do
    for cfg in "1e-3 300" "1e-3 800" "3e-3 300"; do
      set -- $cfg
      run dev_low${n}_${k}_p10zero_lr$1_s$2 dev.jsonl --data low${n}_$k.jsonl --prefix-len 10 --reparam 512 --init-std 0 \
        --lr $1 --steps $2
    done
  done
done
# pass 7, on dev: stopping earlier, N = 2, the zero start at lr 1e-3
for k in 0 1; do
  for s in 25 50 100 200; do
    run dev_low2_${k}_p10zero_lr1e-3_s$s dev.jsonl --data low2_$k.jsonl --prefix-len 10 --reparam 512 --init-std 0 \
      --lr 1e-3 --steps $s
  done
done
# pass 8, on dev: shorter prefixes in low data (fewer numbers to fit to 2 or 5 examples), both
# chosen starts: random (lr 1e-3, 800 steps) and zero (lr 3e-3, 300 steps) (2026-12-03, session 6)
for n in 2 5; do
  for k in 0 1; do
    for L in 1 2 5; do
      run dev_low${n}_${k}_p${L}_lr1e-3_s800 dev.jsonl --data low${n}_$k.jsonl --prefix-len $L --reparam 512 \
        --lr 1e-3 --steps 800
      run dev_low${n}_${k}_p${L}zero_lr3e-3_s300 dev.jsonl --data low${n}_$k.jsonl --prefix-len $L --reparam 512 \
        --init-std 0 --lr 3e-3 --steps 300
    done
  done
done
wait
/usr/bin/python3 "$here/summary.py" tune
