/* genc language models: the DeepSeek-V3 architecture (MLA attention with decoupled RoPE,
 * DeepSeekMoE with auxiliary-loss-free balancing, multi-token prediction), its config with
 * Hugging Face field names, and the byte-level BPE tokenizer (tokenizer.h). Facts follow
 * shared/reference/deepseek-v3.md; equation numbers are the V3 report's. */
#ifndef GENC_LM_H
#define GENC_LM_H

#include "autograd.h"
#include "fp8.h"
#include "safetensors.h"
#include "train.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { GENC_SCORE_SIGMOID, GENC_SCORE_SOFTMAX } genc_score_func;
typedef enum { GENC_BAL_AUX_FREE, GENC_BAL_AUX_LOSS, GENC_BAL_NONE } genc_balance_mode;

/* Every field has a CLI flag (genc lm train --help) and a Hugging Face name in the JSON. */
typedef struct genc_lm_config {
    int vocab_size;          /* vocab_size */
    int dim;                 /* hidden_size */
    int n_layers;            /* num_hidden_layers */
    int n_heads;             /* num_attention_heads */
    int max_seq;             /* max_position_embeddings */
    int q_lora_rank;         /* q_lora_rank (0: plain q_proj) */
    int kv_lora_rank;        /* kv_lora_rank */
    int qk_nope_dim;         /* qk_nope_head_dim */
    int qk_rope_dim;         /* qk_rope_head_dim */
    int v_dim;               /* v_head_dim */
    double rope_theta;       /* rope_theta */
    /* rope_scaling {"type": "yarn", ...}: YaRN (Peng et al. 2023) as DeepSeek-V3 uses it
     * (src/lm/yarn.c); yarn_factor 0: no scaling (rope_scaling null) */
    double yarn_factor;      /* factor (s = L'/L) */
    int yarn_orig_max_pos;   /* original_max_position_embeddings (L) */
    double yarn_beta_fast;   /* beta_fast (turns above which a frequency is kept; default 32) */
    double yarn_beta_slow;   /* beta_slow (turns below which it is divided by factor; default 1) */
    double yarn_mscale;      /* mscale (default 1) */
    double yarn_mscale_all_dim; /* mscale_all_dim (default 0) */
    double norm_eps;         /* rms_norm_eps */
    int n_dense_layers;      /* first_k_dense_replace */
    int dense_inter;         /* intermediate_size */
    /* MoE */
    int n_routed;            /* n_routed_experts (0: every layer dense) */
    int n_shared;            /* n_shared_experts */
    int n_active;            /* num_experts_per_tok */
    int moe_inter;           /* moe_intermediate_size */
    int n_groups;            /* n_group */
    int topk_groups;         /* topk_group */
    double route_scale;      /* routed_scaling_factor */
    genc_score_func score;   /* scoring_func: "sigmoid" | "softmax" */
    bool norm_topk;          /* norm_topk_prob */
    genc_balance_mode balance; /* genc_balance: "aux_free" | "aux_loss" | "none" */
    double bias_gamma;       /* genc_bias_update_speed: aux-loss-free bias step */
    double aux_alpha;        /* aux_loss_alpha: balance-loss weight (seq_aux: per sequence) */
    bool seq_aux;            /* seq_aux */
    /* MTP */
    int mtp_depth;           /* num_nextn_predict_layers (D) */
    double mtp_lambda;       /* genc_mtp_lambda */
} genc_lm_config;

/* Named presets: "tiny" (trains in a minute), "small", "base", "large" (hours). */
genc_status genc_lm_preset(genc_ctx *ctx, const char *name, genc_lm_config *c);
/* Checks every field and their relations (heads, ranks, groups, experts); names the field. */
genc_status genc_lm_config_check(genc_ctx *ctx, const genc_lm_config *c);
char *genc_lm_config_json(const genc_lm_config *c); /* HF field names; caller frees */
genc_status genc_lm_config_parse(genc_ctx *ctx, const char *json, const char *label, genc_lm_config *c);

/* One transformer block's tensors (NULL where the config does not use them). Blocks
 * n_layers .. n_layers + mtp_depth - 1 are the MTP modules' blocks. */
typedef struct genc_lm_block {
    genc_tensor *attn_norm, *q_a, *q_a_norm, *q_b, *q_proj, *kv_a, *kv_a_norm, *kv_b, *o_proj, *ffn_norm;
    genc_tensor *w_gate, *w_up, *w_down;      /* dense SwiGLU FFN */
    genc_tensor *router, *router_bias;        /* MoE gate [n_routed, dim]; balancing bias (no gradient) */
    genc_tensor **e_gate, **e_up, **e_down;   /* routed experts */
    genc_tensor *s_gate, *s_up, *s_down;      /* shared experts, fused into one MLP */
    genc_tensor *enorm, *hnorm, *eh_proj;     /* MTP module only */
    int64_t *load;                            /* tokens routed to each expert in the last forward */
    int64_t load_tokens;                      /* tokens routed in the last forward */
} genc_lm_block;

