/* genc language-model inference: a latent KV cache with absorbed MLA decoding (DeepSeek-V3
 * report eqs. 1-11, "absorb" path), token samplers, batched generation with stop strings
 * and streaming, and self-speculative decoding with the MTP modules (section 2.2).
 *
 * The cache keeps, per block, row and slot, only the normalised latent c_kv (kv_lora_rank
 * numbers) and the roped decoupled key k_pe (qk_rope_head_dim numbers). A new token's
 * query is folded into latent space (q_nope' = q_nope W_kvb_k, per head), scored against
 * the cached latents, and the attention-weighted latent is expanded by W_kvb_v and W_o.
 * Logits equal the training forward's (genc_lm_logits) up to float rounding.
 *
 * Slots and left padding: every row of a batch advances by the same number of slots per
 * call. Row b's real tokens start at slot start[b] (genc_lm_cache_reset): its positions are
 * slot - start[b], and slots before start[b] are never attended, so prompts of different
 * lengths are left-padded into one batch (what GRPO rollouts need).
 *
 * Scratch memory: every decode call runs on the cache's own private context (its own step
 * arena, gradients off) and resets it before returning, so it never touches the caller's
 * arena, autograd tape or random stream. Errors are copied to the caller's context.
 * Side effect: the MoE blocks' load counters (genc_lm_maxvio) then describe the last
 * decode call, not the last training forward. */
#ifndef GENC_LM_INFER_H
#define GENC_LM_INFER_H

#include "lm.h"
#include "tokenizer.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- latent KV cache and absorbed decoding (decode.c) ---- */
typedef struct genc_lm_cache {
    int n_layers;          /* main blocks: 0 .. n_layers-1; MTP module k: n_layers + k - 1 */
    int n_blocks;          /* n_layers, plus mtp_depth when made with MTP blocks */
    int64_t batch, max_len, rank, rope;
    genc_real *ckv;        /* [n_blocks, batch, max_len, rank] normalised latents */
    genc_real *kpe;        /* [n_blocks, batch, max_len, rope] roped decoupled keys */
    int64_t *len;          /* [n_blocks] filled slots of each block */
    int32_t *start;        /* [batch] first real slot of each row */
    genc_ctx *work;        /* private scratch context */
    int32_t *npre;         /* [batch] prefix slots just before start[b], seen by every real query of
                            * row b (prefix.h; 0 after genc_lm_cache_reset). Slots before start[b]
                            * are never overwritten by decoding, so a prefix written there stays. */
} genc_lm_cache;

/* A cache for `batch` rows of up to max_len slots (<= max_position_embeddings). with_mtp
 * adds the MTP modules' blocks (for genc_lm_mtp_decode / speculative decoding). */
genc_status genc_lm_cache_new(genc_ctx *ctx, const genc_lm *m, int64_t batch, int64_t max_len, bool with_mtp,
                              genc_lm_cache **out);
void genc_lm_cache_free(genc_lm_cache *c); /* NULL is fine */
/* Empty every block; start (NULL: all 0) gives each row's first real slot. */
genc_status genc_lm_cache_reset(genc_ctx *ctx, genc_lm_cache *c, const int32_t *start);
/* Filled slots of the main model's blocks. */
int64_t genc_lm_cache_len(const genc_lm_cache *c);
/* Roll back: keep the first n slots of the main blocks (MTP blocks: of block n_layers+k-1,
 * with mtp_k = k >= 1; 0 for the main blocks). n larger than the length is a no-op. */
void genc_lm_cache_truncate(genc_lm_cache *c, int mtp_k, int64_t n);
/* Bytes cached per token by this model (all main layers, float): latent cache
 * n_layers * (kv_lora_rank + qk_rope) * sizeof(genc_real), and that of an equivalent
 * multi-head K/V cache, n_layers * H * ((nope + rope) + v) * sizeof(genc_real). */
int64_t genc_lm_cache_bytes_per_token(const genc_lm *m);
int64_t genc_lm_mha_cache_bytes_per_token(const genc_lm *m);

/* Feed n new tokens per row (tokens [batch, n]) at the next n slots of the main blocks,
 * causal within the chunk (n > 1 is a prefill or a speculative verification). logits
 * (NULL: none): [batch, V] of the last new slot, or with all_logits [batch, n, V]. hidden
 * (NULL: none): [batch, n, dim] final hidden states before the final norm (MTP input). */
genc_status genc_lm_decode(genc_ctx *ctx, genc_lm *m, genc_lm_cache *c, const int32_t *tokens, int64_t n,
                           genc_real *logits, bool all_logits, genc_real *hidden);
/* MTP module k (1-based) on n slots per row, at its block's next n slots:
 * h' = eh_proj [enorm(Emb(t)) ; hnorm(h_prev)], its block, then logits = lm_head(norm(h)).
 * h_prev, tokens: [batch, n, dim] / [batch, n]; logits as for genc_lm_decode ([batch, V]
 * of the last slot, or [batch, n, V] with all_logits) and h_out [batch, n, dim] (h before
 * the final norm: the next module's input), either may be NULL. */
genc_status genc_lm_mtp_decode(genc_ctx *ctx, genc_lm *m, genc_lm_cache *c, int k, const genc_real *h_prev,
                               const int32_t *tokens, int64_t n, genc_real *logits, bool all_logits,
                               genc_real *h_out);

/* ---- samplers (sampler.c) ----
 * temperature 0: greedy argmax (ties to the lowest id). Otherwise softmax(logits / T),
 * keep the top_k most likely (0: all), then the smallest most-likely set with mass >= top_p
 * (1: all; at least one token), renormalise and draw one uniform from the context's Philox
 * stream (same seed, same draws). Ties in ranking go to the lowest id. */
