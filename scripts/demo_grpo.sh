#!/usr/bin/env bash
# `make demo`: a short run of the R1-Zero recipe (scripts/r1zero.sh, docs/r1zero.md): a
# generated corpus that teaches 3-digit addition only as prose, a tiny DeepSeek-V3-
# architecture base model, held-out evaluation under the R1 rule (accuracy only inside
# <answer> of a well-formed reply), GRPO with rule-based rewards alone, the same evaluation
# after, the no-thinking ablation and 4-digit sums; the last lines are the before/after table
# with the trivial baselines. Usage: scripts/demo_grpo.sh [BUILD=build] [THREADS=2];
# environment: DEMO_OUT (runs/demo_grpo) and any of r1zero.sh's sizes.
#
# GRPO trains with the answer block allowed anywhere (RULE=anywhere, r1zero.sh); every
# evaluation is scored under both that rule and the R1 rule. It builds run A's base of
# docs/r1zero.md (byte-identical) and runs its GRPO recipe for 80 steps (the warm-up is 5% of
# the steps, so not step for step run A's first 80): reasoning emerges inside the think block,
# which the model never closes, so the R1-rule rows stay at 0%. It takes about 9 minutes on
# 2 threads (~18 CPU-minutes; a 1,500-step base with 60 GRPO steps fits the issue's 10
# CPU-minutes but found no correct reply).
set -euo pipefail
build=${1:-build}
export THREADS=${2:-2}
export DOCS=${DOCS:-20000} BASE_STEPS=${BASE_STEPS:-2000} GRPO_STEPS=${GRPO_STEPS:-80}
export EVAL_N=${EVAL_N:-200} EVAL_K=${EVAL_K:-2}
exec bash "$(dirname "$0")/r1zero.sh" "$build" "${DEMO_OUT:-runs/demo_grpo}"
