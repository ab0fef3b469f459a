#!/usr/bin/env bash
# End-to-end checks of `genc completion bash|zsh` and `genc man`, both generated from the verbs'
# flag tables: the bash script completes families, verbs, every flag of a verb (the diffusion
# tables behind the image dispatch too) and a flag's choices; the man page lists every verb
# and flag and renders.
. "$(dirname "$0")/lib.sh" "$1"

"$genc" completion bash >"$tmp/genc.bash" && bash -n "$tmp/genc.bash" && ok || bad "completion bash: not a bash script"
# shellcheck disable=SC1091
. "$tmp/genc.bash"
complete_words() { COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _genc; echo " ${COMPREPLY[*]} "; }
[[ "$(complete_words genc im)" == *" image "* ]] && ok || bad "family: $(complete_words genc im)"
[[ "$(complete_words genc tokenizer d)" == " decode " ]] && ok || bad "verb: $(complete_words genc tokenizer d)"
[[ "$(complete_words genc lm train --sc)" == " --score " ]] && ok || bad "flag: $(complete_words genc lm train --sc)"
[[ "$(complete_words genc lm train --score '')" == " sigmoid softmax " ]] && ok || bad "choices: $(complete_words genc lm train --score '')"
[[ "$(complete_words genc image train --wi)" == " --width " ]] && ok || bad "diffusion table: $(complete_words genc image train --wi)"
[[ "$(complete_words genc lm sample --max-t)" == "  " ]] && ok || bad "a deprecated alias is offered: $(complete_words genc lm sample --max-t)"
missing=""
while IFS=$'\t' read -r name _; do
    [[ "$(complete_words genc lm grpo "--$name")" == *" --$name "* ]] || missing="$missing --$name"
done < <("$genc" lm grpo --dump-defaults)
[ -z "$missing" ] && ok || bad "lm grpo flags not completed:$missing"
"$genc" completion zsh | head -2 | grep -q 'bashcompinit' && ok || bad "completion zsh does not load bashcompinit"
expect_error "completion fish" 'completion: expected bash or zsh, found "fish"' "$genc" completion fish

"$genc" man >"$tmp/genc.1" && head -1 "$tmp/genc.1" | grep -q '^\.TH GENC 1' && ok || bad "genc man: no .TH line"
for v in "lm train" "lm sample" "image fid" "tokenizer decode"; do
    grep -q "^\.SS \"genc $v\"" "$tmp/genc.1" && ok || bad "genc man: no section for $v"
done
grep -q '^\\fB\\-\\-max\\-new\\fR' "$tmp/genc.1" && ok || bad "genc man: no --max-new"
if command -v man >/dev/null; then
    MANWIDTH=100 man -l "$tmp/genc.1" 2>"$tmp/man.err" | grep -q -- '--mtp-lambda X' && [ ! -s "$tmp/man.err" ] && ok \
        || bad "man -l does not render the page cleanly: $(head -3 "$tmp/man.err")"
fi

echo "e2e completion: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
