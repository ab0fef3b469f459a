#!/usr/bin/env bash
# End-to-end checks of `genc lm sample`: train a tiny model for 20 steps on a text file
# written here, then sample from it (greedy, seeded sampling with top-k/top-p and stop
# strings, self-speculative decoding), checking exit codes, streamed output, the stderr
# summary and determinism; bad flags and missing checkpoints give one `genc: error:` line
# and a non-zero exit.
. "$(dirname "$0")/lib.sh" "$1"

for i in $(seq 1 300); do
    echo "The keeper of light number $i wrote about the weather, the ships and the birds on the rocks."
done >"$tmp/data.txt"
"$genc" lm train --data "$tmp/data.txt" --steps 20 --max-seq 1024 --out "$tmp/run" --threads 2 >"$tmp/train.log" 2>&1 \
    && ok || bad "training failed: $(tail -1 "$tmp/train.log")"
ck="$tmp/run/checkpoint.safetensors"

# 1. Greedy sampling streams text and prints the summary.
"$genc" lm sample --checkpoint "$ck" --prompt "The keeper" --max-new 30 --temperature 0 --threads 2 \
    >"$tmp/g.out" 2>"$tmp/g.err" && ok || bad "greedy sampling failed: $(cat "$tmp/g.err")"
[ -s "$tmp/g.out" ] && [ "$(tr -d '\n' <"$tmp/g.out" | wc -c)" -gt 0 ] && ok || bad "no text on stdout"
grep -Eq '^[0-9]+ tokens in [0-9.]+ s: [0-9.]+ tokens/s' "$tmp/g.err" && ok || bad "no speed line: $(cat "$tmp/g.err")"
grep -Eq 'KV cache per token: [0-9]+ bytes latent .* vs [0-9]+ bytes multi-head' "$tmp/g.err" && ok || bad "no cache line"

# 2. Speculative greedy decoding gives the same text and reports acceptance and speed-up.
"$genc" lm sample --checkpoint "$ck" --prompt "The keeper" --max-new 30 --temperature 0 --speculative --threads 2 \
    >"$tmp/s.out" 2>"$tmp/s.err" && ok || bad "speculative sampling failed: $(cat "$tmp/s.err")"
cmp -s "$tmp/g.out" "$tmp/s.out" && ok || bad "speculative greedy text differs from plain greedy"
grep -Eq 'drafts accepted \([0-9.]+%\)' "$tmp/s.err" && ok || bad "no acceptance line: $(cat "$tmp/s.err")"
grep -Eq 'speculative speed-up [0-9.]+x$' "$tmp/s.err" && ok || bad "no speed-up line (or tokens differ): $(cat "$tmp/s.err")"

# 3. Seeded sampling is reproducible; a stop string never appears in the output, and the
#    run stops exactly there: its text is the same seed's unstopped text up to where "ships"
#    first begins (the unstopped run must generate "ships" for the check to mean anything).
for k in 1 2; do
    "$genc" lm sample --checkpoint "$ck" --prompt "The" --max-new 40 --temperature 0.9 --top-k 20 --top-p 0.9 \
        --seed 5 --stop "ships" --threads 2 >"$tmp/r$k.out" 2>"$tmp/r$k.err" || bad "seeded sampling failed: $(cat "$tmp/r$k.err")"
done
cmp -s "$tmp/r1.out" "$tmp/r2.out" && ok || bad "same seed, different text"
! grep -q ships "$tmp/r1.out" && ok || bad "the stop string was printed"
"$genc" lm sample --checkpoint "$ck" --prompt "The" --max-new 40 --temperature 0.9 --top-k 20 --top-p 0.9 \
    --seed 5 --threads 2 >"$tmp/full.out" 2>/dev/null || bad "unstopped sampling failed"
full=$(cat "$tmp/full.out") stopped=$(cat "$tmp/r1.out")
want=$(printf '%s' "${full%%ships*}")
[[ "$full" == *ships* ]] && [ "$stopped" = "$want" ] && ok \
    || bad "--stop ships: got '$stopped', expected the unstopped text up to 'ships': '$full'"
