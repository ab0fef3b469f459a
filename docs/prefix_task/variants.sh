#!/usr/bin/env bash
# Low-data checks of prefix-tuning against full fine-tuning on two variants of the evidence's
# base model (docs/prefix.md, "Variants"): a small dev grid (subsets 0 and 1 of N = 2, 5, 10, 20;
# full fine-tuning lr 3e-4 and 1e-3 for 100 steps; prefix L = 10 through the MLP from a random
# start, lr 1e-3 for 800 steps, and from zero, lr 1e-3 for 300 steps), on dev; then N = 50, 100
# and all 864 examples (fine-tuning also lr 3e-4 for 300 steps, the prefix also lr 5e-3).
#  unseen: the same recipe, but the pre-training text never shows the task's input notation
#          (gen.py --unseen-notation), so the base must learn to read "name[..] ... =>";
#  large:  run.sh's pre-training text and tokenizer, a 2.0M-parameter base (hidden 256, 8 heads,
#          kv_lora_rank 64, 4 layers, 8,000 steps: 25 min on one thread).
# Usage: [JOBS=2] docs/prefix_task/variants.sh unseen|large [genc-binary] [workdir]
#        (large needs run.sh's work dir as WORKDIR/../prefix_task for its text and tokenizer)
set -euo pipefail
V=$1
G=$(realpath "${2:-build/genc}")
W=${3:-runs/prefix_variant_$V}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$W" && cd "$W"
ARCH="--seq 128 --batch 8 --max-seq 192 --mtp 0 --layers 4 --experts 0 --eval-every 1000 --threads 1"
if [ "$V" = unseen ]; then
  /usr/bin/python3 "$here/gen.py" . --unseen-notation
  [ -f base/checkpoint.safetensors ] || /usr/bin/time -f "base: %e s" "$G" lm train --data base.txt --docs lines \
    --tok-vocab 400 --steps 10000 --dim 128 $ARCH --out base >base.log 2>&1
else
  /usr/bin/python3 "$here/gen.py" .
  T=../prefix_task/base/checkpoint.safetensors
  [ -f "$T" ] || { echo "variants.sh large: run.sh's base $T is needed for the tokenizer" >&2; exit 1; }
  [ -f base/checkpoint.safetensors ] || /usr/bin/time -f "base: %e s" "$G" lm train --data base.txt --tokenizer "$T" \
    --docs lines --steps 8000 --dim 256 --heads 8 --kv-lora-rank 64 --q-lora-rank 64 --qk-nope-dim 32 \
    --qk-rope-dim 16 --v-dim 32 --dense-inter 384 $ARCH --out base >base.log 2>&1
fi
B=base/checkpoint.safetensors
mkdir -p dev
JOBS=${JOBS:-1}
source "$here/runs.sh"
run() { prefix_run dev - dev.jsonl "$@"; } # name, flags...: on dev, result not kept
"$G" lm prefix-tune --checkpoint $B --eval-only --eval dev.jsonl --max-new 40 --threads 1 | grep -aE '^(first|eval)'
for n in 2 5 10 20; do
  for k in 0 1; do
    d=low${n}_$k.jsonl
    run dev_low${n}_${k}_full_lr3e-4_s100 --data $d --full --lr 3e-4 --steps 100
    run dev_low${n}_${k}_full_lr1e-3_s100 --data $d --full --lr 1e-3 --steps 100
    run dev_low${n}_${k}_p10_lr1e-3_s800 --data $d --prefix-len 10 --lr 1e-3 --steps 800
    run dev_low${n}_${k}_p10zero_lr1e-3_s300 --data $d --prefix-len 10 --lr 1e-3 --steps 300 --init-std 0
  done
done
# the paper's low-data sizes start at 50: N = 50 and 100 (subsets 0 and 1) and all 864 examples,
# with a longer fine-tuning run and a faster prefix learning rate besides the settings above
for set in low50_0 low50_1 low100_0 low100_1 all_0; do
  d=$set.jsonl
  [ $set = all_0 ] && d=train.jsonl
  run dev_${set}_full_lr3e-4_s100 --data $d --full --lr 3e-4 --steps 100
  run dev_${set}_full_lr1e-3_s100 --data $d --full --lr 1e-3 --steps 100
  run dev_${set}_full_lr3e-4_s300 --data $d --full --lr 3e-4 --steps 300
  run dev_${set}_p10_lr1e-3_s800 --data $d --prefix-len 10 --lr 1e-3 --steps 800
  run dev_${set}_p10_lr5e-3_s800 --data $d --prefix-len 10 --lr 5e-3 --steps 800
done
wait
/usr/bin/python3 "$here/summary.py" dev
