#!/usr/bin/env bash
# bench/lm_train.sh: training tokens/s of genc (bench/lm_train.c) against the same
# DeepSeek-V3-architecture model in PyTorch (bench/lm_train.py), dense and MoE, side by side.
#
#   bench/lm_train.sh [BUILD_DIR] [THREADS]
#
# For each config, ROUNDS rounds (default 2), each running genc then PyTorch at THREADS threads
# (default 2), then both at the other setting of {1, 2} (OMP_NUM_THREADS and
# torch.set_num_threads the same), so load drift on a shared machine hits both sides. genc
# writes the initial weights, the batch [B, T + 1] and its first three losses; PyTorch loads
# the same weights and batch and refuses to time unless its losses agree (step 0 to rel 1e-4,
# steps 1-2 after AdamW updates to 1e-3). Each run reports the median of its BLOCKS blocks of
# STEPS steps; the table shows the median over rounds: genc and PyTorch both at THREADS, and
# each at its own best of 1 and 2 threads, with genc's ratio for both; then, at THREADS, each
# side's peak resident memory (MiB, median over rounds) and its lowest CPU share (process CPU
# time / (wall x threads) over the timed blocks: below ~90% another process held a core).
# genc's logs also hold its per-phase profile (PROFILE, OP, LAYER and MEMORY lines).
#
# Environment: B (16), T (128), ROUNDS (2), STEPS (4), BLOCKS (5), WARMUP (3), ONLY (a regex of
# config names to run), KEEP_LOGS (a folder for the raw outputs; default a temporary one),
# ONE_SETTING=1 (run THREADS only, not the other setting too: the "best" columns then repeat it),
# EXTRA (more KEY=VALUE overrides for every config, e.g. max_seq=1024).
# Timings on a shared machine are noisy: the raw lines in the logs carry min/max per run.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-${BUILD_DIR:-$ROOT/build}}
THREADS=${2:-2}
B=${B:-16}
T=${T:-128}
ROUNDS=${ROUNDS:-2}
STEPS=${STEPS:-4}
BLOCKS=${BLOCKS:-5}
WARMUP=${WARMUP:-3}
ONLY=${ONLY:-.}
PY=/usr/bin/python3
OTHER=$([ "$THREADS" = 1 ] && echo 2 || echo 1)
SETTINGS="$THREADS $OTHER"
[ "${ONE_SETTING:-0}" = 1 ] && SETTINGS=$THREADS
EXTRA=${EXTRA:-}

# name | preset and KEY=VALUE overrides (bench_lm_train's); experts=0 makes every layer dense.
CONFIGS=(
    "tiny-dense|--preset tiny experts=0"
    "tiny-moe|--preset tiny"
    "small-dense|--preset small experts=0"
    "small-moe|--preset small"
    "10M-dense|--preset base experts=0"
    "10M-moe|--preset base layers=4 vocab=4096 moe_inter=64"
    "base-moe|--preset base"
    "50M-moe|--preset base dim=512 layers=6"
)

if [ ! -f "$BUILD/CMakeCache.txt" ]; then cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null; fi
cmake --build "$BUILD" --target bench_lm_train -j"$(nproc)" >/dev/null
LOGS=${KEEP_LOGS:-$(mktemp -d)}
mkdir -p "$LOGS"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

median() { sort -g | awk '{a[NR] = $1} END {if (NR) print a[int((NR + 1) / 2)]; else print "nan"}'; }
field() { grep '^RESULT' "$1" | tail -1 | tr ' ' '\n' | sed -n "s/^$2=//p"; }

printf '# B=%s T=%s, %s rounds of %s blocks x %s steps (medians over rounds), logs in %s\n' \
    "$B" "$T" "$ROUNDS" "$BLOCKS" "$STEPS" "$LOGS"
printf '%-12s %10s | %12s %12s %7s | %14s %14s %7s | %9s %9s | %5s %5s\n' config params "genc tok/s" "torch tok/s" \
    ratio "genc best" "torch best" ratio "genc MiB" "torch MiB" "g cpu" "t cpu"
