#!/usr/bin/env bash
# Builds the libFuzzer target for genc's answer checker (expression parser and response
# scorer) with clang (ASan, UBSan, coverage) and fuzzes it for a bounded time.
# Usage: tests/fuzz/run_fuzz_expr.sh [SECONDS=30]. Exits non-zero on a crash.
set -euo pipefail
secs=${1:-30}
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${GENC_FUZZ_BUILD:-$root/build-fuzz}
CC=clang cmake -S "$root" -B "$build" -DGENC_FUZZ=ON -DGENC_NATIVE=ON -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" --target fuzz_expr -j "$(nproc)"
work=$(mktemp -d /tmp/genc_fuzz_expr_XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/corpus" "$build/artifacts"
printf '(3 + 7) * 25 - 50 / 2' >"$work/corpus/expr"
printf '<think> 3 + 4 = 7 </think> <answer> 7 * (2 + 3) </answer>' >"$work/corpus/resp"
printf '"<think>"\n"</think>"\n"<answer>"\n"</answer>"\n"999999999999999999"\n' >"$work/dict"
"$build/fuzz_expr" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=2048 \
    -print_final_stats=1 -dict="$work/dict" -artifact_prefix="$build/artifacts/" "$work/corpus"
