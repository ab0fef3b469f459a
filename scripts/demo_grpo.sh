#!/usr/bin/env bash
# `make demo`: a short run of the R1-Zero recipe (scripts/r1zero.sh, docs/r1zero.md): a
# generated corpus that teaches 3-digit addition only as prose, a tiny DeepSeek-V3-
# architecture base model, held-out evaluation under the R1 rule (accuracy only inside
# <answer> of a well-formed reply), GRPO with rule-based rewards alone, the same evaluation
# after, the no-thinking ablation and 4-digit sums; the last lines are the before/after table
# with the trivial baselines. Usage: scripts/demo_grpo.sh [BUILD=build] [THREADS=2];
# environment: DEMO_OUT (runs/demo_grpo) and any of r1zero.sh's sizes.
#
# What it shows today (docs/r1zero.md): the base and the RL model score 0% under the R1 rule;
# RL raises the think rate by filling the think block with the corpus's placeholder words.
# Reasoning has not yet emerged in this recipe.
set -euo pipefail
build=${1:-build}
export THREADS=${2:-2}
export DOCS=${DOCS:-12000} BASE_STEPS=${BASE_STEPS:-1500} GRPO_STEPS=${GRPO_STEPS:-60}
export EVAL_N=${EVAL_N:-100} EVAL_K=${EVAL_K:-2}
exec bash "$(dirname "$0")/r1zero.sh" "$build" "${DEMO_OUT:-runs/demo_grpo}"