printf '%-12s %10s | %27s %7s | %37s | %19s | %11s\n' "" "" "(both at $THREADS threads)" "" \
    "(each at its best of 1, 2 threads)" "(peak RSS, $THREADS thr)" "(min share)"
best_of() { # prints "value threads" of the larger median among the two thread settings
    local a b
    a=$(median <"$WORK/$1$THREADS") b=$(median <"$WORK/$1$OTHER")
    if [ "$b" != nan ] && awk "BEGIN {exit !($b > $a)}"; then echo "$b $OTHER"; else echo "$a $THREADS"; fi
}
for entry in "${CONFIGS[@]}"; do
    name=${entry%%|*}
    args=${entry#*|}
    [[ $name =~ $ONLY ]] || continue
    pfx=$WORK/$name
    for f in "g$THREADS" "g$OTHER" "t$THREADS" "t$OTHER" gm tm gc tc; do : >"$WORK/$f"; done
    for r in $(seq "$ROUNDS"); do
        for thr in $SETTINGS; do
            # shellcheck disable=SC2086
            "$BUILD/bench_lm_train" $args $EXTRA --batch "$B" --seq "$T" --threads "$thr" --warmup "$WARMUP" \
                --steps "$STEPS" --blocks "$BLOCKS" --out "$pfx" >"$LOGS/$name.genc$thr.$r.log" 2>&1 ||
                { echo "$name: bench_lm_train failed (see $LOGS/$name.genc$thr.$r.log)"; continue 3; }
            field "$LOGS/$name.genc$thr.$r.log" tokens_per_s >>"$WORK/g$thr"
            if [ "$thr" = "$THREADS" ]; then
                field "$LOGS/$name.genc$thr.$r.log" peak_rss_mib >>"$WORK/gm"
                field "$LOGS/$name.genc$thr.$r.log" cpu_share >>"$WORK/gc"
            fi
            params=$(field "$LOGS/$name.genc$thr.$r.log" params)
            OMP_NUM_THREADS=$thr $PY "$ROOT/bench/lm_train.py" --prefix "$pfx" --batch "$B" --seq "$T" \
                --threads "$thr" --warmup "$WARMUP" --steps "$STEPS" --blocks "$BLOCKS" \
                >"$LOGS/$name.torch$thr.$r.log" 2>&1 ||
                { echo "$name: lm_train.py failed (see $LOGS/$name.torch$thr.$r.log)"; continue 3; }
            field "$LOGS/$name.torch$thr.$r.log" tokens_per_s >>"$WORK/t$thr"
            if [ "$thr" = "$THREADS" ]; then
                field "$LOGS/$name.torch$thr.$r.log" peak_rss_mib >>"$WORK/tm"
                field "$LOGS/$name.torch$thr.$r.log" cpu_share >>"$WORK/tc"
            fi
        done
    done
    g=$(median <"$WORK/g$THREADS") ts=$(median <"$WORK/t$THREADS")
    read -r gb gbt <<<"$(best_of g)"
    read -r tb tbt <<<"$(best_of t)"
    gm=$(median <"$WORK/gm") tm=$(median <"$WORK/tm")
    gc=$(sort -g "$WORK/gc" | head -1) tc=$(sort -g "$WORK/tc" | head -1)
    printf '%-12s %10s | %12.0f %12.0f %6.2fx | %10.0f (%s) %10.0f (%s) %6.2fx | %9.0f %9.0f | %4.0f%% %4.0f%%\n' \
        "$name" "$params" "$g" "$ts" "$(awk "BEGIN {print $g / $ts}")" "$gb" "$gbt" "$tb" "$tbt" \
        "$(awk "BEGIN {print $gb / $tb}")" "$gm" "$tm" "$(awk "BEGIN {print 100 * $gc}")" "$(awk "BEGIN {print 100 * $tc}")"
done
echo "# ratio = genc / PyTorch tokens/s. Each round runs genc then PyTorch at one thread setting, then the other."
echo "# Noisy on a shared machine: see the min/max per run in the logs."
