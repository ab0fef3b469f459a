#!/usr/bin/env bash
# End-to-end checks of `genc info FILE|DIR` on every kind of file this script can make
# quickly: a language-model training checkpoint (and its run folder), a standalone
# tokenizer, GGUF exports (f32 and q8_0) and a Hugging Face folder; and one-line errors on
# a missing path, an empty folder, random bytes, a truncated GGUF and a FIFO.
. "$(dirname "$0")/lib.sh" "$1"

for i in $(seq 1 300); do
    echo "The keeper of light number $i wrote about the weather, the ships and the birds on the rocks."
done >"$tmp/a.txt"
"$genc" lm train --data "$tmp/a.txt" --preset tiny --tok-vocab 300 --steps 3 --batch 2 --seq 32 --threads 1 \
    --out "$tmp/run" >/dev/null 2>&1 && ok || bad "lm train failed"
ck="$tmp/run/checkpoint.safetensors"

# info_has NAME PATTERN... : `genc info` on the last argument prints every pattern.
info_has() {
  local name="$1" target="$2"; shift 2
  "$genc" info "$target" >"$tmp/info.out" 2>"$tmp/info.err" || { bad "$name: exit $? $(cat "$tmp/info.err")"; return; }
  for p in "$@"; do grep -q -- "$p" "$tmp/info.out" && ok || bad "$name: no \"$p\" in: $(head -3 "$tmp/info.out")"; done
}

info_has checkpoint "$ck" "kind: language model (DeepSeek-V3" "parameters: [0-9,]*" "step: 3 (training checkpoint" \
    "optimiser: {\"kind\":\"adamw\"" "tokenizer: {\"version\":1" "optimiser moments" \
    "config: {\"model_type\":\"deepseek_v3\"" '"pretokenizer":"qwen2"'
info_has run_folder "$tmp/run" "kind: language model" "step: 3"
"$genc" tokenizer train --vocab 300 --input "$tmp/a.txt" --out "$tmp/tok.safetensors" >/dev/null 2>&1
info_has tokenizer "$tmp/tok.safetensors" "kind: tokenizer (byte-level BPE)" "parameters: 0"
for t in f32 q8_0; do
    "$genc" lm export --checkpoint "$ck" --format gguf --type $t --out "$tmp/m.$t.gguf" >/dev/null && ok || bad "export $t"
done
info_has gguf_f32 "$tmp/m.f32.gguf" "kind: deepseek2 model for llama.cpp" "deepseek2.block_count = 2" \
    "tokenizer: gpt2 (pre-tokenizer qwen2), 300 tokens, 37 merges" "step: none (weights only)" "F16 x0, Q8_0 x0"
info_has gguf_q8 "$tmp/m.q8_0.gguf" "general.file_type = 7" "Q8_0 x[1-9]"
"$genc" lm export --checkpoint "$ck" --format hf --out "$tmp/hf" >/dev/null && ok || bad "export hf"
info_has hf "$tmp/hf" "kind: deepseek_v3 model" "tokenizer: BPE, 300 tokens, 37 merges" "dtypes: F32" "shards: 1"
"$genc" lm export --checkpoint "$ck" --format hf --type bf16 --out "$tmp/hfb" >/dev/null && ok || bad "export hf bf16"
# A model whose tokenizer reads the tags as text (lm train --tok-tags text): the export lists the four
# tag ids as unused, not as added tokens, and the folder loads back with the same tag mode.
"$genc" lm train --data "$tmp/a.txt" --preset tiny --tok-vocab 300 --tok-tags text --steps 2 --batch 2 --seq 32 \
    --threads 1 --out "$tmp/runt" >/dev/null 2>&1 && ok || bad "lm train --tok-tags text failed"
"$genc" lm export --checkpoint "$tmp/runt/checkpoint.safetensors" --format hf --out "$tmp/hft" >/dev/null && ok \
    || bad "export hf (text tags)"
grep -q '"<|genc_unused_259|>"' "$tmp/hft/tokenizer.json" && ! grep -q '"<think>"' "$tmp/hft/tokenizer.json" && ok \
    || bad "text tags: tokenizer.json still lists <think>"
info_has ckpt_text_tags "$tmp/runt/checkpoint.safetensors" '"tags":"text"'
"$genc" lm export --checkpoint "$tmp/hft" --format hf --out "$tmp/hft2" >/dev/null && ok || bad "re-export of a text-tag folder"
cmp -s "$tmp/hft/tokenizer.json" "$tmp/hft2/tokenizer.json" && ok || bad "text tags lost in the HF round trip"
info_has hf_bf16 "$tmp/hfb" "BF16 x"

expect_error missing "no such file" "$genc" info "$tmp/nope"
mkdir "$tmp/empty"
expect_error empty_dir "without config.json" "$genc" info "$tmp/empty"
head -c 4000 /dev/urandom >"$tmp/random.bin"
expect_error random_bytes "random.bin" "$genc" info "$tmp/random.bin"
head -c 3000 "$tmp/m.f32.gguf" >"$tmp/cut.gguf"
expect_error truncated_gguf "cut.gguf: not a valid GGUF file" "$genc" info "$tmp/cut.gguf"
mkfifo "$tmp/fifo"
expect_error fifo "regular file" "$genc" info "$tmp/fifo"
expect_error two_args "one FILE" "$genc" info a b

echo "test_info: $pass passed, $fail failed"
[ $fail -eq 0 ]
