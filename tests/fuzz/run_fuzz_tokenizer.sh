#!/usr/bin/env bash
# Fuzzes genc's tokenizer (fuzz_tokenizer.c) for a bounded time. Seeds are made here: one
# input per mode of fuzz_tokenizer.c (a valid tokenizer file from the library itself is not
# needed: mode 1 wraps fuzzed merges into a valid file). fuzz_lib.sh builds and runs it.
# Usage: tests/fuzz/run_fuzz_tokenizer.sh [SECONDS=60]. Exits non-zero when the fuzzer
# finds a crash; the crashing input is left in build-fuzz/artifacts/.
set -euo pipefail
source "$(dirname "$0")/fuzz_lib.sh"
fuzz_build fuzz_tokenizer
# Mode 1 with the template metadata and merges (97,98) (263,99); mode 1 with its own JSON;
# mode 2 and 3 text with specials, invalid UTF-8 and digits.
printf '\x01\x01a\0\0\0b\0\0\0\x07\x01\0\0c\0\0\0' >"$work/seeds/wrapped_template"
meta='{"version":1,"type":"byte_bpe","pretokenizer":"genc-v1","vocab_size":263,"n_merges":0,"specials":[]}'
printf '\x01\x00%b%s' "\\x$(printf %02x ${#meta})\\x00" "$meta" >"$work/seeds/wrapped_json"
printf '\x02The keeper <|eos|> wrote 2024 \xff\xc3 <think>x</think>\n\n  end.' >"$work/seeds/codec"
printf '\x03\x40the the the cat sat on the mat <answer>42</answer> \xe2\x82\xac\xe2\x82' >"$work/seeds/train"
for t in version type pretokenizer vocab_size n_merges specials byte_bpe genc-v1 '<|bos|>' '<|eos|>' '<think>' '</answer>'; do
    printf '"%s"\n' "$t"
done >"$work/dict"
fuzz_run fuzz_tokenizer "${1:-60}" 4096 "$work/seeds"
