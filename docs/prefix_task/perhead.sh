#!/usr/bin/env bash
# The pilot behind docs/prefix.md's "Why latents, not per-head keys and values": perhead.py
# (PyTorch, on the reference model) trains the prefix as latents and as per-head keys and values,
# lr 1e-3, 800 steps, seed 0, on run.sh's base (N = 2 subsets 0-3, N = 5 and 10 subsets 0-1) and on
# variants.sh's unseen-notation base (N = 20, 50, 100 subset 0 and all 864 examples), scored on
# dev. Two runs at a time, one thread each (~15 min on 2 cores).
# Usage: docs/prefix_task/perhead.sh [genc-binary] [run.sh workdir] [variants.sh unseen workdir]
set -euo pipefail
G=$(realpath "${1:-build/genc}")
BASE=$(realpath "${2:-runs/prefix_task}")
UNSEEN=$(realpath "${3:-runs/prefix_variant_unseen}")
here=$(cd "$(dirname "$0")" && pwd)
pair() { # workdir train.jsonl: latent and head side by side
  /usr/bin/python3 "$here/perhead.py" "$G" "$1" "$2" dev.jsonl latent 1e-3 800 | grep '^RESULT' &
  /usr/bin/python3 "$here/perhead.py" "$G" "$1" "$2" dev.jsonl head 1e-3 800 | grep '^RESULT'
  wait
}
echo "== run.sh's base"
for d in low2_0 low2_1 low2_2 low2_3 low5_0 low5_1 low10_0 low10_1; do pair "$BASE" $d.jsonl; done
echo "== the unseen-notation base"
for d in low20_0 low50_0 low100_0 train; do pair "$UNSEEN" $d.jsonl; done
