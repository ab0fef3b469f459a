/* genc ops: every differentiable operation. Each returns a new step tensor (arena) and, in
 * grad mode, records its backward on the tape. A NULL input, or an error (bad shape, out of
 * memory), gives NULL with the reason on the context, so chains of ops are checked once.
 *
 * Shapes are written as comments: x [B, T, C] -> y [B, T, C]. "Broadcasting" follows
 * NumPy: shapes aligned at the right, a dim of 1 stretches. */
#ifndef GENC_OPS_H
#define GENC_OPS_H

#include "autograd.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- GEMM: the one place the BLAS backend is called ----
 * C[M,N] = alpha * op(A) op(B) + beta * C, row-major, op = transpose when ta/tb. */
void genc_gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, genc_real alpha, const genc_real *A,
               int64_t lda, const genc_real *B, int64_t ldb, genc_real beta, genc_real *C, int64_t ldc);

/* ---- matmul (matmul.c) ----
 * a [..., M, K] @ b [..., K, N] -> [..., M, N]. Leading (batch) dims broadcast; a 2-d b is
 * shared by every batch. Either operand may be a transposed view (genc_transpose of its
 * last two dims): that is passed to GEMM as a transpose flag, never copied. */
genc_tensor *genc_matmul(genc_ctx *ctx, genc_tensor *a, genc_tensor *b);
/* y = x W^T (+ bias): x [..., in], W [out, in] (PyTorch layout), bias [out] or NULL. */
genc_tensor *genc_linear(genc_ctx *ctx, genc_tensor *x, genc_tensor *w, genc_tensor *bias);

/* ---- elementwise (elementwise.c) ---- broadcasting binary ops */
genc_tensor *genc_add(genc_ctx *ctx, genc_tensor *a, genc_tensor *b);
genc_tensor *genc_sub(genc_ctx *ctx, genc_tensor *a, genc_tensor *b);
genc_tensor *genc_mul(genc_ctx *ctx, genc_tensor *a, genc_tensor *b);
genc_tensor *genc_div(genc_ctx *ctx, genc_tensor *a, genc_tensor *b);
genc_tensor *genc_scale(genc_ctx *ctx, genc_tensor *a, double s);       /* s * a */
genc_tensor *genc_add_scalar(genc_ctx *ctx, genc_tensor *a, double s);  /* a + s */
/* unary (activation.c) */
genc_tensor *genc_exp(genc_ctx *ctx, genc_tensor *a);
genc_tensor *genc_log(genc_ctx *ctx, genc_tensor *a);
genc_tensor *genc_tanh(genc_ctx *ctx, genc_tensor *a);
genc_tensor *genc_sigmoid(genc_ctx *ctx, genc_tensor *a);
genc_tensor *genc_relu(genc_ctx *ctx, genc_tensor *a);
genc_tensor *genc_silu(genc_ctx *ctx, genc_tensor *a);
genc_tensor *genc_gelu(genc_ctx *ctx, genc_tensor *a);     /* exact, erf form */
genc_tensor *genc_softplus(genc_ctx *ctx, genc_tensor *a); /* log(1 + e^a), stable */
genc_tensor *genc_square(genc_ctx *ctx, genc_tensor *a);
genc_tensor *genc_sqrt(genc_ctx *ctx, genc_tensor *a);

/* ---- reductions (reduce.c) ---- over one axis (negative counts from the end) */
genc_tensor *genc_sum(genc_ctx *ctx, genc_tensor *a, int axis, bool keepdim);
genc_tensor *genc_mean(genc_ctx *ctx, genc_tensor *a, int axis, bool keepdim);
genc_tensor *genc_sum_all(genc_ctx *ctx, genc_tensor *a);  /* -> [1] */
genc_tensor *genc_mean_all(genc_ctx *ctx, genc_tensor *a); /* -> [1] */

/* ---- softmax and losses (softmax.c) ---- over the last axis */
genc_tensor *genc_softmax(genc_ctx *ctx, genc_tensor *a);
genc_tensor *genc_log_softmax(genc_ctx *ctx, genc_tensor *a);
/* log sum_j e^x_j of one row of V values, max-subtracted (the one every loss uses). */
genc_real genc_row_logsumexp(const genc_real *x, int64_t V);
/* Fused, numerically stable mean cross-entropy: logits [N, V] (or [..., V]), targets: N
 * class indices (int32); targets equal to ignore_index do not count. -> [1]; the mean is
 * over counted rows (0 if none). */
genc_tensor *genc_cross_entropy(genc_ctx *ctx, genc_tensor *logits, const int32_t *targets,
                                int32_t ignore_index);

/* ---- normalisation (norm.c) ---- over the last axis, with weight [C] (bias [C] or NULL) */
genc_tensor *genc_rmsnorm(genc_ctx *ctx, genc_tensor *x, genc_tensor *w, double eps);
genc_tensor *genc_layernorm(genc_ctx *ctx, genc_tensor *x, genc_tensor *w, genc_tensor *bias, double eps);