typedef struct genc_lm {
    genc_lm_config cfg;
    genc_params params; /* every tensor, trainable or not, in checkpoint order */
    genc_tensor *embed, *final_norm, *lm_head;
    genc_lm_block *blocks; /* n_layers + mtp_depth */
    genc_qmode qmode;      /* precision of the linear layers' GEMMs (zero: FP32); see genc_lm_set_precision */
    genc_dist *ep;         /* expert parallelism over these ranks (NULL: off); genc_lm_train sets it for
                              the run with c->ep */
    struct genc_w8 *w8;    /* weights held in FP8 (genc_lm_hold_fp8), n_w8 of them; NULL: none */
    int n_w8;
} genc_lm;

/* Build a model with weights from N(0, init_std) (norm weights 1, biases 0), drawing from the
 * context's random stream. Tensor names are Hugging Face's DeepSeek-V3 names. */
genc_status genc_lm_init(genc_ctx *ctx, genc_lm *m, const genc_lm_config *cfg, double init_std);
void genc_lm_free(genc_lm *m);
/* For inference: hold the blocks' linear weights (those genc lm quantize stores in FP8,
 * except kv_b_proj, which cached decoding reads as floats) as E4M3 codes with one scale per
 * 128x128 block instead of floats; their F32 data and gradient buffers are freed, and
 * genc_linear decodes them inside the GEMM. The values are those of an FP8 weight file of
 * the same weights. No training afterwards (a backward through them is an error). *f32 and
 * *fp8 (may be NULL) get the bytes of those weights before and after. */
genc_status genc_lm_hold_fp8(genc_ctx *ctx, genc_lm *m, int64_t *f32, int64_t *fp8);

/* Losses of one training forward on tokens [B, T + 1] (inputs t_0..t_{T-1}, targets
 * t_1..t_T). total = main + lambda / D * sum_k mtp[k] + balance. Tensors live in the step
 * arena; logits [B, T, V] and mtp_logits[k] [B, T - 1 - k, V] are kept for inspection. */
typedef struct genc_lm_losses {
    genc_tensor *total, *main, *balance;
    genc_tensor *mtp[8];
    genc_tensor *logits;
    genc_tensor *mtp_logits[8];
} genc_lm_losses;
genc_status genc_lm_forward_train(genc_ctx *ctx, genc_lm *m, const int32_t *tokens, int64_t B, int64_t T,
                                  genc_lm_losses *out);
/* Logits [B, T, V] of the main model only (no MTP), for evaluation. */
genc_tensor *genc_lm_logits(genc_ctx *ctx, genc_lm *m, const int32_t *tokens, int64_t B, int64_t T);

/* Training precision (V3 report section 3.3): "fp32", "bf16" or "fp8" for the GEMMs of the
 * linear layers (attention and MLA projections, dense, shared and routed expert FFNs, the MTP
 * projection); the embedding, output head, MoE gate, norms and attention stay FP32. promote
 * (FP8 only): "128" (or any N_C > 0) or "none". Sets m->qmode; one-line error otherwise. */
genc_status genc_lm_set_precision(genc_ctx *ctx, genc_lm *m, const char *precision, const char *promote);

/* FP8 weights (fp8_export.c): whether a parameter is stored as F8_E4M3 + 128x128 block
 * scales (every block linear weight; not the embedding, head or MoE gate), and writing the
 * model so (fp8_weights.h layout, config and `extra` side-cars such as the tokenizer). Any
 * checkpoint reader loads the file, dequantising. *n_fp8: how many tensors went to FP8. */
bool genc_lm_param_is_fp8(const genc_tensor *t);
genc_status genc_lm_save_fp8(genc_ctx *ctx, const genc_lm *m, const char *path,
                             genc_status (*extra)(genc_ctx *, void *, genc_st_writer *), void *extra_user, int64_t *n_fp8);

/* Auxiliary-loss-free balancing (V3 section 2.1.2): after a step, b_i += gamma *
 * sign(mean load - load_i) for every MoE layer, from the loads of the last forward. */
void genc_lm_update_bias(genc_lm *m);
/* MaxVio = (max_i load_i - mean load) / mean load of one block's last forward (0 if dense). */
double genc_lm_maxvio(const genc_lm *m, int block);

/* ---- data (data.c) ---- */
struct genc_tokenizer;
/* A token stream: the first n_train tokens train, the rest validate. */
typedef struct genc_lm_corpus {
    int32_t *tokens;
    int64_t n, n_train;
} genc_lm_corpus;
/* Tokenise text files and split off the last val_frac for validation. Each file is followed
 * by <|eos|>; with doc_sep (NULL or "": off) a file is cut at every occurrence of doc_sep
 * into documents (the separator dropped, empty documents skipped), each followed by <|eos|>,
 * as GPT-2's training text has <|endoftext|> between documents. */
genc_status genc_lm_corpus_from_files(genc_ctx *ctx, struct genc_tokenizer *tok, const char *const *files, int n_files,
                                      double val_frac, const char *doc_sep, genc_lm_corpus *out);
void genc_lm_corpus_free(genc_lm_corpus *c);
/* B training windows of T + 1 tokens at offsets drawn from Philox(seed, step): the batch of
 * a step depends only on (seed, step), so a resumed run sees the same data. */
