#!/usr/bin/env bash
# The prefix-tuning evidence of docs/prefix.md, end to end: data (gen.py), the base model (a
# dense 4-layer model pre-trained on restaurant "web text", <|eos|> after each line), then base /
# full fine-tuning / prefix-tuning on the data-to-text task, with all 864 training examples and
# in low data (5 random subsets of 2 ... 100 examples), each run on one thread,
# evaluated on the 120 test records; the summary table (summary.py), then per-field accuracy and
# example outputs (fields.py). The low-data settings are the ones tune.sh chose on dev.
# With all the training examples every setting runs with three seeds (the prefix's random start
# and the batch order). Runs are one thread each; JOBS=2 runs two at once.
# Usage: [JOBS=2] docs/prefix_task/run.sh [genc-binary] [workdir]   (~30 min on one core, ~15 with JOBS=2)
set -euo pipefail
G=$(realpath "${1:-build/genc}")
W=${2:-runs/prefix_task}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$W" && cd "$W"
/usr/bin/python3 "$here/gen.py" .
[ -f base/checkpoint.safetensors ] || /usr/bin/time -f "base: %e s" "$G" lm train --data base.txt --docs lines \
  --tok-vocab 400 --steps 10000 --seq 128 --batch 8 --max-seq 192 --mtp 0 --layers 4 --dim 128 --experts 0 \
  --eval-every 1000 --threads 1 --out base >base.log 2>&1
B=base/checkpoint.safetensors
# The output template's own words, for --init-words (the prefix starts as their latents).
WORDS="is a restaurant in the with prices and an rating."
mkdir -p logs out
JOBS=${JOBS:-1}
source "$here/runs.sh"
run() { prefix_run logs out test.jsonl "$@"; } # name, flags...: on test, result kept in out/
"$G" lm prefix-tune --checkpoint $B --eval-only --eval test.jsonl --max-new 40 --threads 1 | grep -a '^eval' \
  >logs/base_no_tuning.log
# all 864 training examples: the first settings tried (tune.sh pass 1), and the low-data prefix
# setting, each with seeds 0, 1, 2
for sd in 0 1 2; do
  run all_${sd}_full --data train.jsonl --full --lr 3e-3 --steps 300 --seed $sd
  run all_${sd}_prefix10 --data train.jsonl --prefix-len 10 --reparam 512 --lr 5e-3 --steps 800 --seed $sd
  run all_${sd}_prefix10lr1e-3 --data train.jsonl --prefix-len 10 --reparam 512 --lr 1e-3 --steps 800 --seed $sd
  run all_${sd}_prefix5 --data train.jsonl --prefix-len 5 --reparam 512 --lr 5e-3 --steps 800 --seed $sd
  run all_${sd}_prefix20 --data train.jsonl --prefix-len 20 --reparam 512 --lr 5e-3 --steps 800 --seed $sd
done
wait
rm -f out/all_[12]_full.st
# low data: one setting per method, the best mean dev exact match over sizes in tune.sh
FULL="--full --lr 3e-4 --steps 100"
PREFIX="--prefix-len 10 --reparam 512 --lr 1e-3 --steps 800"
PWORDS="--prefix-len 10 --reparam 0 --lr 2e-2 --steps 800"
PMLPWORDS="--prefix-len 10 --reparam 512 --lr 1e-3 --steps 800"
PZERO="--prefix-len 10 --reparam 512 --init-std 0 --lr 3e-3 --steps 300"
for n in 2 5 10 20 50 100; do
  for k in 0 1 2 3 4; do
    run low${n}_${k}_full --data low${n}_$k.jsonl $FULL
    run low${n}_${k}_prefix10 --data low${n}_$k.jsonl $PREFIX
    run low${n}_${k}_prefix10words --data low${n}_$k.jsonl $PWORDS --init-words "$WORDS"
    run low${n}_${k}_prefix10mlpwords --data low${n}_$k.jsonl $PMLPWORDS --init-words "$WORDS"
    run low${n}_${k}_prefix10zero --data low${n}_$k.jsonl $PZERO
  done
done
wait
find out -name 'low*_full.st' ! -name 'low2_*' -delete # the N = 2 fine-tuned models stay for fields.py below
/usr/bin/python3 "$here/summary.py" logs
echo "== per-field accuracy and example outputs (fields.py)"
for m in "out/all_0_full.st -" "$B out/all_0_prefix10.st" "$B out/all_0_prefix10lr1e-3.st" "$B out/all_0_prefix5.st" \
         "$B out/low10_0_prefix10.st"; do
  set -- $m
  echo "-- $*"
  /usr/bin/python3 "$here/fields.py" "$G" $1 test.jsonl "${2#-}" 2
done
echo "== N = 2: per-field accuracy; are wrong values the training examples' values? (fields.py)"
for k in 0 1 2 3 4; do
  echo "-- prefix (MLP, random start) low2_$k"
  /usr/bin/python3 "$here/fields.py" "$G" $B test.jsonl out/low2_${k}_prefix10.st 0 low2_$k.jsonl
  echo "-- full fine-tuning low2_$k"
  /usr/bin/python3 "$here/fields.py" "$G" out/low2_${k}_full.st test.jsonl - 0 low2_$k.jsonl
done
