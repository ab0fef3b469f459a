#!/usr/bin/env bash
# Fuzzes genc's safetensors reader and dtype conversions (fuzz_safetensors.c) for a bounded
# time from the committed seeds in tests/fuzz/corpus (fuzz_lib.sh builds and runs it).
# Usage: tests/fuzz/run_fuzz.sh [SECONDS=60]. Exits non-zero when the fuzzer finds a crash;
# the crashing input is left in build-fuzz/artifacts/.
set -euo pipefail
source "$(dirname "$0")/fuzz_lib.sh"
fuzz_build fuzz_safetensors
# Header tokens the mutator may splice in.
for t in dtype shape data_offsets __metadata__ F32 F16 BF16 F8_E4M3 F64 I64 I32 U8; do
    printf '"\\"%s\\""\n' "$t"
done >"$work/dict"
printf '"[0,"\n"]}"\n"{\\"a\\":{"\n"\\\\u00e9"\n"18446744073709551615"\n' >>"$work/dict"
fuzz_run fuzz_safetensors "${1:-60}" 4096 "$root/tests/fuzz/corpus"
