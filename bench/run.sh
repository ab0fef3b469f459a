#!/usr/bin/env bash
# bench/run.sh: builds the benchmarks if needed and runs them.
#
#   bench/run.sh [mlp]   genc vs PyTorch training steps/s on the 784-1000-1000-1000-784 MLP
#                        (bench/mlp_train.c, bench/mlp_train.py) at each thread count in
#                        THREADS (default "2 1"; OMP_NUM_THREADS and torch.set_num_threads set
#                        to the same), ROUNDS rounds (default 3) alternating genc and torch so
#                        drift in machine load hits both; each run reports the median of its
#                        blocks and its CPU share; the table shows the median and the best
#                        over rounds, and the last line compares each side at its best thread
#                        setting.
#   bench/run.sh gemm    bench_matmul (FMA peak, genc_gemm GFLOP/s) with each GEMM backend
#                        that is installed: OpenBLAS OpenMP (genc's), OpenBLAS pthreads
#                        (LD_LIBRARY_PATH swap), BLIS OpenMP (LD_PRELOAD), oneDNN (dnnl_sgemm).
#   bench/run.sh grpo    GRPO rollout and update tokens/s of genc vs PyTorch on the demo model
#                        (bench/grpo.sh: bench/grpo.c, bench/grpo.py), at 2 threads then 1.
#
# Environment: BUILD_DIR (default ./build), THREADS, ROUNDS, STEPS and BLOCKS (steps per block,
# blocks per run: 10 and 5), DATA (random or fashion), GEMM_ARGS (extra bench_matmul flags,
# e.g. --quick). Timings on a shared machine are noisy: read them with the min/max shown.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD_DIR:-$ROOT/build}
THREADS=${THREADS:-"2 1"}
ROUNDS=${ROUNDS:-3}
STEPS=${STEPS:-10}
BLOCKS=${BLOCKS:-5}
DATA=${DATA:-random}
PY=/usr/bin/python3
MODE=${1:-mlp}

build() { # configure if needed, then bring the targets up to date (quiet unless it fails)
    local log
    log=$(mktemp)
    if { [ -f "$BUILD/CMakeCache.txt" ] || cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release; } >"$log" 2>&1 &&
        cmake --build "$BUILD" --target "$@" -j"$(nproc)" >>"$log" 2>&1; then
        rm -f "$log"
    else
        cat "$log" >&2
        rm -f "$log"
        echo "bench/run.sh: build failed" >&2
        exit 1
    fi
}

median() { sort -g | awk '{a[NR] = $1} END {if (NR) print a[int((NR + 1) / 2)]; else print "nan"}'; }

case "$MODE" in
gemm)
    build bench_matmul
    L=/usr/lib/x86_64-linux-gnu
    echo "=== OpenBLAS, OpenMP build (genc's backend)"
    "$BUILD/bench_matmul" ${GEMM_ARGS:-}
    if [ -f "$L/openblas-pthread/libopenblas.so.0" ]; then
        echo; echo "=== OpenBLAS, pthreads build (LD_LIBRARY_PATH swap)"
        LD_LIBRARY_PATH=$L/openblas-pthread "$BUILD/bench_matmul" ${GEMM_ARGS:-}
    fi
    if [ -f "$L/blis-openmp/libblis.so.4" ]; then
        echo; echo "=== BLIS, OpenMP build (LD_PRELOAD; apt-get install libblis4-openmp)"
        LD_PRELOAD=$L/blis-openmp/libblis.so.4 "$BUILD/bench_matmul" ${GEMM_ARGS:-}
    fi
    if [ -f "$L/libdnnl.so.2" ]; then
        echo; echo "=== oneDNN dnnl_sgemm (libdnnl.so.2)"
        "$BUILD/bench_matmul" --backend dnnl ${GEMM_ARGS:-}
    fi
    ;;
mlp)
    build bench_mlp_train
    if ! $PY -c "import torch" 2>/dev/null; then
        echo "bench/run.sh: PyTorch is not importable by $PY (apt-get install python3-torch)" >&2
        exit 1
    fi
    LOG=$(mktemp)
    trap 'rm -f "$LOG"' EXIT
    ARGS=(--steps "$STEPS" --blocks "$BLOCKS" --data "$DATA")
    for r in $(seq "$ROUNDS"); do
        for t in $THREADS; do
            OMP_NUM_THREADS=$t "$BUILD/bench_mlp_train" --threads "$t" "${ARGS[@]}" | tee -a "$LOG" | grep -v '^RESULT'
            OMP_NUM_THREADS=$t $PY "$ROOT/bench/mlp_train.py" --threads "$t" "${ARGS[@]}" | tee -a "$LOG" | grep -v '^RESULT'
        done
    done
    # Per side and thread count: the median over rounds, and the best round (other processes
    # only ever slow a run down, so on a shared machine the best round is the closest to the
    # uncontended speed; each run's "cpu" share above tells which rounds were contended).
    rates() { grep "^RESULT $1 threads=$2 " "$LOG" | sed 's/.*steps_per_s=//'; }
    echo
    echo "MLP 784-1000-1000-1000-784, batch 128, AdamW: training steps/s over $ROUNDS rounds"
    printf '%-8s %12s %12s %12s %12s %12s %12s\n' threads "genc med" "torch med" "genc/torch" "genc best" "torch best" "genc/torch"
    best_g=0 best_t=0 best_gt=? best_tt=?
    for t in $THREADS; do
        g=$(rates genc "$t" | median) p=$(rates torch "$t" | median)
        gb=$(rates genc "$t" | sort -g | tail -1) pb=$(rates torch "$t" | sort -g | tail -1)
        printf '%-8s %12.2f %12.2f %12.2f %12.2f %12.2f %12.2f\n' "$t" "$g" "$p" "$(awk -v a="$g" -v b="$p" 'BEGIN {print a / b}')" \
            "$gb" "$pb" "$(awk -v a="$gb" -v b="$pb" 'BEGIN {print a / b}')"
        if awk -v a="$gb" -v b="$best_g" 'BEGIN {exit !(a > b)}'; then best_g=$gb best_gt=$t; fi
        if awk -v a="$pb" -v b="$best_t" 'BEGIN {exit !(a > b)}'; then best_t=$pb best_tt=$t; fi
    done
    printf 'each at its best thread setting (best round): genc %.2f steps/s (%s threads), torch %.2f steps/s (%s threads): genc/torch = %.2f\n' \
        "$best_g" "$best_gt" "$best_t" "$best_tt" "$(awk -v a="$best_g" -v b="$best_t" 'BEGIN {print a / b}')"
    ;;
grpo)
    bash "$ROOT/bench/grpo.sh" "$BUILD" 2
    ;;
*)
    echo "usage: bench/run.sh [mlp|gemm|grpo]" >&2
    exit 2
    ;;
esac
