#!/usr/bin/env bash
# End-to-end checks of `genc lm prefix-tune` and `genc lm sample --prefix`: a tiny base model
# trained here (20 steps), prefix-tuning on JSON-lines records (reparameterised and from
# --init-words), the base checkpoint byte-identical afterwards (cmp), held-out evaluation
# lines, sampling with the prefix, a prefix refused by another base model (the error names
# both hashes), full fine-tuning writing a loadable checkpoint, and one-line errors for bad
# flags and a malformed JSON line.
. "$(dirname "$0")/lib.sh" "$1"

names=(Aromi Cotto Zizzi Strada Loch)
foods=(Italian French Chinese Indian)
for n in "${names[@]}"; do for f in "${foods[@]}"; do
    echo "In the riverside you find $n, which serves $f food."
done; done | awk '{for (i = 0; i < 8; i++) print}' >"$tmp/base.txt"
for n in "${names[@]}"; do for f in "${foods[@]}"; do
    printf '{"input": "name[%s] food[%s] =>", "output": " %s serves %s food."}\n' "$n" "$f" "$n" "$f"
done; done >"$tmp/data.jsonl"
head -n 4 "$tmp/data.jsonl" >"$tmp/test.jsonl"

for s in 1 2; do
    "$genc" lm train --data "$tmp/base.txt" --steps 20 --seq 32 --mtp 0 --seed $s --out "$tmp/base$s" --threads 2 \
        >"$tmp/train$s.log" 2>&1 && ok || bad "base training failed: $(tail -1 "$tmp/train$s.log")"
done
ck="$tmp/base1/checkpoint.safetensors"
cp "$ck" "$tmp/base_copy.safetensors"

# 1. Prefix-tuning (reparameterised) writes a prefix, reports eval and the parameter fraction;
#    the base checkpoint is untouched byte for byte. The prefix steers the frozen base (which
#    only saw "In the riverside you find X, which serves Y food.") to the records' format: the
#    first held-out answer is " NAME serves Italian food." (seen: " Loch serves Italian food.";
#    without a working prefix the base continues ", which serves ..."). 300 steps: 0.3 s.
"$genc" lm prefix-tune --checkpoint "$ck" --data "$tmp/data.jsonl" --out "$tmp/p.safetensors" --prefix-len 5 \
    --reparam 32 --steps 300 --lr 0.03 --batch 4 --eval "$tmp/test.jsonl" --max-new 12 --threads 2 >"$tmp/pt.out" 2>"$tmp/pt.err" \
    && ok || bad "prefix-tune failed: $(cat "$tmp/pt.err")"
[ -s "$tmp/p.safetensors" ] && ok || bad "no prefix file"
cmp -s "$ck" "$tmp/base_copy.safetensors" && ok || bad "the base checkpoint changed"
grep -Eq '^eval .*: exact match [0-9]+/4 = [0-9.]+%, BLEU-4 [0-9.]+$' "$tmp/pt.out" && ok || bad "no eval line: $(cat "$tmp/pt.out")"
grep -Eq '^trained [0-9]+ of [0-9]+ parameters' "$tmp/pt.out" && ok || bad "no parameter line"
grep -Eq '^first held-out: want " Aromi serves Italian food\.", got " [A-Z][a-z]+ serves Italian food\."$' "$tmp/pt.out" \
    && ok || bad "the prefix did not learn the format: $(head -1 "$tmp/pt.out")"

# 2. --init-words (through the MLP, and direct with --reparam 0) and eval-only with the prefix file.
"$genc" lm prefix-tune --checkpoint "$ck" --data "$tmp/data.jsonl" --out "$tmp/w.safetensors" --prefix-len 4 \
    --init-words "In the riverside you find" --steps 5 --threads 2 >"$tmp/w.out" 2>"$tmp/w.err" \
    && ok || bad "--init-words failed: $(cat "$tmp/w.err")"
"$genc" lm prefix-tune --checkpoint "$ck" --data "$tmp/data.jsonl" --out "$tmp/wd.safetensors" --prefix-len 4 \
    --reparam 0 --init-words "In the riverside you find" --steps 5 --threads 2 >"$tmp/wd.out" 2>"$tmp/wd.err" \
    && ok || bad "--reparam 0 --init-words failed: $(cat "$tmp/wd.err")"
"$genc" lm prefix-tune --checkpoint "$ck" --eval-only --prefix "$tmp/w.safetensors" --eval "$tmp/test.jsonl" \
    --max-new 8 --threads 2 >"$tmp/e.out" 2>"$tmp/e.err" && ok || bad "eval-only failed: $(cat "$tmp/e.err")"

# 3. Sampling with the prefix; the other base model refuses it, naming both hashes.
"$genc" lm sample --checkpoint "$ck" --prefix "$tmp/p.safetensors" --prompt "name[Loch] food[Chinese] =>" \
    --max-new 10 --temperature 0 --echo=false --threads 2 >"$tmp/s.out" 2>"$tmp/s.err" && ok || bad "sample --prefix failed: $(cat "$tmp/s.err")"
