/* The DeepSeek-V3 model's tensors: creation with Hugging Face names, initialisation, and the
 * per-layer layout (MLA, dense or MoE FFN, MTP modules). */
#include "genc/genc.h"
#include "genc/lm.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    genc_ctx *ctx;
    genc_lm *m;
    double std;
} builder;

/* A trainable tensor: N(0, std) for matrices, ones for norm weights. */
static genc_tensor *make(builder *b, int ndim, int64_t d0, int64_t d1, bool norm, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
static genc_tensor *make(builder *b, int ndim, int64_t d0, int64_t d1, bool norm, const char *fmt, ...) {
    char name[96];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    int64_t shape[2] = {d0, d1};
    genc_tensor *t = genc_params_new(b->ctx, &b->m->params, name, ndim, shape);
    if (!t) return NULL;
    if (norm) genc_fill(t, 1);
    else genc_fill_normal(b->ctx, t, 0, b->std);
    return t;
}

#define MAT(out, in, ...) make(b, 2, out, in, false, __VA_ARGS__)
#define NORM(n, ...) make(b, 1, n, 0, true, __VA_ARGS__)

static void make_attention(builder *b, genc_lm_block *k, const char *p) {
    const genc_lm_config *c = &b->m->cfg;
    int64_t qk = c->qk_nope_dim + c->qk_rope_dim, H = c->n_heads;
    if (c->q_lora_rank > 0) {
        k->q_a = MAT(c->q_lora_rank, c->dim, "%s.self_attn.q_a_proj.weight", p);
        k->q_a_norm = NORM(c->q_lora_rank, "%s.self_attn.q_a_layernorm.weight", p);
        k->q_b = MAT(H * qk, c->q_lora_rank, "%s.self_attn.q_b_proj.weight", p);
    } else {
        k->q_proj = MAT(H * qk, c->dim, "%s.self_attn.q_proj.weight", p);
    }
    k->kv_a = MAT(c->kv_lora_rank + c->qk_rope_dim, c->dim, "%s.self_attn.kv_a_proj_with_mqa.weight", p);
    k->kv_a_norm = NORM(c->kv_lora_rank, "%s.self_attn.kv_a_layernorm.weight", p);
    k->kv_b = MAT(H * (c->qk_nope_dim + c->v_dim), c->kv_lora_rank, "%s.self_attn.kv_b_proj.weight", p);
    k->o_proj = MAT(c->dim, H * c->v_dim, "%s.self_attn.o_proj.weight", p);
}

/* The balancing bias: saved with the model, updated by genc_lm_update_bias, no gradient. */
static genc_tensor *make_bias(builder *b, const char *p) {
    int64_t n = b->m->cfg.n_routed;
    genc_tensor *t = genc_tensor_new(b->ctx, 1, &n);
    if (!t) return NULL;
    snprintf(t->name, sizeof t->name, "%.60s.mlp.gate.e_score_correction_bias", p);
    if (genc_params_add(b->ctx, &b->m->params, t)) {
        genc_tensor_free(t);
        return NULL;
    }
    return t;
}

static void make_ffn(builder *b, genc_lm_block *k, const char *p, bool dense) {
    const genc_lm_config *c = &b->m->cfg;
    if (dense) {
        k->w_gate = MAT(c->dense_inter, c->dim, "%s.mlp.gate_proj.weight", p);
        k->w_up = MAT(c->dense_inter, c->dim, "%s.mlp.up_proj.weight", p);
        k->w_down = MAT(c->dim, c->dense_inter, "%s.mlp.down_proj.weight", p);
        return;
    }
    int E = c->n_routed;
    k->router = MAT(E, c->dim, "%s.mlp.gate.weight", p);
    k->router_bias = make_bias(b, p);
    k->e_gate = calloc((size_t)E, sizeof(genc_tensor *));
    k->e_up = calloc((size_t)E, sizeof(genc_tensor *));
    k->e_down = calloc((size_t)E, sizeof(genc_tensor *));
    k->load = calloc((size_t)E, sizeof(int64_t));
    if (!k->e_gate || !k->e_up || !k->e_down || !k->load) {
        genc_error(b->ctx, GENC_ENOMEM, "out of memory for the experts");
        return;
    }
    for (int e = 0; e < E; e++) {
        k->e_gate[e] = MAT(c->moe_inter, c->dim, "%s.mlp.experts.%d.gate_proj.weight", p, e);
        k->e_up[e] = MAT(c->moe_inter, c->dim, "%s.mlp.experts.%d.up_proj.weight", p, e);
        k->e_down[e] = MAT(c->dim, c->moe_inter, "%s.mlp.experts.%d.down_proj.weight", p, e);
    }
    if (c->n_shared > 0) {
        int64_t w = (int64_t)c->n_shared * c->moe_inter;
        k->s_gate = MAT(w, c->dim, "%s.mlp.shared_experts.gate_proj.weight", p);
        k->s_up = MAT(w, c->dim, "%s.mlp.shared_experts.up_proj.weight", p);
        k->s_down = MAT(c->dim, w, "%s.mlp.shared_experts.down_proj.weight", p);
    }
}

static void make_block(builder *b, int index) {
    const genc_lm_config *c = &b->m->cfg;
    genc_lm_block *k = &b->m->blocks[index];
    char p[64];
    snprintf(p, sizeof p, "model.layers.%d", index);
    if (index >= c->n_layers) { /* MTP module: its own norms and projection, then a block */
        k->enorm = NORM(c->dim, "%s.enorm.weight", p);
        k->hnorm = NORM(c->dim, "%s.hnorm.weight", p);
        k->eh_proj = MAT(c->dim, 2 * c->dim, "%s.eh_proj.weight", p);
    }
    k->attn_norm = NORM(c->dim, "%s.input_layernorm.weight", p);
    make_attention(b, k, p);
    k->ffn_norm = NORM(c->dim, "%s.post_attention_layernorm.weight", p);
    make_ffn(b, k, p, c->n_routed == 0 || index < c->n_dense_layers);
}

genc_status genc_lm_init(genc_ctx *ctx, genc_lm *m, const genc_lm_config *cfg, double init_std) {
    memset(m, 0, sizeof *m);
    genc_status s = genc_lm_config_check(ctx, cfg);
    if (s) return s;
    m->cfg = *cfg;
    int n = cfg->n_layers + cfg->mtp_depth;
    m->blocks = calloc((size_t)n, sizeof *m->blocks);
    if (!m->blocks) return genc_error(ctx, GENC_ENOMEM, "out of memory for the model");
    builder b = {ctx, m, init_std};
    m->embed = make(&b, 2, cfg->vocab_size, cfg->dim, false, "model.embed_tokens.weight");
    for (int i = 0; i < n && !genc_ctx_status(ctx); i++) make_block(&b, i);
    m->final_norm = make(&b, 1, cfg->dim, 0, true, "model.norm.weight");
    m->lm_head = make(&b, 2, cfg->vocab_size, cfg->dim, false, "lm_head.weight");
    if (genc_ctx_status(ctx)) genc_lm_free(m);
    return genc_ctx_status(ctx);
}

void genc_lm_free(genc_lm *m) {
    int n = m->cfg.n_layers + m->cfg.mtp_depth;
    for (int i = 0; m->blocks && i < n; i++) {
        free(m->blocks[i].e_gate), free(m->blocks[i].e_up), free(m->blocks[i].e_down);
        free(m->blocks[i].load);
    }
    free(m->blocks);
    for (int i = 0; i < m->n_w8; i++) genc_w8_free(&m->w8[i]);
    free(m->w8);
    genc_params_free_all(&m->params);
    memset(m, 0, sizeof *m);
}
