#!/usr/bin/env bash
# bench/grpo.sh: GRPO rollout and update tokens/s of genc (bench/grpo.c) against the same work
# in PyTorch (bench/grpo.py) on the demo model (scripts/demo_grpo.sh), side by side.
#
#   bench/grpo.sh [BUILD_DIR] [THREADS]
#
# The model: CHECKPOINT (default runs/demo_grpo/base/checkpoint.safetensors, the demo's base
# model, when it exists; otherwise the tiny preset with a 400-token vocabulary and random
# weights: the same shapes). Work per round: P x G rollouts (8 x 8) of a Lp-token prompt (24)
# plus MAX_NEW sampled tokens (64) with the KV cache, and GRPO updates on the rollout batch.
# ROUNDS rounds (default 2), each running genc then PyTorch at THREADS threads (default 2),
# then both at the other setting of {1, 2} (OMP_NUM_THREADS and torch.set_num_threads the
# same), so load drift on a shared machine hits both sides. PyTorch checks that it computes
# genc's function before timing (bench/grpo.py). The table shows medians over rounds.
#
# Environment: CHECKPOINT, P (8), G (8), LP (24), MAX_NEW (64), ROUNDS (2), REPS (5: timed
# rollouts and update blocks per run), STEPS (2: updates per block), CACHE (latent or kv:
# PyTorch's KV cache), BOTH (1; 0: THREADS only, no second setting), KEEP_LOGS (a folder for
# the raw outputs; default a temporary one).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-${BUILD_DIR:-$ROOT/build}}
THREADS=${2:-2}
P=${P:-8} G=${G:-8} LP=${LP:-24} MAX_NEW=${MAX_NEW:-64}
ROUNDS=${ROUNDS:-2} REPS=${REPS:-5} STEPS=${STEPS:-2} CACHE=${CACHE:-latent}
CHECKPOINT=${CHECKPOINT:-$ROOT/runs/demo_grpo/base/checkpoint.safetensors}
PY=/usr/bin/python3
OTHER=$([ "$THREADS" = 1 ] && echo 2 || echo 1)
[ "${BOTH:-1}" = 1 ] || OTHER=   # BOTH=0: only THREADS

if [ ! -f "$BUILD/CMakeCache.txt" ]; then cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null; fi
log=$(mktemp)
cmake --build "$BUILD" --target bench_grpo -j"$(nproc)" >"$log" 2>&1 || { cat "$log" >&2; exit 1; }
rm -f "$log"
LOGS=${KEEP_LOGS:-$(mktemp -d)}
mkdir -p "$LOGS"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
model=(--preset tiny --vocab 400)
what="tiny preset, vocab 400, random weights"
if [ -f "$CHECKPOINT" ]; then model=(--checkpoint "$CHECKPOINT") what=$CHECKPOINT; fi
shape=(--prompts "$P" --group "$G" --prompt-len "$LP" --max-new "$MAX_NEW" --rounds "$REPS" --steps "$STEPS")

median() { sort -g | awk '{a[NR] = $1} END {if (NR) print a[int((NR + 1) / 2)]; else print "nan"}'; }
field() { grep '^RESULT' "$1" | tail -1 | tr ' ' '\n' | sed -n "s/^$2=//p"; }

for r in $(seq "$ROUNDS"); do
    for thr in $THREADS $OTHER; do
        g=$LOGS/genc$thr.$r.log t=$LOGS/torch$thr.$r.log
        OMP_NUM_THREADS=$thr "$BUILD/bench_grpo" "${model[@]}" "${shape[@]}" --threads "$thr" --out "$WORK/b" >"$g" 2>&1 ||
            { cat "$g" >&2; echo "bench/grpo.sh: bench_grpo failed" >&2; exit 1; }
        OMP_NUM_THREADS=$thr $PY "$ROOT/bench/grpo.py" --prefix "$WORK/b" "${shape[@]}" --threads "$thr" --cache "$CACHE" \
            >"$t" 2>&1 || { cat "$t" >&2; echo "bench/grpo.sh: grpo.py failed" >&2; exit 1; }
        for k in rollout update; do
            field "$g" ${k}_tokens_per_s >>"$WORK/g$k$thr"
            field "$t" ${k}_tokens_per_s >>"$WORK/t$k$thr"
        done
    done
done
echo "# GRPO on $what: $P x $G rollouts of $LP + $MAX_NEW tokens; PyTorch $CACHE cache; medians of $ROUNDS rounds; logs in $LOGS"
grep '^genc ' "$LOGS/genc$THREADS.1.log" | head -1
printf '%-8s %-8s %12s %12s %8s\n' phase threads "genc tok/s" "torch tok/s" ratio
for k in rollout update; do
    for thr in $THREADS $OTHER; do
        a=$(median <"$WORK/g$k$thr") b=$(median <"$WORK/t$k$thr")
        printf '%-8s %-8s %12.0f %12.0f %7.2fx\n' "$k" "$thr" "$a" "$b" "$(awk "BEGIN {print $a / $b}")"
    done
done
echo "# tokens/s = generated tokens (rows x max_new) per second of the phase; ratio = genc / PyTorch."
echo "# Noisy on a shared machine: each run's min/max and genc's CPU share are in the logs."
