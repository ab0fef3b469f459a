#!/usr/bin/env bash
# Builds genc's safetensors libFuzzer target with clang (library and target both
# instrumented: ASan, UBSan, coverage) and fuzzes it for a bounded time.
# Usage: tests/fuzz/run_fuzz.sh [SECONDS=60]. Exits non-zero when the fuzzer finds a crash;
# the crashing input is left in build-fuzz/artifacts/. New corpus entries go to a scratch
# directory, so tests/fuzz/corpus (the committed seeds) is never modified.
set -euo pipefail
secs=${1:-60}
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${GENC_FUZZ_BUILD:-$root/build-fuzz}

# GENC_FUZZ instruments libgenc as well as the target (see CMakeLists.txt).
CC=clang cmake -S "$root" -B "$build" -DGENC_FUZZ=ON -DGENC_NATIVE=ON -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" --target fuzz_safetensors -j "$(nproc)"

work=$(mktemp -d /tmp/genc_fuzz_XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/corpus" "$build/artifacts"
# Header tokens the mutator may splice in.
for t in dtype shape data_offsets __metadata__ F32 F16 BF16 F8_E4M3 F64 I64 I32 U8; do
    printf '"\\"%s\\""\n' "$t"
done >"$work/dict"
printf '"[0,"\n"]}"\n"{\\"a\\":{"\n"\\\\u00e9"\n"18446744073709551615"\n' >>"$work/dict"
"$build/fuzz_safetensors" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
    -max_len=4096 -print_final_stats=1 -dict="$work/dict" -artifact_prefix="$build/artifacts/" \
    "$work/corpus" "$root/tests/fuzz/corpus"
