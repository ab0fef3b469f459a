/* Unicode classes for the regex pre-tokenizers (tok_gpt2.c, tok_qwen2.c): decoding one code
 * point from UTF-8 text and sorting it into \p{L}, \p{N}, \s or anything else with the
 * generated ranges of tok_unicode.c. Bytes that are not valid UTF-8 count one by one as code
 * points of no class, as llama.cpp counts each such byte as U+FFFD (a symbol). */
#include "lm/tok_internal.h"

static bool in_ranges(const genc_tok_cprange *r, int n, uint32_t cp) {
    int lo = 0, hi = n - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (cp < r[mid].lo) hi = mid - 1;
        else if (cp > r[mid].hi) lo = mid + 1;
        else return true;
    }
    return false;
}

int genc_tok_cp_class(uint32_t cp) {
    if (in_ranges(genc_tok_letters, genc_tok_letters_n, cp)) return GENC_TOK_LETTER;
    if (in_ranges(genc_tok_numbers, genc_tok_numbers_n, cp)) return GENC_TOK_NUMBER;
    if (in_ranges(genc_tok_spaces, genc_tok_spaces_n, cp)) return GENC_TOK_SPACE;
    return GENC_TOK_OTHER;
}

/* The code point at s[0..n) (n >= 1) and its byte length; strict UTF-8 (no overlongs,
 * surrogates or values past U+10FFFF), an invalid lead or sequence is one byte of no class. */
static uint32_t next_cp(const uint8_t *s, size_t n, int *len) {
    uint8_t b = s[0];
    int k = b < 0x80 ? 0 : b >= 0xc2 && b <= 0xdf ? 1 : b >= 0xe0 && b <= 0xef ? 2 : b >= 0xf0 && b <= 0xf4 ? 3 : -1;
    *len = 1;
    if (k <= 0) return k == 0 ? b : UINT32_MAX;
    if ((size_t)k >= n) return UINT32_MAX;
    uint32_t cp = b & (0x3f >> k);
    for (int i = 1; i <= k; i++) {
        if ((s[i] & 0xc0) != 0x80) return UINT32_MAX;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    static const uint32_t min_cp[4] = {0, 0x80, 0x800, 0x10000};
    if (cp < min_cp[k] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return UINT32_MAX;
    *len = k + 1;
    return cp;
}

int genc_tok_class_at(const uint8_t *s, size_t n, size_t i, int *len) {
    uint32_t cp = next_cp(s + i, n - i, len);
    if (cp < 0x80) { /* ASCII without the tables */
        if ((cp | 0x20) >= 'a' && (cp | 0x20) <= 'z') return GENC_TOK_LETTER;
        if (cp >= '0' && cp <= '9') return GENC_TOK_NUMBER;
        return cp == ' ' || (cp >= '\t' && cp <= '\r') ? GENC_TOK_SPACE : GENC_TOK_OTHER;
    }
    return cp == UINT32_MAX ? GENC_TOK_OTHER : genc_tok_cp_class(cp);
}

size_t genc_tok_class_run(const uint8_t *s, size_t n, size_t i, int cls) {
    int len;
    while (i < n && i <= GENC_TOK_MAX_CHUNK && genc_tok_class_at(s, n, i, &len) == cls) i += (size_t)len;
    return i;
}