grep -q 'tokens in' "$tmp/s.err" && ok || bad "no summary line"
# --max-new past the context: the cap is said, counting the prefix (not the prompt alone)
"$genc" lm sample --checkpoint "$ck" --prefix "$tmp/p.safetensors" --prompt "name[Loch] food[Chinese] =>" \
    --max-new 16777216 --temperature 0 --threads 2 >/dev/null 2>"$tmp/cap.err" || bad "capped sample failed"
grep -q "note: --max-new capped at .* (prefix 5 + prompt" "$tmp/cap.err" && [ "$(grep -c 'note:' "$tmp/cap.err")" -eq 1 ] \
    && ok || bad "no single cap note with the prefix: $(cat "$tmp/cap.err")"
# --stop with a prefix: the same greedy text, ending where the stop string first begins
text=$(cat "$tmp/s.out") stop=$(cut -c4-6 "$tmp/s.out" | head -1)
if [ ${#stop} -eq 3 ]; then
  "$genc" lm sample --checkpoint "$ck" --prefix "$tmp/p.safetensors" --prompt "name[Loch] food[Chinese] =>" \
      --max-new 10 --temperature 0 --echo=false --stop "$stop" --threads 2 >"$tmp/st.out" 2>"$tmp/st.err" \
      && ok || bad "sample --prefix --stop failed: $(cat "$tmp/st.err")"
  [ "$(cat "$tmp/st.out")" = "${text%%"$stop"*}" ] && ok || bad "--stop '$stop': got '$(cat "$tmp/st.out")' from '$text'"
  grep -q 'stopped at stop string' "$tmp/st.err" && ok || bad "no stop-string finish: $(cat "$tmp/st.err")"
else
  bad "greedy text '$text' too short to pick a stop string"
fi
expect_error "prefix and speculative" '--speculative' "$genc" lm sample --checkpoint "$ck" \
    --prefix "$tmp/p.safetensors" --prompt x --speculative
"$genc" lm sample --checkpoint "$tmp/base2/checkpoint.safetensors" --prefix "$tmp/p.safetensors" --prompt "x" \
    --max-new 4 --threads 2 >/dev/null 2>"$tmp/x.err" && bad "a prefix for another base was accepted" || ok
grep -Eq 'genc: error: .*p.safetensors: prefix made for base model [0-9a-f]{16}, but this base model is [0-9a-f]{16}' \
    "$tmp/x.err" && ok || bad "wrong-base error: $(cat "$tmp/x.err")"

# 4. Full fine-tuning writes a checkpoint that lm sample loads, and learns the records:
#    >= 8 of the 20 answered exactly after 100 steps (seen 12/20, BLEU-4 78.2).
"$genc" lm prefix-tune --checkpoint "$ck" --data "$tmp/data.jsonl" --out "$tmp/full.safetensors" --full --steps 100 \
    --batch 4 --eval "$tmp/data.jsonl" --max-new 12 --threads 2 >"$tmp/f.out" 2>"$tmp/f.err" \
    && ok || bad "--full failed: $(cat "$tmp/f.err")"
exact=$(sed -n 's/^eval .*: exact match \([0-9]*\)\/20 .*/\1/p' "$tmp/f.out")
[ "${exact:-0}" -ge 8 ] && ok || bad "--full: exact match '${exact}'/20: $(cat "$tmp/f.out")"
"$genc" lm sample --checkpoint "$tmp/full.safetensors" --prompt "name[Loch]" --max-new 4 --threads 2 \
    >/dev/null 2>&1 && ok || bad "the --full checkpoint does not load"
cmp -s "$ck" "$tmp/base_copy.safetensors" && ok || bad "the base checkpoint changed after --full"

# 5. Errors: one line naming the flag or file:line.
"$genc" lm prefix-tune --checkpoint "$ck" --data "$tmp/data.jsonl" --out "$ck" >/dev/null 2>"$tmp/e1" && bad "--out = --checkpoint accepted" || ok
grep -q '^genc: error: lm prefix-tune: --out must differ' "$tmp/e1" && ok || bad "--out error: $(cat "$tmp/e1")"
printf '{"input": "a"}\n' >"$tmp/bad.jsonl"
"$genc" lm prefix-tune --checkpoint "$ck" --data "$tmp/bad.jsonl" --out "$tmp/b.safetensors" >/dev/null 2>"$tmp/e2" \
    && bad "a line without output accepted" || ok
grep -q 'bad.jsonl:1: expected an object with "input" and "output" strings' "$tmp/e2" && ok || bad "json error: $(cat "$tmp/e2")"
[ "$(wc -l <"$tmp/e2")" -eq 1 ] && ok || bad "error is not one line: $(cat "$tmp/e2")"

echo "test_lm_prefix: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
