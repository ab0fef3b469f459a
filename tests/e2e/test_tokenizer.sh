#!/usr/bin/env bash
# End-to-end checks of `genc tokenizer train|encode`: training on text files written here
# succeeds, prints its statistics and is deterministic; encode prints ids (special tokens
# only with --special); missing files, bad vocab sizes, bad flags and corrupt tokenizer
# files give one line "genc: error: ..." and a non-zero exit, never a crash.
. "$(dirname "$0")/lib.sh" "$1"

for i in $(seq 1 200); do
    echo "The keeper of light number $i wrote about the weather, the ships and the birds on the rocks."
done >"$tmp/a.txt"
for i in $(seq 1 100); do
    echo "<think>If the sea is calm, the boat comes in; $i boats came.</think><answer>$i</answer><|eos|>"
done >"$tmp/b.txt"

# 1. Training prints its statistics and is deterministic.
"$genc" tokenizer train --vocab 300 --input "$tmp/a.txt,$tmp/b.txt" --out "$tmp/tok.safetensors" >"$tmp/train.log" 2>&1 \
    && ok || bad "training failed: $(tail -1 "$tmp/train.log")"
grep -q "read $(cat "$tmp/a.txt" "$tmp/b.txt" | wc -c) bytes from 2 files" "$tmp/train.log" && ok || bad "no bytes-read line"
grep -q 'learned 37 merges (vocab 300)' "$tmp/train.log" && ok || bad "no merges line: $(cat "$tmp/train.log")"
grep -Eq 'compression: [0-9.]+ bytes/token' "$tmp/train.log" && ok || bad "no compression line"
"$genc" tokenizer train --vocab 300 --input "$tmp/a.txt,$tmp/b.txt" --out "$tmp/tok2.safetensors" >/dev/null 2>&1
cmp -s "$tmp/tok.safetensors" "$tmp/tok2.safetensors" && ok || bad "two trainings on the same text differ"
"$genc" tokenizer train --vocab 5000 --input "$tmp/a.txt" --out "$tmp/tok3.safetensors" 2>&1 | grep -q 'no more adjacent pairs' \
    && ok || bad "a vocabulary larger than the text allows is not reported"

# 2. Encoding.
ids=$("$genc" tokenizer encode --tokenizer "$tmp/tok.safetensors" --text "The keeper wrote about the ships.")
[[ "$ids" =~ ^[0-9]+( [0-9]+)*$ ]] && ok || bad "encode printed \"$ids\""
n_ids=$(echo "$ids" | wc -w)
[ "$n_ids" -gt 0 ] && [ "$n_ids" -lt 20 ] && ok || bad "encode gave $n_ids ids for 33 bytes"
[ "$("$genc" tokenizer encode --tokenizer "$tmp/tok.safetensors" --special --text '<|eos|>')" = "257" ] && ok \
    || bad "<|eos|> with --special is not the single id 257"
plain=$("$genc" tokenizer encode --tokenizer "$tmp/tok.safetensors" --text '<|eos|>')
[ "$(echo "$plain" | wc -w)" -gt 1 ] && ! [[ " $plain " =~ " 257 " ]] && ok || bad "<|eos|> without --special gave \"$plain\""
[ "$("$genc" tokenizer encode --tokenizer "$tmp/tok.safetensors" --text '2024')" = "50 48 50 52" ] && ok \
    || bad "digits are not one token each"
file_ids=$("$genc" tokenizer encode --tokenizer "$tmp/tok.safetensors" --file "$tmp/a.txt" | wc -w)
[ "$file_ids" -gt 0 ] && [ "$((file_ids * 2))" -lt "$(wc -c <"$tmp/a.txt")" ] && ok || bad "encode --file gave $file_ids ids"
# Tags as text (--tags text): <think> is several ordinary tokens, <|eos|> stays 257.
"$genc" tokenizer train --vocab 300 --tags text --input "$tmp/a.txt,$tmp/b.txt" --out "$tmp/tokt.safetensors" >/dev/null 2>&1 \
    && ok || bad "training with --tags text failed"
tt=$("$genc" tokenizer encode --tokenizer "$tmp/tokt.safetensors" --special --text '<think>x</think><|eos|>')
[ "$(echo "$tt" | wc -w)" -gt 3 ] && [[ " $tt " =~ " 257 " ]] && ! [[ " $tt " =~ " 259 " ]] && ok \
    || bad "--tags text: <think>x</think><|eos|> gave \"$tt\""
[ "$("$genc" tokenizer encode --tokenizer "$tmp/tok.safetensors" --special --text '<think>')" = "259" ] && ok \
    || bad "<think> with --special is not 259 for a default tokenizer"
