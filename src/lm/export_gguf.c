/* A genc language model as GGUF in llama.cpp's "deepseek2" layout (see lm_export.h): the
 * hyper-parameter keys of its loader, the tensors under its names and shapes, the
 * tokenizer. Shapes below are ggml's ne (fastest first): PyTorch [out, in] is {in, out}. */
#include "genc/lm_export.h"
#include "lm/export_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARCH "deepseek2"

typedef struct {
    genc_ctx *ctx;
    genc_gguf_writer *w;
    genc_ggml_type type; /* for matrices */
} exporter;

/* One tensor: 1-D tensors and `keep_f32` ones stay F32; Q8_0 falls back to F16 for rows
 * that are not a multiple of 32. */
static genc_status put(exporter *x, const char *name, int ndim, const int64_t *ne, const float *src, bool keep_f32) {
    genc_ggml_type t = ndim == 1 || keep_f32 ? GENC_GGML_F32 : x->type;
    if (t == GENC_GGML_Q8_0 && ne[0] % GENC_GGUF_Q8_BLOCK) t = GENC_GGML_F16;
    return genc_gguf_add_tensor(x->w, name, t, ndim, ne, src);
}

/* A PyTorch [out, in] matrix t as ne {in, out}. */
static genc_status put_mat(exporter *x, const char *name, const genc_tensor *t, bool keep_f32) {
    return put(x, name, 2, (int64_t[]){t->shape[1], t->shape[0]}, (const float *)t->data, keep_f32);
}

static genc_status put_vec(exporter *x, const char *name, const genc_tensor *t) {
    return put(x, name, 1, (int64_t[]){t->shape[0]}, (const float *)t->data, true);
}

/* kv_b [H * (nope + v), r] split per head into attn_k_b ne {nope, r, H} (k_b[h][r][j] =
 * kv_b[h (nope + v) + j][r]) and attn_v_b ne {r, v, H} (v_b[h][j][r] = kv_b[h (nope + v) +
 * nope + j][r]), the layout of llama.cpp's absorbed MLA. */
static genc_status put_kv_b(exporter *x, int i, const genc_lm_config *c, const genc_tensor *kv_b) {
    int64_t H = c->n_heads, nope = c->qk_nope_dim, v = c->v_dim, r = c->kv_lora_rank;
    float *k = malloc((size_t)(H * r * nope) * sizeof *k), *vb = malloc((size_t)(H * v * r) * sizeof *vb);
    const float *w = (const float *)kv_b->data;
    genc_status s = k && vb ? GENC_OK : genc_error(x->ctx, GENC_ENOMEM, "export: out of memory");
    for (int64_t h = 0; !s && h < H; h++) {
        const float *rows = w + h * (nope + v) * r;
        for (int64_t a = 0; a < r; a++)
            for (int64_t j = 0; j < nope; j++) k[(h * r + a) * nope + j] = rows[j * r + a];
        memcpy(vb + h * v * r, rows + nope * r, (size_t)(v * r) * sizeof *vb);
    }
    char name[64];
    snprintf(name, sizeof name, "blk.%d.attn_k_b.weight", i);
    if (!s) s = put(x, name, 3, (int64_t[]){nope, r, H}, k, false);
    snprintf(name, sizeof name, "blk.%d.attn_v_b.weight", i);
    if (!s) s = put(x, name, 3, (int64_t[]){r, v, H}, vb, false);
    free(k), free(vb);
    return s;
}

static genc_status put_attention(exporter *x, int i, const genc_lm_config *c, const genc_lm_block *k) {
    char n[64];
    genc_status s = GENC_OK;
#define NAME(fmt) (snprintf(n, sizeof n, "blk.%d." fmt, i), n)
    if (!s) s = put_vec(x, NAME("attn_norm.weight"), k->attn_norm);
    if (c->q_lora_rank > 0) {
        if (!s) s = put_mat(x, NAME("attn_q_a.weight"), k->q_a, false);
        if (!s) s = put_vec(x, NAME("attn_q_a_norm.weight"), k->q_a_norm);
        if (!s) s = put_mat(x, NAME("attn_q_b.weight"), k->q_b, false);
    } else if (!s) {
        s = put_mat(x, NAME("attn_q.weight"), k->q_proj, false);
    }
    if (!s) s = put_mat(x, NAME("attn_kv_a_mqa.weight"), k->kv_a, false);
    if (!s) s = put_vec(x, NAME("attn_kv_a_norm.weight"), k->kv_a_norm);
    if (!s) s = put_kv_b(x, i, c, k->kv_b);
    if (!s) s = put_mat(x, NAME("attn_output.weight"), k->o_proj, false);
    if (!s) s = put_vec(x, NAME("ffn_norm.weight"), k->ffn_norm);
    return s;
}

