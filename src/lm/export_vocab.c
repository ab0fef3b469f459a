/* genc's byte-level BPE vocabulary in the exchange formats' spelling: every token's bytes as
 * GPT-2 byte-level text (the HF tokenizers ByteLevel convention llama.cpp's "gpt2" vocab
 * shares), merges as "left right", and the GGUF tokenizer keys. */
#include "genc/lm_export.h"
#include "lm/export_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* GPT-2's byte -> code point map: '!'..'~', 0xA1..0xAC and 0xAE..0xFF are themselves; the
 * other 68 bytes take U+0100.. in byte order. */
static unsigned byte_cp(uint8_t b) {
    if ((b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || b >= 0xae) return b;
    unsigned k = 0;
    for (unsigned c = 0; c < b; c++)
        if (!((c >= 0x21 && c <= 0x7e) || (c >= 0xa1 && c <= 0xac) || c >= 0xae)) k++;
    return 256 + k;
}

size_t genc_byte_level_encode(const uint8_t *s, size_t n, char *out) {
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned cp = byte_cp(s[i]);
        if (cp < 0x80) {
            out[o++] = (char)cp;
        } else {
            out[o++] = (char)(0xc0 | (cp >> 6));
            out[o++] = (char)(0x80 | (cp & 0x3f));
        }
    }
    out[o] = 0;
    return o;
}

/* The byte of code point cp under byte_cp, or -1. The 68 remapped bytes are 0x00-0x20,
 * 0x7F-0xA0 and 0xAD, in that order from U+0100. */
static int cp_byte(unsigned cp) {
    if (cp < 256) return byte_cp((uint8_t)cp) == cp ? (int)cp : -1;
    unsigned k = cp - 256;
    return k < 33 ? (int)k : k < 67 ? (int)(0x7f + k - 33) : k == 67 ? 0xad : -1;
}

bool genc_byte_level_decode(const char *s, size_t n, uint8_t *out, size_t *n_out) {
    size_t o = 0;
    for (size_t i = 0; i < n; o++) {
        uint8_t c = (uint8_t)s[i];
        unsigned cp = c;
        if (c >= 0xc2 && c <= 0xc5 && i + 1 < n && ((uint8_t)s[i + 1] & 0xc0) == 0x80)
            cp = (unsigned)(c & 0x1f) << 6 | ((uint8_t)s[i + 1] & 0x3f), i += 2;
        else if (c < 0x80) i++;
        else return false;
        int b = cp_byte(cp);
        if (b < 0) return false;
        out[o] = (uint8_t)b;
    }
    *n_out = o;
    return true;
}

/* Padding ids past the tokenizer's vocabulary (the model's vocab_size may be larger). */
static void pad_name(int id, char *out, size_t cap) { snprintf(out, cap, "<|genc_unused_%d|>", id); }

void genc_export_vocab_free(genc_export_vocab *v) {
    for (int i = 0; v->tokens && i < v->n; i++) free(v->tokens[i]);
    for (int i = 0; v->merges && i < v->n_merges; i++) free(v->merges[i]);
    free(v->tokens), free(v->merges), free(v->types);
    memset(v, 0, sizeof *v);
}

static char *token_text(const genc_tokenizer *tok, int id) {
    size_t len;
    const uint8_t *b = genc_tokenizer_token_bytes(tok, id, &len);
    bool special = id >= GENC_TOK_N_BYTES && id < GENC_TOK_FIRST_MERGE;
    char *s = malloc(2 * len + 1);
    if (!s) return NULL;
    if (special) memcpy(s, b, len), s[len] = 0; /* specials keep their literal text */
    else genc_byte_level_encode(b, len, s);
    return s;
}

