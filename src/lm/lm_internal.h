/* Internal pieces of the language-model family shared between its files. */
#ifndef GENC_LM_INTERNAL_H
#define GENC_LM_INTERNAL_H
#include "genc/genc.h"
#include "genc/lm.h"
#include "genc/ops.h"

#include <math.h>

/* x [B, T, dim] -> attention output [B, T, dim] (mla.c). pos: T positions. */
/* RoPE frequencies (qk_rope_dim / 2 of them) and the cos/sin magnitude of a config, and the
 * attention softmax scale: plain RoPE, or YaRN when rope_scaling is set (yarn.c). */
void genc_lm_rope_freqs(const genc_lm_config *c, double *freq, double *mag);
double genc_lm_attn_scale(const genc_lm_config *c);
genc_tensor *genc_lm_mla(genc_ctx *ctx, const genc_lm *m, const genc_lm_block *k, genc_tensor *x, const int32_t *pos);
/* The same with a prefix (prefix.h): pre_ckv [B|1, L, kv_lora_rank], pre_kpe [B|1, L, rope]
 * prepended to the keys and values (both NULL: genc_lm_mla). */
genc_tensor *genc_lm_mla_prefix(genc_ctx *ctx, const genc_lm *m, const genc_lm_block *k, genc_tensor *x,
                                const int32_t *pos, genc_tensor *pre_ckv, genc_tensor *pre_kpe);
/* u [N, dim] -> FFN output [N, dim]: dense SwiGLU or MoE (moe.c). For MoE, *bal_loss (if
 * not NULL) gets the balance loss of this layer for sequences of length T (or NULL). */
genc_tensor *genc_lm_ffn(genc_ctx *ctx, genc_lm *m, genc_lm_block *k, genc_tensor *u, int64_t B, int64_t T,
                         genc_tensor **bal_loss);
/* Zeroed generation result for B rows of up to max_new tokens (generate.c); with `text`,
 * every row's text starts as an empty string. */
struct genc_gen_result;
genc_status genc_gen_result_alloc(genc_ctx *ctx, struct genc_gen_result *r, int64_t B, int64_t max_new, bool text);
/* SwiGLU MLP: down(silu(gate u) * up u), its GEMMs in precision q (NULL: FP32). */
genc_tensor *genc_lm_swiglu_mlp(genc_ctx *ctx, const genc_qmode *q, genc_tensor *u, genc_tensor *gate, genc_tensor *up,
                                genc_tensor *down);
/* A linear layer of the model (no bias) in the model's training precision (precision.c). */
static inline genc_tensor *genc_lm_linear(genc_ctx *ctx, const genc_lm *m, genc_tensor *x, genc_tensor *w) {
    return genc_linear_q(ctx, x, w, &m->qmode);
}
/* Data parallelism (train_dist.c), no-ops with one rank: refuse a run whose batch does not split
 * over the ranks, a batch-wise balance loss, or ranks started differently; and after a step,
 * replace mean[0..n_mean) by its mean over ranks and every block's expert loads by their sums. */
genc_status genc_lm_dist_start(genc_ctx *ctx, const genc_lm *m, const genc_lm_corpus *corpus,
                               const genc_lm_train_config *c, const char *cfg_json);
genc_status genc_lm_dist_step(genc_ctx *ctx, genc_lm *m, genc_dist *d, int64_t step, double *mean, int n_mean);
/* Expert parallelism (ep.c): the routed experts of this rank's share on xs [N K, dim] (rows
 * sorted by expert, offset[E + 1] their groups), dispatched to and combined from the experts'
 * ranks with all-to-all; returns the expert outputs in xs's row order. */
genc_tensor *genc_lm_ep_experts(genc_ctx *ctx, const genc_lm_config *c, const genc_qmode *q, genc_lm_block *k,
                                genc_dist *d, genc_tensor *xs, const int64_t *offset);
#endif