printf '' >"$tmp/empty.txt"
[ -z "$("$genc" tokenizer encode --tokenizer "$tmp/tok.safetensors" --file "$tmp/empty.txt")" ] && ok || bad "empty file"
"$genc" tokenizer train --help | grep -q -- '--input' && ok || bad "train --help lists no --input"

# 3. Bad input: one line "genc: error: ...", non-zero exit, no crash (exit < 128).
tok="$tmp/tok.safetensors"
expect_error "missing input file" "$tmp/none.txt" "$genc" tokenizer train --input "$tmp/a.txt,$tmp/none.txt" --out "$tmp/x.st"
expect_error "input is a folder" "$tmp" "$genc" tokenizer train --input "$tmp" --out "$tmp/x.st"
expect_error "vocab too small" '--vocab' "$genc" tokenizer train --vocab 100 --input "$tmp/a.txt" --out "$tmp/x.st"
expect_error "vocab not a number" '--vocab' "$genc" tokenizer train --vocab many --input "$tmp/a.txt"
expect_error "no input" '--input' "$genc" tokenizer train --vocab 300
expect_error "empty list entry" '--input' "$genc" tokenizer train --input "$tmp/a.txt,,$tmp/b.txt"
expect_error "positional file" 'unexpected argument' "$genc" tokenizer train "$tmp/a.txt"
expect_error "unwritable output" "$tmp/no/dir/t.st" "$genc" tokenizer train --vocab 300 --input "$tmp/a.txt" --out "$tmp/no/dir/t.st"
expect_error "missing tokenizer" "$tmp/none.st" "$genc" tokenizer encode --tokenizer "$tmp/none.st" --text hi
expect_error "no tokenizer flag" '--tokenizer' "$genc" tokenizer encode --text hi
expect_error "text and file" 'exactly one' "$genc" tokenizer encode --tokenizer "$tok" --text hi --file "$tmp/a.txt"
expect_error "missing text file" "$tmp/none.txt" "$genc" tokenizer encode --tokenizer "$tok" --file "$tmp/none.txt"
echo 'not a tokenizer' >"$tmp/text.st"
expect_error "not safetensors" 'text.st' "$genc" tokenizer encode --tokenizer "$tmp/text.st" --text hi
head -c 100 "$tok" >"$tmp/trunc.st"
expect_error "truncated tokenizer" 'trunc.st' "$genc" tokenizer encode --tokenizer "$tmp/trunc.st" --text hi
# A merges tensor whose first merge points at a later token: the loader names the merge.
if python3 - "$tok" "$tmp/later.st" <<'PY'
import json, struct, sys
b = bytearray(open(sys.argv[1], 'rb').read())
n = struct.unpack('<Q', b[:8])[0]
start = 8 + n + json.loads(b[8:8 + n])['tokenizer.merges']['data_offsets'][0]
b[start:start + 4] = struct.pack('<i', 300)
open(sys.argv[2], 'wb').write(b)
PY
then expect_error "bad merge" 'merge 0 (token 263)' "$genc" tokenizer encode --tokenizer "$tmp/later.st" --text hi
else bad "could not write the bad-merge tokenizer (python3 failed)"; fi

# 5. Decode inverts encode; "-" reads standard input (train, encode and decode).
back=$("$genc" tokenizer decode --tokenizer "$tmp/tok.safetensors" --ids "$ids")
[ "$back" = "The keeper wrote about the ships." ] && ok || bad "decode of encode gave '$back'"
back=$(echo "$ids" | "$genc" tokenizer decode --tokenizer "$tmp/tok.safetensors" --file -)
[ "$back" = "The keeper wrote about the ships." ] && ok || bad "decode --file - gave '$back'"
ids2=$(printf 'The keeper wrote about the ships.' | "$genc" tokenizer encode --tokenizer "$tmp/tok.safetensors" --file -)
[ "$ids2" = "$ids" ] && ok || bad "encode --file - gave '$ids2', --text gave '$ids'"
cat "$tmp/a.txt" "$tmp/b.txt" | "$genc" tokenizer train --vocab 300 --input - --out "$tmp/tok4.safetensors" >/dev/null 2>&1 \
    && ok || bad "tokenizer train --input - failed"
expect_error "decode bad id" '--ids: expected token ids (integers >= 0), found "x"' \
    "$genc" tokenizer decode --tokenizer "$tmp/tok.safetensors" --ids "1 x"
expect_error "decode out of vocabulary" 'id 99999' "$genc" tokenizer decode --tokenizer "$tmp/tok.safetensors" --ids "1 99999"

echo "e2e tokenizer: $pass passed, $fail failed"
[ $fail -eq 0 ]
