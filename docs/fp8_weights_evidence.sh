#!/usr/bin/env bash
# The FP8-weights evidence of docs/fp8.md (issue #22): a trained checkpoint, its FP8 file
# (`lm quantize`: F8_E4M3 + F32 weight_scale_inv per 128x128 block) read back dequantised to
# F32 and held in memory as E4M3 (`--weights fp8`): file size, held-out perplexity, resident
# memory (VmRSS sampled while `lm eval` scores), and greedy decode speed of `lm sample` in
# alternating rounds, F32 against FP8 held (CPU time per token, needs perf).
# Usage: docs/fp8_weights_evidence.sh BUILD_DIR CHECKPOINT [OUT_DIR] (ROUNDS=7, TOKENS=500, NICE=10)
set -euo pipefail
build=$1 ck=$2
out=${3:-$(dirname "$ck")}
rounds=${ROUNDS:-7} tokens=${TOKENS:-500} nice=${NICE:-10}
genc="$build/genc"
heldout=(/usr/share/games/fortunes/zippy /usr/share/common-licenses/GPL-3)
w8="$out/w8.safetensors"
rm -f "$out/decode_rounds.txt"
command -v perf >/dev/null || { echo "needs perf (linux-perf) for CPU time per token" >&2; exit 1; }
nice -n "$nice" "$genc" lm quantize --checkpoint "$ck" --out "$w8"
echo "bytes: checkpoint $(stat -c %s "$ck") fp8 file $(stat -c %s "$w8")"

# rss CMD...: runs CMD, samples /proc/PID/status every 20 ms; prints the median VmRSS of the
# samples (the run is mostly scoring, after the load) and the largest, in kB.
rss() {
  "$@" >"$out/rss_stdout" 2>/dev/null & local pid=$!
  : >"$out/rss_samples"
  while kill -0 $pid 2>/dev/null; do
    s=$(awk '/^VmRSS/ {print $2}' /proc/$pid/status 2>/dev/null) || s=""
    [ -n "$s" ] && echo "$s" >>"$out/rss_samples"
    sleep 0.02
  done
  wait $pid
  echo "VmRSS median $(sort -n "$out/rss_samples" | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}') kB," \
       "max $(sort -n "$out/rss_samples" | tail -1 | cut -d' ' -f1) kB, $(wc -l <"$out/rss_samples") samples | $(tail -1 "$out/rss_stdout")"
}
for d in "${heldout[@]}"; do
  for run in "f32 $ck" "f32 $w8" "fp8 $w8"; do
    set -- $run
    echo "eval $(basename "$d") --weights $1 $(basename "$2"): $(rss nice -n "$nice" "$genc" lm eval --checkpoint "$2" --weights "$1" --data "$d" --threads 1)"
  done
done
# Decode speed. The wall clock of a shared machine mostly measures the wait for a core, so the
# measure is CPU time (perf's task-clock) of whole `lm sample` runs, greedy, in alternating
# rounds: TOKENS tokens and 1 token per round and weights kind; CPU ms per decoded token =
# (median of the TOKENS-token runs - median of the 1-token runs) / (TOKENS - 1), so loading and
# prefill cancel and one slow load does not move the result. The sampler's tokens/s is kept.
clock() {
  perf stat -x, -e task-clock -o "$out/perf.txt" nice -n "$nice" "$genc" lm sample --checkpoint "$2" --weights "$1" \
    --temperature 0 --max-new "$3" --prompt "The " --threads 1 >"$out/sample_$1.txt" 2>"$out/sample_$1.err"
  grep task-clock "$out/perf.txt" | cut -d, -f1
}
for r in $(seq "$rounds"); do
  for run in "f32 $ck" "fp8 $w8"; do
    set -- $run
    echo "round $r --weights $1: $(clock "$1" "$2" 1) ms for 1 token, $(clock "$1" "$2" "$tokens") ms for $tokens;" \
      "sampler: $(grep -o '[0-9.]* tokens/s' "$out/sample_$1.err")" | tee -a "$out/decode_rounds.txt"
  done
done
median() { sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
per_token() {
  local one all
  one=$(grep -- "--weights $1:" "$out/decode_rounds.txt" | awk '{print $5}' | median)
  all=$(grep -- "--weights $1:" "$out/decode_rounds.txt" | awk '{print $10}' | median)
  awk -v a="$all" -v o="$one" -v n="$tokens" 'BEGIN {printf "%.4f", (a - o) / (n - 1)}'
}
m32=$(per_token f32) m8=$(per_token fp8)
awk -v a="$m32" -v b="$m8" 'BEGIN {printf "CPU ms/token: f32 %s (%.0f tokens/s), fp8 %s (%.0f tokens/s); fp8 speed / f32 speed %.2fx\n", a, 1000 / a, b, 1000 / b, a / b}'
cmp -s "$out/sample_f32.txt" "$out/sample_fp8.txt" && echo "greedy text: identical" || echo "greedy text: differs"
