/* genc prefix-tuning (Li & Liang 2021) for the DeepSeek-V3 (MLA) language models.
 *
 * What a prefix is: per main layer, L latent vectors c_kv (kv_lora_rank numbers, already
 * normalised: they enter after kv_a_layernorm) and L decoupled keys k_pe (qk_rope_head_dim
 * numbers, free parameters, never roped) -- exactly what the latent decode cache holds. So
 * a prefix is a pre-filled latent cache: it costs nothing extra at inference and stores
 * n_layers x L x (kv_lora_rank + qk_rope_dim) numbers. Every real token attends to every
 * prefix slot; positions of real tokens start at 0 with or without a prefix.
 *
 * Training path: per layer the prefix's c_kv goes through kv_b_proj (per-head k_nope and v of
 * the prefix positions) and its k_pe is prepended to the roped keys (S = L + T keys); the
 * queries are unchanged. The base model stays frozen. Reparameterisation (optional):
 * P = MLP(P'), P' [L, dim], MLP = Linear(dim -> k) -> tanh -> Linear(k -> n_layers *
 * (kv_lora_rank + qk_rope_dim)); after training the MLP runs once and only P is saved.
 *
 * File (safetensors): tensor "prefix" F32 [n_layers, L, kv_lora_rank + qk_rope_dim] (c_kv
 * first, then k_pe), metadata "format" = "genc-prefix-1", "base_hash" (16 hex digits:
 * FNV-1a 64 over the base model's parameter bytes, F32 little-endian, in checkpoint order)
 * and "base_config" (the base model's config JSON). Loading onto another base fails naming
 * both hashes. */
#ifndef GENC_PREFIX_H
#define GENC_PREFIX_H

#include "lm_infer.h"
#include "tokenizer.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct genc_lm_prefix {
    int n_layers;
    int64_t len, rank, rope;   /* L, kv_lora_rank, qk_rope_dim */
    genc_real *data;           /* [n_layers, len, rank + rope] */
    uint64_t base_hash;
} genc_lm_prefix;

/* FNV-1a 64 over the parameters' bytes (float32, in checkpoint order). */
uint64_t genc_lm_param_hash(const genc_lm *m);
/* A zero prefix of len slots for model m (its hash recorded). */
genc_status genc_lm_prefix_new(genc_ctx *ctx, const genc_lm *m, int64_t len, genc_lm_prefix *out);
void genc_lm_prefix_free(genc_lm_prefix *p); /* safe on a zeroed struct */
genc_status genc_lm_prefix_save(genc_ctx *ctx, const genc_lm *m, const genc_lm_prefix *p, const char *path);
/* Load a prefix file made for m: shape and base hash must match (errors name both). */
genc_status genc_lm_prefix_load(genc_ctx *ctx, const char *path, const genc_lm *m, genc_lm_prefix *out);
/* The latents (c_kv, roped k_pe) of the last p->len of n tokens run through the base model:
 * a prefix that starts from real words (n >= p->len). */
genc_status genc_lm_prefix_from_tokens(genc_ctx *ctx, genc_lm *m, const int32_t *ids, int64_t n, genc_lm_prefix *p);

/* ---- training forward ----
 * Per-layer prefix tensors: ckv[l] [1 or B, L, rank], kpe[l] [1 or B, L, rope] (graph
 * tensors, possibly requiring grad). Logits [B, T, V] of the main model with the prefix. */
genc_tensor *genc_lm_prefix_logits(genc_ctx *ctx, genc_lm *m, genc_tensor *const *ckv, genc_tensor *const *kpe,
                                   const int32_t *tokens, int64_t B, int64_t T);
/* Wrap a stored prefix as per-layer step tensors [1, L, .] (no gradient). */
genc_status genc_lm_prefix_views(genc_ctx *ctx, const genc_lm_prefix *p, genc_tensor **ckv, genc_tensor **kpe);

/* Input/output examples (JSON lines {"input": string, "output": string}, blank lines skipped):
 * ids = the input's tokens, the output's, then <|eos|> (n in all, the first n_in the input's;
 * special-token strings in the text match as special tokens); the loss of a training step is
 * on the output and <|eos|>. At most `limit` examples (0: all); none, a line that is not such
 * an object, or an empty input is GENC_EFORMAT naming FILE:LINE. */
typedef struct genc_lm_example {
    int32_t *ids;
    int64_t n, n_in;
    char *output; /* the expected output text */
} genc_lm_example;
typedef struct genc_lm_examples {
    genc_lm_example *ex;
    int64_t n;
} genc_lm_examples;
genc_status genc_lm_examples_load(genc_ctx *ctx, genc_tokenizer *tok, const char *path, int64_t limit,
                                  genc_lm_examples *out);
