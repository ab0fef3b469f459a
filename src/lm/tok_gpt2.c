/* The GPT-2 pre-tokenizer ("gpt2"): the chunks of OpenAI's GPT-2 regex, which the HF
 * tokenizers ByteLevel pre-tokenizer (use_regex) and llama.cpp's "gpt-2" pre-type share:
 *     's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 * matched leftmost-first on code points, written out as a scan instead of a regex engine.
 * Bytes that are not valid UTF-8 count one by one as code points of no class (\S, not L,
 * not N; tok_class.c). Chunks stop at GENC_TOK_MAX_CHUNK bytes, as genc-v1's do. */
#include "lm/tok_internal.h"

/* 's 't 're 've 'm 'll 'd at s (case-sensitive, as GPT-2's pattern): its length or 0. */
static size_t contraction(const uint8_t *s, size_t n) {
    if (n < 2 || s[0] != '\'') return 0;
    if (s[1] == 's' || s[1] == 't' || s[1] == 'm' || s[1] == 'd') return 2;
    if (n >= 3 && ((s[1] == 'r' && s[2] == 'e') || (s[1] == 'v' && s[2] == 'e') || (s[1] == 'l' && s[2] == 'l')))
        return 3;
    return 0;
}

size_t genc_tok_chunk_len_gpt2(const uint8_t *s, size_t n) {
    size_t len = contraction(s, n);
    int l0, l1 = 0;
    int c0 = genc_tok_class_at(s, n, 0, &l0);
    int c1 = n > (size_t)l0 ? genc_tok_class_at(s, n, (size_t)l0, &l1) : GENC_TOK_SPACE;
    if (len) { /* the contraction alternatives come first */
    } else if (s[0] == ' ' && c1 != GENC_TOK_SPACE) { /* " ?\p{L}+", " ?\p{N}+", " ?[^\s\p{L}\p{N}]+" */
        len = genc_tok_class_run(s, n, 1, c1);
    } else if (c0 != GENC_TOK_SPACE) {
        len = genc_tok_class_run(s, n, 0, c0);
    } else { /* "\s+(?!\S)": a run of spaces leaves its last one to a following non-space */
        size_t end = genc_tok_class_run(s, n, 0, GENC_TOK_SPACE), last = 0;
        for (size_t i = 0; i < end; i += (size_t)l1) genc_tok_class_at(s, n, last = i, &l1);
        len = end < n && last > 0 ? last : end; /* "\s+" when the run is one code point */
    }
    return len < GENC_TOK_MAX_CHUNK ? len : GENC_TOK_MAX_CHUNK;
}