/* ---- indexing (index.c) ---- */
/* table [V, C], ids: n int32 in [0, V) -> [n, C] (ids out of range: GENC_EINVAL). */
genc_tensor *genc_embedding(genc_ctx *ctx, genc_tensor *table, const int32_t *ids, int64_t n);
/* rows of x [N, C] at idx (m entries in [0, N)) -> [m, C]. */
genc_tensor *genc_gather_rows(genc_ctx *ctx, genc_tensor *x, const int32_t *idx, int64_t m);
/* out [n_rows, C] = zeros with out[idx[i]] += src[i] for src [m, C] (the MoE combine). */
genc_tensor *genc_scatter_add_rows(genc_ctx *ctx, genc_tensor *src, const int32_t *idx, int64_t n_rows);
/* Concatenate n tensors along `axis` (other dims equal), and its inverse. */
genc_tensor *genc_concat(genc_ctx *ctx, genc_tensor *const *ts, int n, int axis);
/* Split `a` along axis into n parts of the given sizes (summing to the dim), into out[]. */
genc_status genc_split(genc_ctx *ctx, genc_tensor *a, int axis, const int64_t *sizes, int n, genc_tensor **out);

/* ---- dropout (dropout.c) ---- inverted dropout with probability p; identity when p == 0
 * or grad mode is off. The mask draws come from the context's Philox stream. */
genc_tensor *genc_dropout(genc_ctx *ctx, genc_tensor *a, double p);

/* ---- convolution and pooling (conv.c) ---- NCHW layout
 * x [N, Cin, H, W], w [Cout, Cin, kh, kw], bias [Cout] or NULL -> [N, Cout, Ho, Wo] with
 * Ho = (H + 2 pad - kh) / stride + 1. */
genc_tensor *genc_conv2d(genc_ctx *ctx, genc_tensor *x, genc_tensor *w, genc_tensor *bias, int stride, int pad);
/* 2x2 windows, stride 2: x [N, C, H, W] -> [N, C, H/2, W/2] (H, W even). */
genc_tensor *genc_maxpool2x2(genc_ctx *ctx, genc_tensor *x);
genc_tensor *genc_avgpool2x2(genc_ctx *ctx, genc_tensor *x);

/* ---- language-model ops (rope.c, attention.c, swiglu.c) ---- */
/* Rotary embedding on interleaved pairs (x[2i], x[2i+1]) rotated by the angle
 * pos[t] * theta^(-2i/d) (DeepSeek-V3 / RoFormer): x [B, T, H, d] (d even), pos: T int32. */
genc_tensor *genc_rope(genc_ctx *ctx, genc_tensor *x, const int32_t *pos, double theta);
/* The same with the angle pos[t] * freq[i] (freq: d/2 values) and the rotated pair scaled by
 * mag: y = mag R(angle) x (YaRN, Peng et al. 2023: the "NTK-by-parts" frequencies and the
 * cos/sin scale DeepSeek-V3 applies). genc_rope is freq[i] = theta^(-2i/d), mag 1. */
genc_tensor *genc_rope_freqs(genc_ctx *ctx, genc_tensor *x, const int32_t *pos, const double *freq, double mag);
/* Fused scaled-dot-product attention: q [B, T, H, dk], k [B, S, H, dk], v [B, S, H, dv]
 * -> [B, T, H, dv]. With `causal`, query t sits at key position t + (S - T) and sees keys
 * s <= t + (S - T) (so keys prepended before the queries, a cache or a prefix, are always
 * visible). key_start (NULL or B int32): keys s < key_start[b] are masked for row b (left
 * padding). softmax(scale * q.k) v; the probabilities are saved for backward. */
genc_tensor *genc_attention(genc_ctx *ctx, genc_tensor *q, genc_tensor *k, genc_tensor *v, double scale, bool causal,
                            const int32_t *key_start);
/* silu(a) * b, fused (the SwiGLU MLP's gate): a, b same shape. */
genc_tensor *genc_swiglu(genc_ctx *ctx, genc_tensor *a, genc_tensor *b);
/* The SwiGLU MLP's gate and up projections and gate in one op (src/ops/swiglu_linear.c):
 * y = silu(x Wg^T) * (x Wu^T), x [..., D], Wg and Wu [I, D] -> y [..., I]. One GEMM against
 * [Wg ; Wu] forward, one for dx backward; the same function as genc_swiglu of two linears. */
genc_tensor *genc_swiglu_linear(genc_ctx *ctx, genc_tensor *x, genc_tensor *w_gate, genc_tensor *w_up);
/* out[n, j] = x[n, idx[n * K + j]] for x [N, E] -> [N, K] (take along the last axis; the
 * MoE gate's chosen scores). */
