#!/usr/bin/env bash
# End-to-end checks of `genc lm train --precision fp8|bf16 --fp8-promote --optim-state bf16`
# (DeepSeek-V3 report section 3.3): FP8 and BF16 training run and stay near FP32 but not equal
# to it (the quantised GEMMs are in use); BF16 AdamW moments are stored as BF16 in the
# checkpoint and 12 steps equal 6 + resume + 6 byte for byte; `lm quantize` writes FP8 weights
# that eval and sample read; bad values and a malformed scale tensor give one error line.
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

# BF16 moments: BF16 in the file, and resume is bit-exact.
opt=(--precision fp8 --optim-state bf16)
"$genc" lm train "${common[@]}" "${opt[@]}" --out "$tmp/a" >/dev/null 2>&1 || bad "bf16-state run failed"
"$genc" lm train "${common[@]}" "${opt[@]}" --stop-at 6 --out "$tmp/b" >/dev/null 2>&1 || bad "first half failed"
"$genc" lm train "${common[@]}" "${opt[@]}" --resume --out "$tmp/b" >"$tmp/b2.log" 2>&1 || bad "resume failed: $(tail -1 "$tmp/b2.log")"
cmp -s "$tmp/a/checkpoint.safetensors" "$tmp/b/checkpoint.safetensors" && ok || bad "resumed checkpoint differs"
python3 - "$tmp/a/checkpoint.safetensors" <<'PY' && ok || bad "moments are not BF16 in the checkpoint"
import json, struct, sys
raw = open(sys.argv[1], "rb").read()
hdr = json.loads(raw[8:8 + struct.unpack("<Q", raw[:8])[0]])
mom = [v["dtype"] for k, v in hdr.items() if k.startswith("optim.")]
par = [v["dtype"] for k, v in hdr.items() if not k.startswith(("optim.", "tokenizer.", "__"))]
sys.exit(0 if mom and set(mom) == {"BF16"} and set(par) == {"F32"} else 1)
PY
cmp -s "$tmp/a/checkpoint.safetensors" "$tmp/fp8/checkpoint.safetensors" && bad "bf16 moments changed nothing" || ok

# FP8 weights (DeepSeek's release layout): smaller, perplexity within 2%, sample reads them,
# a scale tensor of the wrong dtype is refused with one line.
"$genc" lm quantize --checkpoint "$tmp/fp32/checkpoint.safetensors" --out "$tmp/w8.safetensors" >"$tmp/q.log" 2>&1 \
  || bad "quantize failed: $(tail -1 "$tmp/q.log")"
ppl() { "$genc" lm eval --checkpoint "$1" --data /usr/share/common-licenses/MPL-2.0 --threads 2 2>&1 | tail -1 | sed 's/.*perplexity \([0-9.]*\).*/\1/'; }
p32=$(ppl "$tmp/fp32/checkpoint.safetensors") p8=$(ppl "$tmp/w8.safetensors")
python3 -c "import sys; sys.exit(0 if abs($p8 - $p32) / $p32 < 0.02 else 1)" && ok || bad "perplexity F32 $p32 FP8 $p8"
"$genc" lm sample --checkpoint "$tmp/w8.safetensors" --prompt "The" --max-tokens 5 --threads 2 >/dev/null 2>&1 && ok || bad "sample on FP8 weights"
# --weights fp8 holds them in memory as E4M3 + block scales: the same perplexity line and the
# same greedy text as the F32 copy of the same FP8 weights, and a ~4x smaller weight size.
e32=$("$genc" lm eval --checkpoint "$tmp/w8.safetensors" --data "$data" --threads 2 2>&1 | tail -1)
e8=$("$genc" lm eval --checkpoint "$tmp/w8.safetensors" --data "$data" --threads 2 --weights fp8 2>"$tmp/h.log" | tail -1)
[ -n "$e32" ] && [ "$e32" = "$e8" ] && ok || bad "eval --weights fp8: '$e8' vs '$e32'"
grep -q "weights held in FP8: .* (3\.[0-9][0-9]x)" "$tmp/h.log" && ok || bad "held bytes: $(cat "$tmp/h.log")"
s32=$("$genc" lm sample --checkpoint "$tmp/w8.safetensors" --prompt "The" --max-new 40 --temperature 0 --threads 2 2>/dev/null)
s8=$("$genc" lm sample --checkpoint "$tmp/w8.safetensors" --prompt "The" --max-new 40 --temperature 0 --threads 2 \
     --weights fp8 2>/dev/null)
[ -n "$s8" ] && [ "$s32" = "$s8" ] && ok || bad "sample --weights fp8 differs: '$s8' vs '$s32'"
expect_error "bad --weights" "--weights" "$genc" lm eval --checkpoint "$tmp/w8.safetensors" --data "$data" --weights fp4
python3 - "$tmp/w8.safetensors" "$tmp/bad.safetensors" <<'PY' || bad "could not write the malformed file"
import json, struct, sys
raw = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
hdr = json.loads(raw[8:8 + n])
name = sorted(k for k in hdr if k.endswith("_scale_inv"))[0]
hdr[name]["dtype"] = "I32"
h = json.dumps(hdr).encode()
h += b" " * (-len(h) % 8)
open(sys.argv[2], "wb").write(struct.pack("<Q", len(h)) + h + raw[8 + n:])
PY
expect_error "bad scale dtype" '_scale_inv" must be F32, found I32' "$genc" lm eval --checkpoint "$tmp/bad.safetensors" --data "$data"

expect_error "precision" '--precision expects one of fp32|bf16|fp8' "$genc" lm train "${common[@]}" --precision fp16 --out "$tmp/e"
expect_error "promote" '--fp8-promote: expected' "$genc" lm train "${common[@]}" --precision fp8 --fp8-promote 0 --out "$tmp/e"
expect_error "promote fp32" '--fp8-promote: only meaningful' "$genc" lm train "${common[@]}" --fp8-promote 128 --out "$tmp/e"
expect_error "optim state" '--optim-state expects one of fp32|bf16' "$genc" lm train "${common[@]}" --optim-state fp8 --out "$tmp/e"
echo "e2e lm fp8: $pass passed, $fail failed"
[ $fail -eq 0 ]