void genc_lm_windows(const genc_lm_corpus *c, uint64_t seed, int64_t step, int64_t B, int64_t T, int32_t *out);
/* Rows first .. first + count - 1 of that batch of B (a data-parallel rank's shard): the same
 * windows whatever the number of ranks. */
void genc_lm_windows_rows(const genc_lm_corpus *c, uint64_t seed, int64_t step, int64_t B, int64_t first, int64_t count,
                          int64_t T, int32_t *out);
/* Mean next-token loss of the main head over tokens[0..n) in consecutive windows of T + 1
 * tokens (stride T), B windows per forward. *count gets the number of predicted tokens. */
genc_status genc_lm_eval_loss(genc_ctx *ctx, genc_lm *m, const int32_t *tokens, int64_t n, int64_t T, int64_t B,
                              double *loss, int64_t *count);

/* ---- opening a checkpoint (load.c) ---- */
/* The one loader of a language-model checkpoint: the config (the model is bounded by the
 * parameter values the file holds before it is built), the parameters, and the tokenizer that
 * travels inside it. The vocabulary rule: a tokenizer in the file must fit the model's
 * vocabulary. need_tokenizer: a file without one is an error; otherwise *tok is NULL then.
 * On failure nothing stays allocated. */
genc_status genc_lm_load(genc_ctx *ctx, const char *path, bool need_tokenizer, genc_lm *m,
                         struct genc_tokenizer **tok);
/* A checkpoint of m without optimiser state, with tok (may be NULL) inside and the training
 * state st (NULL: none, an inference-only file). */
genc_status genc_lm_save(genc_ctx *ctx, const char *path, const genc_lm *m, const struct genc_tokenizer *tok,
                         const genc_train_state *st);
/* Write `path` with "tokens" I32 [T] and the main head's "logits" F32 [T, vocab] of the first
 * T = min(n, max_seq) tokens as one sequence (for comparisons with a reference); *T_out = T. */
genc_status genc_lm_dump_logits(genc_ctx *ctx, genc_lm *m, const int32_t *tokens, int64_t n, const char *path,
                                int64_t *T_out);

/* ---- training (train.c) ---- */
typedef struct genc_lm_train_config {
    int64_t steps, batch, seq;   /* optimiser steps of batch x seq tokens */
    double lr, min_lr;           /* cosine from lr (after warmup) down to min_lr at the last step */
    int64_t warmup;
    double weight_decay, beta2;  /* AdamW (weight decay on matrices only) */
    bool moments_bf16;           /* AdamW moments kept at BF16 precision (--optim-state bf16) */
    double clip;                 /* global gradient-norm clip, 0: off */
    bool validate;               /* evaluate the held-out part of the corpus */
    int64_t eval_every, eval_tokens, eval_batch; /* eval_tokens 0: all */
    int64_t save_every, stop_at;
    uint64_t seed;               /* data windows */
    bool resume;                 /* continue from `checkpoint` */
    const char *checkpoint;      /* NULL: none; rewritten at every save (the last step) */
    const char *best_checkpoint; /* the best validation loss so far, NULL: none */
    const char *metrics;         /* JSON-lines metrics file (appended to on resume), NULL: none */
    volatile int *stop;          /* set non-zero to stop after a step (with a checkpoint) */
    genc_dist *dist;             /* data parallelism over MPI ranks (NULL: one process): each rank runs
                                    batch / ranks of every step's windows; every rank must be given the
                                    same config and data (checked at start) */
    int zero;                    /* 1: ZeRO-1, the AdamW moments sharded over the ranks */
    int ep;                      /* > 1: expert parallelism over that many ranks (all of them) */
    bool overlap;                /* the gradient all-reduce overlapped with the backward pass */
    int64_t *optim_bytes;        /* optional out: this rank's optimiser-state bytes */
    /* Optional: called once set up, right before the loop (e.g. to print the opening line). */
    void (*on_start)(void *user, const genc_lm *m, int64_t first_step);
    /* Optional: after every step's bias update and metrics line, with the step's total loss. */
    genc_status (*on_step)(void *user, int64_t step, double loss);
    void *user;
} genc_lm_train_config;
/* The defaults: lr 3e-3 -> 3e-4, warm-up 30, weight decay 0.1, beta2 0.95, clip 1.0, 300 steps
 * of 16 x 128 tokens, validation every 100 steps on 20,000 tokens in batches of 8, seed 1. */
genc_lm_train_config genc_lm_train_defaults(void);

/* Train m on the corpus's training part: AdamW (resumed from the checkpoint when asked), the
 * windows of genc_lm_windows, the auxiliary-loss-free bias update after each step, per-step
 * MoE/MTP metrics, validation loss and perplexity. tok (may be NULL) is saved with every
 * checkpoint. *st receives the final training state (step, best validation loss). */
genc_status genc_lm_train(genc_ctx *ctx, genc_lm *m, const genc_lm_corpus *corpus, const struct genc_tokenizer *tok,
                          const genc_lm_train_config *c, genc_train_state *st);

#ifdef __cplusplus
}
#endif
#endif