void genc_lm_examples_free(genc_lm_examples *e); /* safe on a zeroed struct */

/* Trainable prefix: hidden == 0 holds P directly ("prefix.direct" [n_layers, L, r + rope]);
 * hidden > 0 the reparameterisation ("prefix.embed" [L, dim], "prefix.mlp.0.weight"
 * [hidden, dim], "prefix.mlp.0.bias", "prefix.mlp.2.weight" [n_layers (r + rope), hidden],
 * "prefix.mlp.2.bias"). */
typedef struct genc_lm_prefix_train {
    int64_t len, hidden;
    genc_params params;
    genc_tensor *direct, *embed, *w1, *b1, *w2, *b2;
} genc_lm_prefix_train;
/* N(0, std) weights (zero biases). init (may be NULL) sets the starting P: copied with
 * hidden == 0; with the MLP (hidden >= len) W2 is solved so that MLP(P') == init (b2 = 0). */
genc_status genc_lm_prefix_train_init(genc_ctx *ctx, const genc_lm *m, int64_t len, int64_t hidden, double std,
                                      const genc_lm_prefix *init, genc_lm_prefix_train *t);
void genc_lm_prefix_train_free(genc_lm_prefix_train *t);
/* The per-layer tensors of the current parameters (a graph through the MLP). */
genc_status genc_lm_prefix_train_latents(genc_ctx *ctx, const genc_lm *m, const genc_lm_prefix_train *t,
                                         genc_tensor **ckv, genc_tensor **kpe);
/* Run the MLP once (gradients off) into a prefix for m (allocated here). */
genc_status genc_lm_prefix_train_export(genc_ctx *ctx, const genc_lm *m, const genc_lm_prefix_train *t,
                                        genc_lm_prefix *out);

/* ---- generation with prefixes ----
 * genc_lm_generate with one prefix per row (prefixes NULL, or an entry NULL: no prefix for
 * that row): stop strings, streaming and eos as there, not speculative decoding. Row b's
 * cache: [padding][its prefix][its prompt], the prompt's positions start at 0. Prefix +
 * prompt + max_new must fit in max_position_embeddings. */
genc_status genc_lm_prefix_generate(genc_ctx *ctx, genc_lm *m, const genc_lm_prefix *const *prefixes,
                                    const int32_t *const *prompts, const int64_t *prompt_len, int64_t batch,
                                    const genc_gen_config *cfg, genc_gen_result *out);
/* Write row b's prefix into cache slots [start[b] - L, start[b]) of every main block and set
 * c->npre[b] = L (after genc_lm_cache_reset; needs start[b] >= L). */
genc_status genc_lm_cache_set_prefix(genc_ctx *ctx, genc_lm_cache *c, int64_t b, const genc_lm_prefix *p);

/* ---- prefix-tuning through the one training loop (prefix_tune.c) ---- */
typedef struct genc_lm_prefix_tune_config {
    int64_t len, reparam;    /* prefix length L; hidden size k of the reparameterisation MLP (0: P directly) */
    const char *init_words;  /* NULL: a random initial P (init_std) */
    double init_std;
    bool full;               /* fine-tune every parameter instead (the baseline) */
    int64_t steps, batch;    /* optimiser steps of `batch` examples drawn from Philox(seed, step) */
    uint64_t seed;
    double lr, min_lr;       /* AdamW without weight decay; the schedule's peak and floor */
    int64_t warmup;
    genc_lr_kind schedule;
    double clip;             /* global gradient-norm clip, 0: off */
    volatile int *stop;      /* set non-zero to stop after a step (the prefix so far is kept) */
    /* Optional: after every step, with its loss and the running average (0.95 decay). */
    void (*on_step)(void *user, int64_t step, int64_t steps, double loss, double avg);
    void *user;
} genc_lm_prefix_tune_config;
/* L 10, k 512, random P of std 1, 300 steps of 8 examples, lr 5e-3 constant, clip 1, seed 1. */
genc_lm_prefix_tune_config genc_lm_prefix_tune_defaults(void);

/* Prefix-tune the frozen m on examples e (loss on the output tokens only), or with c->full
 * fine-tune all of m. *pre gets the trained prefix (untouched with full); *n_trained the
 * trained parameter count. Nothing stays allocated on failure. */
genc_status genc_lm_prefix_tune(genc_ctx *ctx, genc_lm *m, struct genc_tokenizer *tok, const genc_lm_examples *e,
                                const genc_lm_prefix_tune_config *c, genc_lm_prefix *pre, int64_t *n_trained);

#ifdef __cplusplus
}
#endif
#endif
