#!/usr/bin/env bash
# The prefix-tuning evidence of docs/prefix.md, end to end: data (gen.py), the base model (a
# dense 4-layer model pre-trained on restaurant "web text", <|eos|> after each line), then base /
# full fine-tuning / prefix-tuning on the data-to-text task, with all 864 training examples and
# in low data (5 random subsets of 2 ... 100 examples), all on one thread, one run at a time,
# evaluated on the 120 test records; the summary table (summary.py), then per-field accuracy and
# example outputs (fields.py). The low-data settings are the ones tune.sh chose on dev.
# Usage: docs/prefix_task/run.sh [genc-binary] [workdir]   (~40 min on one core)
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
run() { # name, flags...: one run on test, its log in logs/NAME.log, its result in out/NAME.st
  local name=$1; shift
  "$G" lm prefix-tune --checkpoint $B --eval test.jsonl --max-new 40 --threads 1 --out out/$name.st "$@" 2>&1 \
    | tr '\r' '\n' | grep -aE '^(eval|trained|stored|first)' >logs/$name.log
  echo "== $name: $*"; grep -a '^eval' logs/$name.log
}
"$G" lm prefix-tune --checkpoint $B --eval-only --eval test.jsonl --max-new 40 --threads 1 | grep -a '^eval' \
  >logs/base_no_tuning.log
# all 864 training examples: the first settings tried (tune.sh pass 1)
run full --data train.jsonl --full --lr 3e-3 --steps 300
run prefix10 --data train.jsonl --prefix-len 10 --reparam 512 --lr 5e-3 --steps 800
run prefix5 --data train.jsonl --prefix-len 5 --reparam 512 --lr 5e-3 --steps 800
run prefix20 --data train.jsonl --prefix-len 20 --reparam 512 --lr 5e-3 --steps 800
# low data: one setting per method, the best mean dev exact match over sizes in tune.sh
FULL="--full --lr 3e-4 --steps 300"
PREFIX="--prefix-len 10 --reparam 512 --lr 1e-3 --steps 800"
PWORDS="--prefix-len 10 --lr 5e-3 --steps 1500"
for n in 2 5 10 20 50 100; do
  for k in 0 1 2 3 4; do
    run low${n}_${k}_full --data low${n}_$k.jsonl $FULL
    rm -f out/low${n}_${k}_full.st
    run low${n}_${k}_prefix10 --data low${n}_$k.jsonl $PREFIX
    run low${n}_${k}_prefix10words --data low${n}_$k.jsonl $PWORDS --init-words "$WORDS"
  done
done
/usr/bin/python3 "$here/summary.py" logs
echo "== per-field accuracy and example outputs (fields.py)"
for m in "out/full.st -" "$B out/prefix10.st" "$B out/prefix5.st" "$B out/low10_0_prefix10.st"; do
  set -- $m
  echo "-- $*"
  /usr/bin/python3 "$here/fields.py" "$G" $1 test.jsonl "${2#-}" 2
done