/* The E experts' [rows, cols] matrices stacked as ne {cols, rows, E}. */
static genc_status put_experts(exporter *x, const char *name, genc_tensor *const *e, int E) {
    int64_t rows = e[0]->shape[0], cols = e[0]->shape[1], per = rows * cols;
    float *all = malloc((size_t)(per * E) * sizeof *all);
    if (!all) return genc_error(x->ctx, GENC_ENOMEM, "export: out of memory for %s", name);
    for (int j = 0; j < E; j++) memcpy(all + per * j, e[j]->data, (size_t)per * sizeof *all);
    genc_status s = put(x, name, 3, (int64_t[]){cols, rows, E}, all, false);
    free(all);
    return s;
}

/* Shared experts; without any, one of zero weights (its output is exactly 0). */
static genc_status put_shared(exporter *x, int i, const genc_lm_config *c, const genc_lm_block *k) {
    char n[64];
    genc_status s = GENC_OK;
    if (k->s_gate) {
        if (!s) s = put_mat(x, NAME("ffn_gate_shexp.weight"), k->s_gate, false);
        if (!s) s = put_mat(x, NAME("ffn_up_shexp.weight"), k->s_up, false);
        if (!s) s = put_mat(x, NAME("ffn_down_shexp.weight"), k->s_down, false);
        return s;
    }
    int64_t f = c->moe_inter, d = c->dim;
    float *z = calloc((size_t)(f * d), sizeof *z);
    if (!z) return genc_error(x->ctx, GENC_ENOMEM, "export: out of memory");
    if (!s) s = put(x, NAME("ffn_gate_shexp.weight"), 2, (int64_t[]){d, f}, z, false);
    if (!s) s = put(x, NAME("ffn_up_shexp.weight"), 2, (int64_t[]){d, f}, z, false);
    if (!s) s = put(x, NAME("ffn_down_shexp.weight"), 2, (int64_t[]){f, d}, z, false);
    free(z);
    return s;
}

static genc_status put_ffn(exporter *x, int i, const genc_lm_config *c, const genc_lm_block *k) {
    char n[64];
    genc_status s = GENC_OK;
    if (k->w_gate) {
        if (!s) s = put_mat(x, NAME("ffn_gate.weight"), k->w_gate, false);
        if (!s) s = put_mat(x, NAME("ffn_up.weight"), k->w_up, false);
        if (!s) s = put_mat(x, NAME("ffn_down.weight"), k->w_down, false);
        return s;
    }
    if (!s) s = put_mat(x, NAME("ffn_gate_inp.weight"), k->router, true);
    if (!s) s = put_vec(x, NAME("exp_probs_b.bias"), k->router_bias);
    if (!s) s = put_experts(x, NAME("ffn_gate_exps.weight"), k->e_gate, c->n_routed);
    if (!s) s = put_experts(x, NAME("ffn_up_exps.weight"), k->e_up, c->n_routed);
    if (!s) s = put_experts(x, NAME("ffn_down_exps.weight"), k->e_down, c->n_routed);
    if (!s) s = put_shared(x, i, c, k);
    return s;
#undef NAME
}

