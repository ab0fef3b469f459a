#!/usr/bin/env bash
# Builds the libFuzzer target for the path-based data readers (fuzz_files.c: IDX image and
# label files, raw or gzip, and JSON-lines problem files) with clang (ASan, UBSan, coverage)
# and fuzzes it for a bounded time from the committed seeds in tests/fuzz/corpus_files (the
# first byte picks the reader). Usage: tests/fuzz/run_fuzz_files.sh [SECONDS=30]. Exits
# non-zero on a crash.
set -euo pipefail
secs=${1:-30}
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${GENC_FUZZ_BUILD:-$root/build-fuzz}
CC=clang cmake -S "$root" -B "$build" -DGENC_FUZZ=ON -DGENC_NATIVE=ON -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" --target fuzz_files -j "$(nproc)"
work=$(mktemp -d /tmp/genc_fuzz_files_run_XXXXXX)
trap 'rm -rf "$work" /tmp/genc_fuzz_files_??????' EXIT
mkdir -p "$work/corpus" "$build/artifacts"
printf '"\\"prompt\\""\n"\\"answer\\""\n"\\"target\\""\n"\\"numbers\\""\n"\\x00\\x00\\x08\\x03"\n"\\x00\\x00\\x08\\x01"\n' >"$work/dict"
"$build/fuzz_files" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=4096 \
    -print_final_stats=1 -dict="$work/dict" -artifact_prefix="$build/artifacts/" "$work/corpus" \
    "$root/tests/fuzz/corpus_files"