grep -q 'stopped at stop string' "$tmp/r1.err" && ok || bad "no stop-string finish: $(cat "$tmp/r1.err")"
"$genc" lm sample --checkpoint "$ck" --prompt "The" --max-new 40 --temperature 0.9 --speculative --seed 5 \
    --threads 2 >/dev/null 2>&1 && ok || bad "speculative sampling at temperature 0.9 failed"

# The prompt is echoed before the generated text (--echo=false: the new text only), and
# --prompt-file - reads it from standard input.
"$genc" lm sample --checkpoint "$ck" --prompt "The keeper" --max-new 30 --temperature 0 --echo=false --threads 2 \
    >"$tmp/ne.out" 2>/dev/null || bad "--echo=false failed"
[ "$(cat "$tmp/g.out")" = "The keeper$(cat "$tmp/ne.out")" ] && ok \
    || bad "echo: '$(cat "$tmp/g.out")' is not the prompt then '$(cat "$tmp/ne.out")'"
printf 'The keeper' | "$genc" lm sample --checkpoint "$ck" --prompt-file - --max-new 30 --temperature 0 --threads 2 \
    >"$tmp/pf.out" 2>/dev/null && cmp -s "$tmp/pf.out" "$tmp/g.out" && ok || bad "--prompt-file - differs from --prompt"

# lm chat: a turn per line, the reply streamed; /reset forgets the conversation, so the same
# line after it gets the first reply again (greedy), and /quit leaves before the next line.
chat() { "$genc" lm chat --checkpoint "$ck" --max-new 12 --temperature 0 --threads 2 "$@" 2>"$tmp/chat.err"; }
printf 'The keeper\n/quit\nThe ships\n' | chat >"$tmp/c1.out" && [ -s "$tmp/c1.out" ] && ok || bad "chat: $(cat "$tmp/chat.err")"
printf 'The ships\nThe keeper\n' | chat >"$tmp/c2.out" || bad "chat without /reset: $(cat "$tmp/chat.err")"
printf 'The ships\n/reset\nThe keeper\n' | chat >"$tmp/c3.out" || bad "chat with /reset: $(cat "$tmp/chat.err")"
c1=$(cat "$tmp/c1.out") c2=$(cat "$tmp/c2.out") c3=$(cat "$tmp/c3.out")
[ "$(wc -l <"$tmp/c1.out")" -eq "$(printf '%s\n' "$c1" | wc -l)" ] && [[ "$c3" == *"$c1" ]] && [[ "$c2" != *"$c1" ]] && ok \
    || bad "/reset: first reply '$c1', after the history '$c2', after /reset '$c3'"
printf 'What is 2 + 3?\n' | chat --template r1 | head -c 7 | grep -qx '<think>' && ok || bad "chat --template r1: no <think>"

# 4. Errors: one "genc: error:" line and a non-zero exit.
check_error() { # expected-exit description args...
    local want="$1" what="$2"
    shift 2
    "$genc" lm sample "$@" >"$tmp/e.out" 2>"$tmp/e.err"
    local rc=$?
    [ "$rc" -eq "$want" ] && [ "$(wc -l <"$tmp/e.err")" -eq 1 ] && grep -q '^genc: error: ' "$tmp/e.err" && ok \
        || bad "$what: exit $rc, stderr: $(cat "$tmp/e.err")"
}
check_error 1 "missing checkpoint" --checkpoint "$tmp/nope.safetensors"
check_error 2 "no checkpoint flag" --prompt hi
check_error 2 "unknown flag" --checkpoint "$ck" --bogus 1
check_error 2 "bad temperature" --checkpoint "$ck" --temperature -1
check_error 2 "bad top-p" --checkpoint "$ck" --top-p 1.5
check_error 2 "non-numeric max tokens" --checkpoint "$ck" --max-new many
echo "not a checkpoint" >"$tmp/bad.safetensors"
check_error 1 "corrupt checkpoint" --checkpoint "$tmp/bad.safetensors"

echo "test_lm_sample: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
