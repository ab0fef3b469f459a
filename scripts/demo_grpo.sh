#!/usr/bin/env bash
# `make demo`: a short run of the R1-Zero recipe (scripts/r1zero.sh, docs/r1zero.md): a
# generated corpus that teaches 3-digit addition only as prose, a tiny DeepSeek-V3-
# architecture base model, held-out evaluation under the R1 rule (accuracy only inside
# <answer> of a well-formed reply), GRPO with rule-based rewards alone, the same evaluation
# after, the no-thinking ablation and 4-digit sums; the last lines are the before/after table
# with the trivial baselines. Usage: scripts/demo_grpo.sh [BUILD=build] [THREADS=2];
# environment: DEMO_OUT (runs/demo_grpo) and any of r1zero.sh's sizes.
#
# The recipe of docs/r1zero.md's "Replies that grow": the markup corpus with tags read as
# text, then GRPO in two stages, 120 steps with the answer block counted anywhere and 200
# under the R1 rule with Dr. GRPO's advantages (RULE=two-stage, r1zero.sh); every evaluation
# is scored under both rules. The base answers in a few tokens; under RL the replies grow
# into column-by-column working, and in the second stage the think block around it is
# closed: the R1-rule rows rise. It is over the issue's 10 CPU-minutes (docs/r1zero.md gives
# the time measured). `make demo` runs it on one thread: seed 1 at one thread is the run
# the docs report; other seeds and thread counts give other bases (docs/r1zero.md).
set -euo pipefail
build=${1:-build}
export THREADS=${2:-2}
export DOCS=${DOCS:-20000} BASE_STEPS=${BASE_STEPS:-2000} GRPO_STEPS=${GRPO_STEPS:-120} R1_STEPS=${R1_STEPS:-200}
export EVAL_N=${EVAL_N:-200} EVAL_K=${EVAL_K:-2}
exec bash "$(dirname "$0")/r1zero.sh" "$build" "${DEMO_OUT:-runs/demo_grpo}"