/* general.* and deepseek2.* keys (llama.cpp's load_hparams for LLM_ARCH_DEEPSEEK2). */
static genc_status put_hparams(genc_gguf_writer *w, const genc_lm_config *c, genc_ggml_type type) {
    bool moe = c->n_routed > 0;
    genc_status s = genc_gguf_set_str(w, "general.architecture", ARCH);
    if (!s) s = genc_gguf_set_str(w, "general.name", "genc DeepSeek-V3-architecture model");
    if (!s) s = genc_gguf_set_u32(w, "general.file_type", type == GENC_GGML_F32 ? 0 : type == GENC_GGML_F16 ? 1 : 7);
    if (!s && type == GENC_GGML_Q8_0) s = genc_gguf_set_u32(w, "general.quantization_version", 2);
    if (!s) s = genc_gguf_set_u32(w, "general.alignment", GENC_GGUF_ALIGN);
#define U32(k, v) if (!s) s = genc_gguf_set_u32(w, ARCH "." k, (uint32_t)(v))
#define F32(k, v) if (!s) s = genc_gguf_set_f32(w, ARCH "." k, (float)(v))
    U32("vocab_size", c->vocab_size);
    U32("context_length", c->max_seq);
    U32("embedding_length", c->dim);
    U32("block_count", c->n_layers);
    U32("feed_forward_length", c->dense_inter);
    U32("attention.head_count", c->n_heads);
    U32("attention.head_count_kv", 1); /* MLA absorbed: one latent "head" shared by all */
    U32("attention.key_length", c->kv_lora_rank + c->qk_rope_dim);
    U32("attention.value_length", c->kv_lora_rank);
    U32("attention.key_length_mla", c->qk_nope_dim + c->qk_rope_dim);
    U32("attention.value_length_mla", c->v_dim);
    U32("attention.q_lora_rank", c->q_lora_rank);
    U32("attention.kv_lora_rank", c->kv_lora_rank);
    F32("attention.layer_norm_rms_epsilon", c->norm_eps);
    F32("rope.freq_base", c->rope_theta);
    U32("rope.dimension_count", c->qk_rope_dim);
    if (c->yarn_factor > 0) { /* llama.cpp: kq scale (1 + log_mul ln factor)^2 / sqrt(d_qk), ggml's YaRN ramp */
        if (!s) s = genc_gguf_set_str(w, ARCH ".rope.scaling.type", "yarn");
        F32("rope.scaling.factor", c->yarn_factor);
        U32("rope.scaling.original_context_length", c->yarn_orig_max_pos);
        F32("rope.scaling.yarn_log_multiplier", 0.1 * c->yarn_mscale_all_dim);
        F32("rope.scaling.yarn_beta_fast", c->yarn_beta_fast);
        F32("rope.scaling.yarn_beta_slow", c->yarn_beta_slow);
    }
    U32("leading_dense_block_count", moe ? c->n_dense_layers : c->n_layers);
    U32("expert_count", moe ? c->n_routed : 0);
    U32("expert_used_count", moe ? c->n_active : 0);
    U32("expert_shared_count", moe && c->n_shared == 0 ? 1 : c->n_shared);
    U32("expert_feed_forward_length", c->moe_inter);
    F32("expert_weights_scale", c->route_scale);
    if (!s) s = genc_gguf_set_bool(w, ARCH ".expert_weights_norm", c->score == GENC_SCORE_SIGMOID || c->norm_topk);
    U32("expert_gating_func", c->score == GENC_SCORE_SOFTMAX ? 1 : 2); /* llama.cpp: 1 softmax, 2 sigmoid */
    if (moe && c->topk_groups < c->n_groups) { /* all groups kept: no group limit (llama.cpp asserts used < count) */
        U32("expert_group_count", c->n_groups);
        U32("expert_group_used_count", c->topk_groups);
    }
#undef U32
#undef F32
    return s;
}

genc_status genc_lm_export_gguf(genc_ctx *ctx, const genc_lm *m, const genc_tokenizer *tok, genc_ggml_type type,
                                const char *path) {
    const genc_lm_config *c = &m->cfg;
    if (c->yarn_factor > 0 && c->yarn_mscale != c->yarn_mscale_all_dim)
        return genc_error(ctx, GENC_EINVAL, "export: rope_scaling mscale %g differs from mscale_all_dim %g: llama.cpp's "
                          "deepseek2 keeps the rotary magnitude at 1 (it has no key for their ratio)", c->yarn_mscale,
                          c->yarn_mscale_all_dim);
    exporter x = {ctx, genc_gguf_writer_new(ctx), type};
    if (!x.w) return genc_ctx_status(ctx);
    genc_status s = put_hparams(x.w, c, type);
    if (!s) s = genc_export_vocab_gguf(ctx, tok, c->vocab_size, x.w);
    if (!s) s = put_mat(&x, "token_embd.weight", m->embed, false);
    for (int i = 0; !s && i < c->n_layers; i++) {
        s = put_attention(&x, i, c, &m->blocks[i]);
        if (!s) s = put_ffn(&x, i, c, &m->blocks[i]);
    }
    if (!s) s = put_vec(&x, "output_norm.weight", m->final_norm);
    if (!s) s = put_mat(&x, "output.weight", m->lm_head, false);
    if (!s) s = genc_gguf_writer_save(x.w, path);
    genc_gguf_writer_free(x.w);
    return s;
}
