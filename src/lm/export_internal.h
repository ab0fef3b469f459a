/* Internals shared by the exporters (export_vocab.c, export_gguf.c, export_hf.c): the
 * vocabulary as exchange-format strings. Not part of the public API. */
#ifndef GENC_EXPORT_INTERNAL_H
#define GENC_EXPORT_INTERNAL_H

#include "genc/lm_export.h"

/* llama.cpp's token types. */
enum { GENC_TOKTYPE_NORMAL = 1, GENC_TOKTYPE_CONTROL = 3, GENC_TOKTYPE_UNUSED = 5 };

typedef struct {
    int n, n_merges;
    char **tokens;  /* [n] byte-level text (specials literal, padding ids "<|genc_unused_N|>") */
    int32_t *types; /* [n] GENC_TOKTYPE_* */
    char **merges;  /* [n_merges] "left right" */
} genc_export_vocab;

/* The tokenizer's vocabulary padded to n_vocab ids (the model's vocab_size). */
genc_status genc_export_vocab_build(genc_ctx *ctx, const genc_tokenizer *tok, int n_vocab, genc_export_vocab *v);
void genc_export_vocab_free(genc_export_vocab *v);
/* The tokenizer.ggml.* keys of a byte-level "gpt2" vocabulary (model "gpt2"). */
genc_status genc_export_vocab_gguf(genc_ctx *ctx, const genc_tokenizer *tok, int n_vocab, genc_gguf_writer *w);
/* genc-v1 and qwen2 pre-tokenisation as the regexes of HF tokenizers "Split" pre-tokenizers. */
extern const char *const genc_hf_pretok_regex, *const genc_hf_qwen2_regex;
/* llama.cpp's name of the pre-tokenizer of mode p (tokenizer.ggml.pre). */
const char *genc_gguf_pretok_name(genc_pretokenizer p);
#endif
