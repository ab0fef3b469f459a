#!/usr/bin/env bash
# End-to-end checks of the flag parser every verb shares (src/cli/flags.c), walking every
# verb's flag table: --help shows each flag's real default, equal to the value the verb parses
# when the flag is not given (the hidden --dump-defaults), never "nan" or "-1" for "not
# given", and the same whatever other flags precede --help; an unknown flag names the
# closest one; a flag given twice and a value outside a flag's choices are usage errors
# (exit 2, one line); a flag that would be ignored in the mode chosen is refused in one line.
. "$(dirname "$0")/lib.sh" "$1"

# Every verb `genc --help` lists (not info, completion or man: commands without a flag table),
# plus the diffusion tables behind the image dispatch.
mapfile -t verbs < <("$genc" --help | awk '$1 == "genc" && $2 !~ /^-/ && $2 != "completion" && $2 != "man" && $2 != "info" && NF > 3 {print $2 " " $3}')
[ "${#verbs[@]}" -ge 14 ] && ok || bad "genc --help lists ${#verbs[@]} verbs"
verbs+=("image train --model ddpm" "image sample --sampler ddim")

for v in "${verbs[@]}"; do
    # shellcheck disable=SC2086
    "$genc" $v --help >"$tmp/help" 2>&1 && ok || bad "$v --help failed"
    # shellcheck disable=SC2086
    "$genc" $v --dump-defaults >"$tmp/dump" 2>&1 && ok || bad "$v --dump-defaults failed: $(cat "$tmp/dump")"
    grep -Eq '\(default (nan|-1|inf)\)' "$tmp/help" && bad "$v --help: $(grep -E '\(default (nan|-1)' "$tmp/help")"
    first_int=""
    while IFS=$'\t' read -r name value; do
        line=$(grep -E -- "^  --$name( |\$)" "$tmp/help")
        if [ -z "$line" ]; then bad "$v: --$name is not in --help"; continue; fi
        case "$line" in
            *"(default: "*) ok ;;                      # the default said in words
            *"(default $value)") ok ;;
            *) bad "$v --$name: --help says \"${line##*(default}\", the parsed default is \"$value\"" ;;
        esac
        [ -z "$first_int" ] && [[ "$value" =~ ^[0-9]+$ ]] && first_int="$name"
    done <"$tmp/dump"
    # --help shows the defaults, not the values given before it.
    if [ -n "$first_int" ]; then
        # shellcheck disable=SC2086
        "$genc" $v --"$first_int" 3 --help >"$tmp/help2" 2>&1
        cmp -s "$tmp/help" "$tmp/help2" && ok || bad "$v --$first_int 3 --help differs from $v --help"
    fi
done

# A model flag the preset decides says the default preset's value, not just "the preset's".
"$genc" lm train --help >"$tmp/help"
grep -q -- "--dim N .*(default: the preset's; tiny: [0-9][0-9]*)" "$tmp/help" && ! grep -q "the preset's)" "$tmp/help" && ok \
    || bad "lm train --help: $(grep "the preset's" "$tmp/help" | head -3)"

# Typos, duplicates and choices. (--out "": a run the parser lets through fails at once.)
expect_error "typo" "unknown flag --inptu; did you mean --input?" "$genc" tokenizer train --inptu a.txt
expect_error "typo far" "unknown flag --zzzzzz (see" "$genc" lm train --zzzzzz 1 --out ""
expect_error "duplicate" "--steps given twice" "$genc" lm train --data x --steps 3 --steps=4 --out ""
"$genc" lm train --data x --steps 3 --steps 4 --out "" >/dev/null 2>&1; [ $? -eq 2 ] && ok || bad "a duplicated flag does not exit 2"
expect_error "duplicate bool" "--resume given twice" "$genc" lm train --data x --resume --resume --out ""
expect_error "choice" "--score expects one of sigmoid|softmax, found \"sigmod\"" "$genc" lm train --data x --score sigmod --out ""
"$genc" lm train --data x --score sigmod --out "" >/dev/null 2>&1; [ $? -eq 2 ] && ok || bad "a bad choice does not exit 2"
"$genc" classify train --arch resnet --out "" >/dev/null 2>&1; [ $? -eq 2 ] && ok || bad "classify --arch resnet does not exit 2"

# Every flag given acts or is refused in one line: flags of another mode, model or sampler.
expect_error "greedy top-k" "--top-k has no effect with --temperature 0" "$genc" lm sample --checkpoint x --temperature 0 --top-k 5
expect_error "epochs and steps" "--epochs has no effect with --steps" "$genc" classify train --steps 5 --epochs 2 --out ""
expect_error "sgd momentum" "--momentum has no effect with --optim adamw" "$genc" classify train --momentum 0.5 --out ""
expect_error "glow nice flag" "--couplings has no effect with --model glow" "$genc" image train --model glow --couplings 2 --out ""
expect_error "ddpm flag on rflow" "--T has no effect with --model rflow" "$genc" image train --model rflow --T 10 --out ""
expect_error "needs" "--cond-drop acts only with --cond" "$genc" image train --model ddpm --cond-drop 0.2 --out ""
expect_error "needs interp" "--interp-a acts only with --interp" "$genc" image sample --checkpoint x --interp-a 3
expect_error "eval task flag" "--k has no effect without --task" "$genc" lm eval --checkpoint x --data x --k 3
expect_error "eval data flag" "--seq has no effect without --data" "$genc" lm eval --checkpoint x --task arith --seq 64
expect_error "other task" "--numbers has no effect with --task arith" "$genc" lm grpo --task arith --numbers 4 --base x --out ""
expect_error "tokenizer given" "--tok-vocab has no effect with --tokenizer" "$genc" lm train --data x --tokenizer t --tok-vocab 300 --out ""

# One vocabulary (docs/cli.md): the old names still work for now, with a one-line note.
for old_new in "lm sample:max-tokens:max-new" "image sample:n:count" "image train --model ddpm:base:width" \
               "image fid:grid:out" "image sample --sampler ddim:clip:clip-x0"; do
    v=${old_new%%:*} rest=${old_new#*:}; old=${rest%%:*} new=${rest#*:}
    # shellcheck disable=SC2086
    "$genc" $v --"$old"=1 --dump-defaults >"$tmp/alias.out" 2>"$tmp/alias.err"
    grep -q "^genc: note: ${v%% --*}: --$old is deprecated; use --$new\$" "$tmp/alias.err" \
        && grep -q "^$new	" "$tmp/alias.out" && ! grep -q "^$old	" "$tmp/alias.out" && ok \
        || bad "$v --$old: $(cat "$tmp/alias.err")"
    # shellcheck disable=SC2086
    "$genc" $v --help | grep -q -- "^  --$old " && bad "$v --help lists the deprecated --$old" || ok
done
expect_error "alias and name" "--max-new given twice" "$genc" lm sample --checkpoint x --max-new 3 --max-tokens 4

echo "cli flags: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
