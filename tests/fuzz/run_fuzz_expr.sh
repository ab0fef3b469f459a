#!/usr/bin/env bash
# Fuzzes genc's answer checker (fuzz_expr.c: expression parser and response scorer) for a
# bounded time (fuzz_lib.sh builds and runs it).
# Usage: tests/fuzz/run_fuzz_expr.sh [SECONDS=30]. Exits non-zero on a crash.
set -euo pipefail
source "$(dirname "$0")/fuzz_lib.sh"
fuzz_build fuzz_expr
printf '(3 + 7) * 25 - 50 / 2' >"$work/seeds/expr"
printf '<think> 3 + 4 = 7 </think> <answer> 7 * (2 + 3) </answer>' >"$work/seeds/resp"
printf '1<think></think>\n\n<answer>799</answer>\t' >"$work/seeds/empty_think" # well-formed, no format reward
printf '"<think>"\n"</think>"\n"<answer>"\n"</answer>"\n"999999999999999999"\n' >"$work/dict"
fuzz_run fuzz_expr "${1:-30}" 2048 "$work/seeds"