typedef struct genc_sampler {
    double temperature;
    int64_t top_k;
    double top_p;
} genc_sampler;

/* "temperature": >= 0; top_k >= 0; top_p in (0, 1]. */
genc_status genc_sampler_check(genc_ctx *ctx, const genc_sampler *s);
/* The distribution the sampler draws from, probs [V] (one-hot at temperature 0). */
genc_status genc_sampler_probs(genc_ctx *ctx, const genc_sampler *s, const genc_real *logits, int64_t V,
                               genc_real *probs);
/* Draw one id (-1 with the error set when out of memory). logprob (NULL: none) gets log softmax(logits / T)[id] of the full
 * distribution (T = temperature, or 1 at temperature 0), before top-k/top-p: the policy
 * log-probability GRPO compares with a training forward at the same temperature. */
int32_t genc_sample(genc_ctx *ctx, const genc_sampler *s, const genc_real *logits, int64_t V, double *logprob);
/* log softmax(logits / T)[id] as above. */
double genc_sample_logprob(const genc_sampler *s, const genc_real *logits, int64_t V, int32_t id);
/* Index drawn from probs[0..n) (non-negative, summing to ~1) with one uniform of the
 * context's stream; the last positive entry if rounding leaves a sliver. */
int32_t genc_sample_from(genc_ctx *ctx, const genc_real *probs, int64_t n);

/* ---- generation (generate.c, speculative.c) ---- */
/* Streaming callback: row, the new token, and the text it releases (bytes that can no
 * longer be part of a stop string; may be empty; NULL without a tokenizer). Return
 * non-zero to stop the whole generation (e.g. on SIGINT). */
typedef int (*genc_lm_stream_fn)(void *user, int64_t row, int32_t id, const uint8_t *text, size_t n);

typedef struct genc_gen_config {
    int64_t max_new;             /* tokens generated per row at most */
    genc_sampler sampler;
    int32_t eos_id;              /* stop after this token (kept in the output); -1: none */
    int32_t pad_id;              /* fills left padding (never attended) */
    const genc_tokenizer *tok;   /* decodes text for stop strings and the callback; may be NULL */
    const char *const *stops;    /* stop strings (need tok); the text ends before the first match */
    int n_stops;
    genc_lm_stream_fn on_token;  /* may be NULL */
    void *user;
    bool speculative;            /* self-speculative decoding with the MTP modules (batch 1) */
    /* Optional (plain decoding): row b's k-th sampled token takes draw stream_base + b max_new + k
     * of the context's Philox stream, so a row's tokens do not depend on which rows share its
     * batch (data-parallel GRPO splits a batch over ranks this way). The context's stream
     * position is left wherever the last draw put it: the caller reserves the block and moves
     * past it. false: one shared stream, drawn row after row. */
    bool row_streams;
    uint64_t stream_base;
} genc_gen_config;

typedef enum { GENC_GEN_LENGTH, GENC_GEN_EOS, GENC_GEN_STOP, GENC_GEN_ABORT } genc_gen_finish;

/* Per row: the generated ids (including the eos or stop-completing token), their
 * log-probabilities (genc_sample's), and the text (stop string and eos excluded). */
typedef struct genc_gen_result {
    int64_t batch, max_new;
    int32_t *tokens;        /* [batch, max_new] */
    double *logprobs;       /* [batch, max_new] */
    int64_t *len;           /* [batch] tokens generated */
    genc_gen_finish *finish;
    uint8_t **text;         /* [batch] NUL-terminated (NULL without a tokenizer) */
    size_t *text_len;
    /* statistics */
    double seconds, prefill_seconds;
    int64_t forwards;       /* main-model forward calls after the prefill */
    int64_t drafted, accepted; /* speculative: draft tokens proposed / accepted */
} genc_gen_result;

/* Generate for `batch` prompts (prompts[b], prompt_len[b] >= 1 ids), left-padded into one
 * batch; each row stops on its own (eos, stop string, max_new). Prompt + max_new must fit
 * in max_position_embeddings. Temperature > 0 draws from the context's random stream. */
genc_status genc_lm_generate(genc_ctx *ctx, genc_lm *m, const int32_t *const *prompts, const int64_t *prompt_len,
                             int64_t batch, const genc_gen_config *cfg, genc_gen_result *out);
void genc_gen_result_free(genc_gen_result *r);

/* ---- self-speculative decoding (speculative.c) ----
 * One row. Each round the D = mtp_depth MTP modules draft D tokens (module k's logits
 * give token n + k), one main forward over [pending, drafts] verifies them, and the
 * longest prefix passing standard speculative-sampling acceptance (accept d with
 * probability min(1, p(d) / q(d)), on rejection draw from max(0, p - q) normalised) is
 * kept, plus one token from the main model: at temperature 0 (one-hot p and q) that is
 * exactly the longest prefix agreeing with greedy decoding, so the output tokens equal
 * plain greedy decoding's. Rejected slots are rolled back in every cache. */
typedef struct genc_spec_state genc_spec_state;
/* Internal step driver used by genc_lm_generate: prefill `prompt` and return the first
 * token (*first, *first_lp), then genc_spec_next gives up to D + 1 tokens per call. */
genc_status genc_spec_begin(genc_ctx *ctx, genc_lm *m, const int32_t *prompt, int64_t n, int64_t max_len,
                            const genc_sampler *s, genc_spec_state **out, int32_t *first, double *first_lp);
genc_status genc_spec_next(genc_ctx *ctx, genc_spec_state *st, int32_t *ids, double *lps, int64_t *n_out);
void genc_spec_stats(const genc_spec_state *st, int64_t *drafted, int64_t *accepted, int64_t *forwards);
void genc_spec_free(genc_spec_state *st);

#ifdef __cplusplus
}
#endif
#endif