genc_status genc_export_vocab_build(genc_ctx *ctx, const genc_tokenizer *tok, int n_vocab, genc_export_vocab *v) {
    memset(v, 0, sizeof *v);
    int nt = genc_tokenizer_vocab_size(tok);
    if (nt > n_vocab)
        return genc_error(ctx, GENC_EINVAL, "export: the tokenizer has %d tokens but the model only %d", nt, n_vocab);
    v->n = n_vocab, v->n_merges = genc_tokenizer_n_merges(tok);
    v->tokens = calloc((size_t)n_vocab, sizeof *v->tokens);
    v->types = calloc((size_t)n_vocab, sizeof *v->types);
    v->merges = calloc((size_t)v->n_merges + 1, sizeof *v->merges);
    bool ok = v->tokens && v->types && v->merges;
    /* With text tags the four tag ids are never produced: exported as unused names, so that
     * neither llama.cpp nor a Hugging Face tokenizer matches "<think>" as one token. */
    int first_unused_tag = genc_tokenizer_tags(tok) == GENC_TAGS_TEXT ? GENC_TOK_N_BYTES + GENC_TOK_N_CONTROL
                                                                       : GENC_TOK_FIRST_MERGE;
    for (int id = 0; ok && id < n_vocab; id++) {
        char pad[48];
        bool unused = id >= nt || (id >= first_unused_tag && id < GENC_TOK_FIRST_MERGE);
        if (unused) pad_name(id, pad, sizeof pad);
        v->tokens[id] = unused ? strdup(pad) : token_text(tok, id);
        v->types[id] = unused ? GENC_TOKTYPE_UNUSED
                     : id >= GENC_TOK_N_BYTES && id < GENC_TOK_FIRST_MERGE ? GENC_TOKTYPE_CONTROL : GENC_TOKTYPE_NORMAL;
        ok = v->tokens[id] != NULL;
    }
    for (int i = 0; ok && i < v->n_merges; i++) {
        int32_t a, b;
        genc_tokenizer_merge(tok, GENC_TOK_FIRST_MERGE + i, &a, &b);
        size_t la = strlen(v->tokens[a]), lb = strlen(v->tokens[b]);
        ok = (v->merges[i] = malloc(la + lb + 2)) != NULL;
        if (ok) memcpy(v->merges[i], v->tokens[a], la), v->merges[i][la] = ' ', memcpy(v->merges[i] + la + 1, v->tokens[b], lb + 1);
    }
    if (!ok) {
        genc_export_vocab_free(v);
        return genc_error(ctx, GENC_ENOMEM, "export: out of memory for the vocabulary");
    }
    return GENC_OK;
}

/* qwen2 is llama.cpp's "qwen2" pre-type; gpt2 its "gpt-2"; genc-v1, which llama.cpp does not
 * know, also says "gpt-2", its nearest (the ids genc gives are the reference then). */
const char *genc_gguf_pretok_name(genc_pretokenizer p) { return p == GENC_PRETOK_QWEN2 ? "qwen2" : "gpt-2"; }

genc_status genc_export_vocab_gguf(genc_ctx *ctx, const genc_tokenizer *tok, int n_vocab, genc_gguf_writer *w) {
    genc_export_vocab v;
    genc_status s = genc_export_vocab_build(ctx, tok, n_vocab, &v);
    if (s) return s;
    s = genc_gguf_set_str(w, "tokenizer.ggml.model", "gpt2");
    if (!s) s = genc_gguf_set_str(w, "tokenizer.ggml.pre", genc_gguf_pretok_name(genc_tokenizer_pretokenizer(tok)));
    if (!s) s = genc_gguf_set_arr_str(w, "tokenizer.ggml.tokens", (const char *const *)v.tokens, NULL, (uint64_t)v.n);
    if (!s) s = genc_gguf_set_arr_i32(w, "tokenizer.ggml.token_type", v.types, (uint64_t)v.n);
    if (!s) s = genc_gguf_set_arr_str(w, "tokenizer.ggml.merges", (const char *const *)v.merges, NULL, (uint64_t)v.n_merges);
    if (!s) s = genc_gguf_set_u32(w, "tokenizer.ggml.bos_token_id", (uint32_t)genc_tokenizer_special(tok, "<|bos|>"));
    if (!s) s = genc_gguf_set_u32(w, "tokenizer.ggml.eos_token_id", (uint32_t)genc_tokenizer_special(tok, "<|eos|>"));
    if (!s) s = genc_gguf_set_u32(w, "tokenizer.ggml.padding_token_id", (uint32_t)genc_tokenizer_special(tok, "<|pad|>"));
    if (!s) s = genc_gguf_set_bool(w, "tokenizer.ggml.add_bos_token", false);
    if (!s) s = genc_gguf_set_bool(w, "tokenizer.ggml.add_eos_token", false);
    genc_export_vocab_free(&v);
    return s;
}
