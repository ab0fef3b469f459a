#!/usr/bin/env bash
# bench/mpi.sh: `genc lm train` tokens/s on the two cores of one machine, side by side: 1 process
# x 2 threads, 2 MPI ranks x 1 thread (data parallel), 2 ranks x 1 thread with --zero 1, and 1
# process x 1 thread for reference, 2 ranks with --ep 2 (the routed experts spread over them) and
# 2 ranks with --overlap (the all-reduce started during the backward pass); plus the bytes each
# rank sends per step. The global batch (B x T tokens) is the
# same in all three, so the runs do the same arithmetic.
#
#   bench/mpi.sh [BUILD_DIR]
#
# Each of ROUNDS rounds (default 2) runs the three in turn (so load drift on a shared machine
# hits all of them); a run's rate is the median over steps 6..STEPS of the trainer's per-step
# tokens_per_s (rank 0's clock: the ranks step in lock-step); the table shows the median over
# rounds. Environment: PRESET (tiny), B (16), T (128), STEPS (40), ROUNDS (2), KEEP_LOGS (a
# folder for the runs; default a temporary one).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build}
PRESET=${PRESET:-tiny} B=${B:-16} T=${T:-128} STEPS=${STEPS:-40} ROUNDS=${ROUNDS:-2}
genc=$BUILD/genc
command -v mpirun >/dev/null || { echo "bench/mpi.sh: no mpirun (make deps installs Open MPI)" >&2; exit 1; }
logs=${KEEP_LOGS:-$(mktemp -d)}
mkdir -p "$logs"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl=self,vader,tcp
data=/usr/share/common-licenses/GPL-3,/usr/share/common-licenses/Apache-2.0,/usr/share/common-licenses/MPL-2.0
train=(lm train --data "$data" --tok-vocab 400 --preset "$PRESET" --batch "$B" --seq "$T" --steps "$STEPS"
       --eval-every 0 --eval-tokens 2000 --seed 1)
# rate DIR: the median per-step tokens/s past step 5; bytes DIR: the median comm_bytes.
rate() { python3 - "$1/metrics.jsonl" tokens_per_s <<'PY'
import json, statistics, sys
v = [json.loads(l) for l in open(sys.argv[1])]
v = [r[sys.argv[2]] for r in v if sys.argv[2] in r and r.get("step", 0) > 5]
print("%.0f" % statistics.median(v) if v else "-")
PY
}
bytes() { [ -f "$1/metrics.jsonl" ] && grep -q comm_bytes "$1/metrics.jsonl" && python3 - "$1/metrics.jsonl" <<'PY' || echo 0
import json, statistics, sys
print("%.0f" % statistics.median(json.loads(l)["comm_bytes"] for l in open(sys.argv[1]) if "comm_bytes" in l))
PY
}
for r in $(seq "$ROUNDS"); do
  OMP_NUM_THREADS=2 "$genc" "${train[@]}" --threads 2 --out "$logs/r$r-1x2" >"$logs/r$r-1x2.log" 2>&1
  mpirun --oversubscribe -np 2 "$genc" "${train[@]}" --threads 1 --out "$logs/r$r-2x1" >"$logs/r$r-2x1.log" 2>&1
  mpirun --oversubscribe -np 2 "$genc" "${train[@]}" --threads 1 --zero 1 --out "$logs/r$r-2x1z" >"$logs/r$r-2x1z.log" 2>&1
  OMP_NUM_THREADS=1 "$genc" "${train[@]}" --threads 1 --out "$logs/r$r-1x1" >"$logs/r$r-1x1.log" 2>&1
  mpirun --oversubscribe -np 2 "$genc" "${train[@]}" --threads 1 --ep 2 --out "$logs/r$r-2x1e" >"$logs/r$r-2x1e.log" 2>&1
  mpirun --oversubscribe -np 2 "$genc" "${train[@]}" --threads 1 --overlap --out "$logs/r$r-2x1o" >"$logs/r$r-2x1o.log" 2>&1
done
med() { python3 -c "import statistics, sys; v=[float(x) for x in sys.argv[1:] if x != '-']; print('%.0f' % statistics.median(v) if v else '-')" "$@"; }
params=$(sed -n 's/.*, \([0-9]*\) parameters .*/\1/p' "$logs/r1-1x2.log")
echo "genc lm train, preset $PRESET ($params parameters), global batch $B x $T tokens, $STEPS steps, $ROUNDS rounds"
printf '%-28s %14s %24s\n' "layout" "tokens/s" "bytes sent/step/rank"
for k in 1x2 2x1 2x1z 1x1 2x1e 2x1o; do
  rates=() ; for r in $(seq "$ROUNDS"); do rates+=("$(rate "$logs/r$r-$k")"); done
  case $k in
    1x2) name="1 rank x 2 threads" ;; 2x1) name="2 ranks x 1 thread" ;;
    2x1z) name="2 ranks x 1 thread, zero 1" ;; 1x1) name="1 rank x 1 thread" ;;
    2x1e) name="2 ranks x 1 thread, ep 2" ;; 2x1o) name="2 ranks x 1 thread, overlap" ;;
  esac
  printf '%-28s %14s %24s\n' "$name" "$(med "${rates[@]}")" "$(bytes "$logs/r1-$k")"
done
grep -h '^zero 1: rank' "$logs/r1-2x1z.log" || true
echo "runs in $logs"
