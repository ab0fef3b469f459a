/* The GPT-2 pre-tokenizer ("gpt2"): the chunks of OpenAI's GPT-2 regex, which the HF
 * tokenizers ByteLevel pre-tokenizer (use_regex) and llama.cpp's "gpt-2" pre-type share:
 *     's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 * matched leftmost-first on code points, written out as a scan instead of a regex engine.
 * Bytes that are not valid UTF-8 count one by one as code points of no class (\S, not L,
 * not N). Chunks stop at GENC_TOK_MAX_CHUNK bytes, as genc-v1's do. */
#include "lm/tok_internal.h"

enum { K_LETTER, K_NUMBER, K_SPACE, K_OTHER };

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
    if (in_ranges(genc_tok_letters, genc_tok_letters_n, cp)) return K_LETTER;
    if (in_ranges(genc_tok_numbers, genc_tok_numbers_n, cp)) return K_NUMBER;
    if (in_ranges(genc_tok_spaces, genc_tok_spaces_n, cp)) return K_SPACE;
    return K_OTHER;
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

static int class_at(const uint8_t *s, size_t n, size_t i, int *len) {
    uint32_t cp = next_cp(s + i, n - i, len);
    if (cp < 0x80) { /* ASCII without the tables */
        if ((cp | 0x20) >= 'a' && (cp | 0x20) <= 'z') return K_LETTER;
        if (cp >= '0' && cp <= '9') return K_NUMBER;
        return cp == ' ' || (cp >= '\t' && cp <= '\r') ? K_SPACE : K_OTHER;
    }
    return cp == UINT32_MAX ? K_OTHER : genc_tok_cp_class(cp);
}

/* The end of the run of class cls that starts at i (bounded past the chunk cap). */
static size_t run_end(const uint8_t *s, size_t n, size_t i, int cls) {
    int len;
    while (i < n && i <= GENC_TOK_MAX_CHUNK && class_at(s, n, i, &len) == cls) i += (size_t)len;
    return i;
}

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
    int c0 = class_at(s, n, 0, &l0), c1 = n > (size_t)l0 ? class_at(s, n, (size_t)l0, &l1) : K_SPACE;
    if (len) { /* the contraction alternatives come first */
    } else if (s[0] == ' ' && c1 != K_SPACE) { /* " ?\p{L}+", " ?\p{N}+", " ?[^\s\p{L}\p{N}]+" */
        len = run_end(s, n, 1, c1);
    } else if (c0 != K_SPACE) {
        len = run_end(s, n, 0, c0);
    } else { /* "\s+(?!\S)": a run of spaces leaves its last one to a following non-space */
        size_t end = run_end(s, n, 0, K_SPACE), last = 0;
        for (size_t i = 0; i < end; i += (size_t)l1) class_at(s, n, last = i, &l1);
        len = end < n && last > 0 ? last : end; /* "\s+" when the run is one code point */
    }
    return len < GENC_TOK_MAX_CHUNK ? len : GENC_TOK_MAX_CHUNK;
}
