#!/usr/bin/env bash
# End-to-end checks of `genc lm train --precision fp8|bf16 --fp8-promote` (DeepSeek-V3 report
# section 3.3): FP8 and BF16 training run and stay near FP32 but not equal to it (the quantised
# GEMMs are in use); bad values give one error line.
. "$(dirname "$0")/lib.sh" "$1"
data=/usr/share/common-licenses/GPL-3,/usr/share/common-licenses/Apache-2.0
common=(--data "$data" --tok-vocab 300 --batch 4 --seq 64 --steps 12 --eval-every 0 --eval-tokens 2000 --threads 2)
last_loss() { grep '"event":"lm"' "$1/metrics.jsonl" | tail -1 | sed 's/.*"main_loss":\([0-9.e+-]*\).*/\1/'; }

for p in fp32 bf16 fp8; do
  "$genc" lm train "${common[@]}" --precision "$p" --out "$tmp/$p" >"$tmp/$p.log" 2>&1 || bad "$p run failed: $(tail -1 "$tmp/$p.log")"
done
"$genc" lm train "${common[@]}" --precision fp8 --fp8-promote none --out "$tmp/none" >/dev/null 2>&1 || bad "promote none failed"
l32=$(last_loss "$tmp/fp32") l16=$(last_loss "$tmp/bf16") l8=$(last_loss "$tmp/fp8") ln=$(last_loss "$tmp/none")
python3 -c "
import sys
a, b, c, d = $l32, $l16, $l8, $ln
sys.exit(0 if all(0 < abs(x - a) / a < 0.02 for x in (b, c, d)) and c != d else 1)" && ok || bad "losses fp32 $l32 bf16 $l16 fp8 $l8 none $ln"

expect_error "precision" '--precision: expected fp32, bf16 or fp8' "$genc" lm train "${common[@]}" --precision fp16 --out "$tmp/e"
expect_error "promote" '--fp8-promote: expected' "$genc" lm train "${common[@]}" --precision fp8 --fp8-promote 0 --out "$tmp/e"
expect_error "promote fp32" '--fp8-promote: only meaningful' "$genc" lm train "${common[@]}" --fp8-promote 128 --out "$tmp/e"
echo "e2e lm fp8: $pass passed, $fail failed"
[ $fail -eq 0 ]
