/* The Qwen2 pre-tokenizer ("qwen2"), the default for new tokenizers: the chunks of the
 * regex of Qwen2's tokenizer.json, which llama.cpp runs for its "qwen2" pre-type,
 *     (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*
 *     |\s*[\r\n]+|\s+(?!\S)|\s+
 * matched leftmost-first on code points, written out as a scan instead of a regex engine
 * (the case-insensitive contractions are ASCII only, as in llama.cpp). Unlike GPT-2's regex
 * it keeps every digit a chunk of its own (numbers read the same wherever they appear, as
 * genc-v1 keeps them), lets any one non-letter lead a letter run ("(word", "\tword"), and
 * ends punctuation runs and whitespace runs with their newlines. Invalid UTF-8 bytes count
 * one by one as code points of no class (tok_class.c). Chunks stop at GENC_TOK_MAX_CHUNK
 * bytes; every scan looks at most one code point past that, so the split is exactly the
 * regex's wherever the regex's chunks fit the cap, and stays linear in the input. */
#include "lm/tok_internal.h"

static bool is_newline(uint8_t c) { return c == '\r' || c == '\n'; }

/* 's 't 're 've 'm 'll 'd at s in either case: its length or 0. */
static size_t contraction(const uint8_t *s, size_t n) {
    if (n < 2 || s[0] != '\'') return 0;
    uint8_t a = s[1] | 0x20, b = n >= 3 ? s[2] | 0x20 : 0; /* only the ASCII letters fold onto these */
    if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
    return (a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l') ? 3 : 0;
}

/* "\s*[\r\n]+|\s+(?!\S)|\s+" on the whitespace run at s: up to its last newline; else the
 * run less its last code point when something follows; else the whole run. */
static size_t space_run(const uint8_t *s, size_t n) {
    size_t i = 0, last = 0, after_newline = 0;
    int len;
    while (i < n && i <= GENC_TOK_MAX_CHUNK && genc_tok_class_at(s, n, i, &len) == GENC_TOK_SPACE) {
        if (is_newline(s[i])) after_newline = i + 1;
        last = i, i += (size_t)len;
    }
    if (after_newline) return after_newline;
    return last > 0 && i < n ? last : i;
}

size_t genc_tok_chunk_len_qwen2(const uint8_t *s, size_t n) {
    int l0, l1 = 0;
    int c0 = genc_tok_class_at(s, n, 0, &l0);
    int c1 = n > (size_t)l0 ? genc_tok_class_at(s, n, (size_t)l0, &l1) : -1;
    size_t len = contraction(s, n);
    if (len) { /* the contractions come first */
    } else if (c0 == GENC_TOK_LETTER || (c1 == GENC_TOK_LETTER && c0 != GENC_TOK_NUMBER && !is_newline(s[0]))) {
        /* "[^\r\n\p{L}\p{N}]?\p{L}+" */
        len = genc_tok_class_run(s, n, c0 == GENC_TOK_LETTER ? 0 : (size_t)l0, GENC_TOK_LETTER);
    } else if (c0 == GENC_TOK_NUMBER) { /* "\p{N}": one digit */
        len = (size_t)l0;
    } else if (c0 == GENC_TOK_OTHER || (s[0] == ' ' && c1 == GENC_TOK_OTHER)) { /* " ?[^\s\p{L}\p{N}]+[\r\n]*" */
        len = genc_tok_class_run(s, n, c0 == GENC_TOK_OTHER ? 0 : 1, GENC_TOK_OTHER);
        while (len < n && len <= GENC_TOK_MAX_CHUNK && is_newline(s[len])) len++;
    } else {
        len = space_run(s, n);
    }
    return len < GENC_TOK_MAX_CHUNK ? len : GENC_TOK_MAX_CHUNK;
}