genc_tensor *genc_take_along(genc_ctx *ctx, genc_tensor *x, const int32_t *idx, int64_t K);
/* Repeat a size-1 dim `axis` n times (a broadcast made real; backward sums). */
genc_tensor *genc_expand(genc_ctx *ctx, genc_tensor *x, int axis, int64_t n);

/* ---- the GRPO policy objective (grpo.c) ----
 * Per response token n of a batch of rollouts (DeepSeekMath eq. 3; DAPO/Dr. GRPO variants):
 *   logp = log softmax(logits_n / tau)[a_n], r = exp(logp - old_logp),
 *   surr = min(r A, clip(r, 1 - eps_low, 1 + eps_high) A),
 *   kl = exp(ref - logp) - (ref - logp) - 1  (the k3 estimator, >= 0),
 *   loss = -sum_n w_n (surr - beta kl).
 * The weights w_n carry the aggregation (genc_grpo_weights) and are 0 off the response. */
typedef enum { GENC_GRPO_AGG_SEQ, GENC_GRPO_AGG_CONST, GENC_GRPO_AGG_TOKEN } genc_grpo_agg;
typedef struct genc_grpo_batch {
    const int32_t *actions;    /* [N] the sampled tokens */
    const genc_real *old_logp; /* [N] log-probs under the policy that sampled */
    const genc_real *ref_logp; /* [N] under the frozen reference (NULL when beta == 0) */
    const genc_real *adv;      /* [N] the advantage of the token's sequence */
    const genc_real *weight;   /* [N] aggregation weights, 0 where masked */
    double eps_low, eps_high, beta;
    double temperature;        /* tau, the sampling temperature (0 is taken as 1): the log-probs
                                  are those of the distribution the rollouts were drawn from */
} genc_grpo_batch;
typedef struct genc_grpo_stats {
    double kl, clip_frac, entropy, ratio; /* means over weighted (response) tokens */
} genc_grpo_stats;
/* logits [N, V] -> scalar loss [1]; stats (may be NULL) are filled in the forward. */
genc_tensor *genc_grpo_loss(genc_ctx *ctx, genc_tensor *logits, const genc_grpo_batch *b, genc_grpo_stats *stats);
/* Aggregation weights for rows sequences of T positions with mask [rows, T] (1 on response
 * tokens): SEQ ("grpo"): 1 / (rows |o_i|); CONST ("dr_grpo"): 1 / (rows max_len); TOKEN
 * ("dapo"): 1 / (response tokens in the batch). */
void genc_grpo_weights(genc_grpo_agg agg, const genc_real *mask, int64_t rows, int64_t T, int64_t max_len,
                       genc_real *weight);
/* The same for a part of a batch split over ranks: rows_all and tokens_all count the whole
 * batch's rows and response tokens, and every weight is multiplied by scale (the rank count,
 * since the ranks' gradients are averaged). genc_grpo_weights is this with the part's own
 * counts and scale 1. */
void genc_grpo_weights_of(genc_grpo_agg agg, const genc_real *mask, int64_t rows, int64_t T, int64_t max_len,
                          double rows_all, double tokens_all, double scale, genc_real *weight);
genc_status genc_grpo_agg_parse(genc_ctx *ctx, const char *name, genc_grpo_agg *out);

/* ---- U-Net ops (groupnorm.c, upsample.c) ---- NCHW layout */
/* Group normalisation (PyTorch GroupNorm): x [N, C, ...] normalised over each group of C /
 * groups consecutive channels and the spatial dims (biased variance), then y = xh w[c] + b[c];
 * w, b [C] or NULL (scale 1, shift 0). groups must divide C. */
genc_tensor *genc_group_norm(genc_ctx *ctx, genc_tensor *x, int groups, genc_tensor *w, genc_tensor *b, double eps);
/* silu(group_norm(x)), fused (one pass forward and backward). */
genc_tensor *genc_group_norm_silu(genc_ctx *ctx, genc_tensor *x, int groups, genc_tensor *w, genc_tensor *b,
                                  double eps);
/* Nearest-neighbour upsampling by 2: x [N, C, H, W] -> [N, C, 2H, 2W]. */
genc_tensor *genc_upsample_nearest2x(genc_ctx *ctx, genc_tensor *x);

/* ---- flow ops (src/ops/flow_ops.c) ----
 * x [N, C, H, W] (H, W even) -> [N, 4C, H/2, W/2], y[n, 4c + 2i + j, oy, ox] = x[n, c, 2oy + i, 2ox + j]
 * (openai/glow's squeeze2d channel order); unsqueeze is its inverse. */
genc_tensor *genc_squeeze2x2(genc_ctx *ctx, genc_tensor *x);
genc_tensor *genc_unsqueeze2x2(genc_ctx *ctx, genc_tensor *y);

#ifdef __cplusplus
}
#endif
#endif
