#!/usr/bin/env bash
# bench/mpi_trainers.sh: data-parallel `genc lm grpo` and `genc image train` (rectified flow) on
# the two cores of one machine, side by side: 1 process x 2 threads, 2 MPI ranks x 1 thread, and
# 1 process x 1 thread for reference (GRPO also 1 process x 2 threads with a stream per rollout,
# the rollouts 2 ranks split); plus the bytes each rank sends per step. The global batch is the
# same in every layout. A run's rate is the whole batch (rollouts or images) times its steps over
# the loop's wall time (the "done" line of its metrics); the table shows the median over ROUNDS.
#
#   bench/mpi_trainers.sh [BUILD_DIR]
#
# Environment: ROUNDS (2), KEEP_LOGS (a folder for the runs; default a temporary one). The GRPO
# policy is a tiny model trained here first (600 steps on single-digit sums, about 2 CPU-minutes).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build}
ROUNDS=${ROUNDS:-2}
genc=$BUILD/genc
command -v mpirun >/dev/null || { echo "bench/mpi_trainers.sh: no mpirun (make deps installs Open MPI)" >&2; exit 1; }
logs=${KEEP_LOGS:-$(mktemp -d)}
mkdir -p "$logs"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl=self,vader,tcp
task=(--task arith --a-digits 1 --b-digits 1 --ops + --heldout 10)
if [ ! -s "$logs/base/checkpoint.safetensors" ]; then
  "$genc" lm corpus "${task[@]}" --docs 6000 --out "$logs/corpus.txt" >/dev/null
  "$genc" lm train --data "$logs/corpus.txt" --tok-vocab 300 --steps 600 --batch 16 --seq 64 --eval-every 0 \
    --out "$logs/base" --threads 2 >"$logs/base.log" 2>&1
fi
P=8 G=8
grpo=(lm grpo --base "$logs/base/checkpoint.safetensors" "${task[@]}" --template short --steps 6 --prompts $P --group $G
      --max-new 40 --reward tinyzero --eval-every 0 --eval-problems 2 --eval-k 1)
N=64
image=(image train --model rflow --data fashion-mnist --width 16 --levels 2 --mult 1,2 --limit 2000 --val 100 --batch $N
       --steps 10 --eval-every 0 --warmup 0 --dropout 0)
# rate DIR ITEMS: ITEMS x steps / the loop's seconds; bytes DIR: the median comm_bytes.
rate() { python3 - "$1/metrics.jsonl" "$2" <<'PY'
import json, sys
d = [json.loads(l) for l in open(sys.argv[1]) if '"event":"done"' in l]
print("%.1f" % (float(sys.argv[2]) * d[-1]["steps"] / d[-1]["seconds"]) if d else "-")
PY
}
bytes() { grep -q comm_bytes "$1/metrics.jsonl" 2>/dev/null && python3 - "$1/metrics.jsonl" <<'PY' || echo 0
import json, statistics, sys
print("%.0f" % statistics.median(json.loads(l)["comm_bytes"] for l in open(sys.argv[1]) if "comm_bytes" in l))
PY
}
for r in $(seq "$ROUNDS"); do
  for w in grpo image; do
    [ $w = grpo ] && cmd=("${grpo[@]}") || cmd=("${image[@]}")
    OMP_NUM_THREADS=2 "$genc" "${cmd[@]}" --threads 2 --out "$logs/$w-r$r-1x2" >"$logs/$w-r$r-1x2.log" 2>&1
    mpirun --oversubscribe -np 2 "$genc" "${cmd[@]}" --threads 1 --out "$logs/$w-r$r-2x1" >"$logs/$w-r$r-2x1.log" 2>&1
    OMP_NUM_THREADS=1 "$genc" "${cmd[@]}" --threads 1 --out "$logs/$w-r$r-1x1" >"$logs/$w-r$r-1x1.log" 2>&1
    [ $w = grpo ] && OMP_NUM_THREADS=2 "$genc" "${cmd[@]}" --threads 2 --rollout-streams rollout \
      --out "$logs/$w-r$r-1x2s" >"$logs/$w-r$r-1x2s.log" 2>&1
  done
done
med() { python3 -c "import statistics, sys; v=[float(x) for x in sys.argv[1:] if x != '-']; print('%.1f' % statistics.median(v) if v else '-')" "$@"; }
printf '%-44s %14s %22s\n' "layout" "items/s" "bytes sent/step/rank"
for w in grpo image; do
  [ $w = grpo ] && { items=$((P * G)); echo "genc lm grpo: $P prompts x $G rollouts (items: rollouts), 6 steps, $ROUNDS rounds"; } \
    || { items=$N; echo "genc image train --model rflow: batch $N (items: images), 10 steps, $ROUNDS rounds"; }
  for k in 1x2 1x2s 2x1 1x1; do
    [ $w = image ] && [ $k = 1x2s ] && continue
    rates=(); for r in $(seq "$ROUNDS"); do rates+=("$(rate "$logs/$w-r$r-$k" $items)"); done
    case $k in
      1x2) name="1 rank x 2 threads" ;; 1x2s) name="1 rank x 2 threads, a stream per rollout" ;;
      2x1) name="2 ranks x 1 thread" ;; 1x1) name="1 rank x 1 thread" ;;
    esac
    printf '%-44s %14s %22s\n' "$name" "$(med "${rates[@]}")" "$(bytes "$logs/$w-r1-$k")"
  done
done
echo "runs in $logs"
