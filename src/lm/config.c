/* Language-model configs: presets, validation (every field and relation named in the
 * message), and JSON with Hugging Face's DeepSeek-V3 field names plus genc_* extras. */
#include "genc/lm.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* tiny: every V3 idea switched on at a size that trains in a minute on 2 cores. */
static const genc_lm_config TINY = {
    .vocab_size = 512, .dim = 64, .n_layers = 2, .n_heads = 4, .max_seq = 256, .q_lora_rank = 32,
    .kv_lora_rank = 32, .qk_nope_dim = 16, .qk_rope_dim = 8, .v_dim = 16, .rope_theta = 10000, .norm_eps = 1e-6,
    .n_dense_layers = 1, .dense_inter = 160, .n_routed = 8, .n_shared = 1, .n_active = 2, .moe_inter = 32,
    .n_groups = 2, .topk_groups = 2, .route_scale = 1.0, .score = GENC_SCORE_SIGMOID, .norm_topk = true,
    .balance = GENC_BAL_AUX_FREE, .bias_gamma = 0.01, .aux_alpha = 0, .seq_aux = true, .mtp_depth = 1,
    .mtp_lambda = 0.3};

genc_status genc_lm_preset(genc_ctx *ctx, const char *name, genc_lm_config *c) {
    *c = TINY;
    if (!strcmp(name, "tiny")) return GENC_OK;
    if (!strcmp(name, "small")) { /* ~3M parameters */
        c->vocab_size = 2048, c->dim = 128, c->n_layers = 4, c->n_heads = 4, c->max_seq = 512;
        c->q_lora_rank = 64, c->kv_lora_rank = 64, c->qk_nope_dim = 32, c->qk_rope_dim = 16, c->v_dim = 32;
        c->dense_inter = 384, c->n_routed = 16, c->n_active = 2, c->moe_inter = 64, c->n_groups = 4, c->topk_groups = 2;
        return GENC_OK;
    }
    if (!strcmp(name, "base")) { /* ~25M parameters */
        c->vocab_size = 8192, c->dim = 256, c->n_layers = 8, c->n_heads = 8, c->max_seq = 1024;
        c->q_lora_rank = 128, c->kv_lora_rank = 128, c->qk_nope_dim = 32, c->qk_rope_dim = 16, c->v_dim = 32;
        c->dense_inter = 768, c->n_routed = 32, c->n_active = 4, c->moe_inter = 128, c->n_groups = 4, c->topk_groups = 2;
        return GENC_OK;
    }
    if (!strcmp(name, "large")) { /* ~150M parameters: hours to days on a CPU */
        c->vocab_size = 16384, c->dim = 512, c->n_layers = 12, c->n_heads = 8, c->max_seq = 2048;
        c->q_lora_rank = 256, c->kv_lora_rank = 128, c->qk_nope_dim = 64, c->qk_rope_dim = 32, c->v_dim = 64;
        c->dense_inter = 1536, c->n_routed = 64, c->n_active = 6, c->moe_inter = 256, c->n_groups = 8, c->topk_groups = 4;
        c->n_dense_layers = 1, c->route_scale = 2.5;
        return GENC_OK;
    }
    return genc_error(ctx, GENC_EINVAL, "--preset: expected tiny, small, base or large, found \"%s\"", name);
}

#define REQUIRE(cond, ...) \
    do { if (!(cond)) return genc_error(ctx, GENC_EINVAL, __VA_ARGS__); } while (0)

genc_status genc_lm_config_check(genc_ctx *ctx, const genc_lm_config *c) {
    REQUIRE(c->vocab_size >= 2 && c->vocab_size <= (1 << 24), "vocab_size: expected 2 .. 2^24, found %d", c->vocab_size);
    REQUIRE(c->dim >= 2 && c->dim <= 65536, "hidden_size: expected 2 .. 65536, found %d", c->dim);
    REQUIRE(c->n_layers >= 1 && c->n_layers <= 1024, "num_hidden_layers: expected 1 .. 1024, found %d", c->n_layers);
    REQUIRE(c->n_heads >= 1 && c->n_heads <= 1024, "num_attention_heads: expected 1 .. 1024, found %d", c->n_heads);
    REQUIRE(c->max_seq >= 2 && c->max_seq <= (1 << 20), "max_position_embeddings: expected 2 .. 2^20, found %d",
            c->max_seq);
    REQUIRE(c->q_lora_rank >= 0 && c->q_lora_rank <= 65536, "q_lora_rank: expected 0 .. 65536, found %d", c->q_lora_rank);
    REQUIRE(c->kv_lora_rank >= 1 && c->kv_lora_rank <= 65536, "kv_lora_rank: expected 1 .. 65536, found %d",
            c->kv_lora_rank);
    REQUIRE(c->qk_nope_dim >= 1 && c->v_dim >= 1 && c->qk_nope_dim <= 4096 && c->v_dim <= 4096,
            "qk_nope_head_dim and v_head_dim: expected 1 .. 4096, found %d, %d",
            c->qk_nope_dim, c->v_dim);
    REQUIRE(c->qk_rope_dim >= 2 && c->qk_rope_dim <= 4096 && c->qk_rope_dim % 2 == 0,
            "qk_rope_head_dim: expected an even number in 2 .. 4096, found %d",
            c->qk_rope_dim);
    REQUIRE(c->rope_theta > 1, "rope_theta: expected > 1, found %g", c->rope_theta);
    REQUIRE(c->yarn_factor == 0 || (c->yarn_factor >= 1 && c->yarn_factor <= 1e6),
            "rope_scaling.factor: expected 1 .. 1e6 (or no rope_scaling), found %g", c->yarn_factor);
    REQUIRE(c->yarn_factor == 0 || (c->yarn_orig_max_pos >= 1 && c->yarn_beta_fast > 0 && c->yarn_beta_slow > 0 &&
                                    isfinite(c->yarn_mscale) && isfinite(c->yarn_mscale_all_dim)),
            "rope_scaling: expected original_max_position_embeddings >= 1, beta_fast and beta_slow > 0 and finite "
            "mscale, mscale_all_dim; found %d, %g, %g, %g, %g", c->yarn_orig_max_pos, c->yarn_beta_fast,
            c->yarn_beta_slow, c->yarn_mscale, c->yarn_mscale_all_dim);
    REQUIRE(c->norm_eps > 0 && c->norm_eps < 1, "rms_norm_eps: expected in (0, 1), found %g", c->norm_eps);
    REQUIRE(c->n_dense_layers >= 0 && c->n_dense_layers <= 1024, "first_k_dense_replace: expected 0 .. 1024, found %d",
            c->n_dense_layers);
    REQUIRE(c->dense_inter >= 1 && c->dense_inter <= (1 << 20), "intermediate_size: expected 1 .. 2^20, found %d",
            c->dense_inter);
    REQUIRE(c->mtp_depth >= 0 && c->mtp_depth <= 8, "num_nextn_predict_layers: expected 0 .. 8, found %d", c->mtp_depth);
    REQUIRE(c->mtp_lambda >= 0, "genc_mtp_lambda: expected >= 0, found %g", c->mtp_lambda);
    if (c->n_routed == 0) return GENC_OK;
    REQUIRE(c->n_routed >= 2 && c->n_routed <= 4096, "n_routed_experts: expected 0 or 2 .. 4096, found %d", c->n_routed);
    REQUIRE(c->n_shared >= 0 && c->n_shared <= 64, "n_shared_experts: expected 0 .. 64, found %d", c->n_shared);
    REQUIRE(c->moe_inter >= 1 && c->moe_inter <= (1 << 20), "moe_intermediate_size: expected 1 .. 2^20, found %d",
            c->moe_inter);
    REQUIRE(c->n_groups >= 1 && c->n_routed % c->n_groups == 0,
            "n_group: %d does not divide n_routed_experts %d", c->n_groups, c->n_routed);
    REQUIRE(c->topk_groups >= 1 && c->topk_groups <= c->n_groups, "topk_group: expected 1 .. n_group (%d), found %d",
            c->n_groups, c->topk_groups);
    REQUIRE(c->n_groups == 1 || c->n_routed / c->n_groups >= 2, "n_group: groups need at least 2 experts each (%d / %d)",
            c->n_routed, c->n_groups);
    REQUIRE(c->n_active >= 1 && c->n_active <= c->topk_groups * (c->n_routed / c->n_groups),
            "num_experts_per_tok: expected 1 .. %d (experts in the kept groups), found %d",
            c->topk_groups * (c->n_routed / c->n_groups), c->n_active);
    REQUIRE(c->route_scale > 0, "routed_scaling_factor: expected > 0, found %g", c->route_scale);
    REQUIRE(c->bias_gamma >= 0, "genc_bias_update_speed: expected >= 0, found %g", c->bias_gamma);
    REQUIRE(c->aux_alpha >= 0, "aux_loss_alpha: expected >= 0, found %g", c->aux_alpha);
    REQUIRE(c->balance != GENC_BAL_AUX_LOSS || c->aux_alpha > 0, "genc_balance aux_loss needs aux_loss_alpha > 0");
    REQUIRE(c->balance != GENC_BAL_NONE || c->aux_alpha == 0, "genc_balance none needs aux_loss_alpha 0, found %g",
            c->aux_alpha);
    return GENC_OK;
}

static const char *BAL_NAMES[] = {"aux_free", "aux_loss", "none"};

/* rope_scaling as DeepSeek-V3's config.json writes it, or null. */
static json_t *rope_scaling_json(const genc_lm_config *c) {
    if (!(c->yarn_factor > 0)) return json_null();
    return json_pack("{s:s, s:f, s:i, s:f, s:f, s:f, s:f}", "type", "yarn", "factor", c->yarn_factor,
                     "original_max_position_embeddings", c->yarn_orig_max_pos, "beta_fast", c->yarn_beta_fast,
                     "beta_slow", c->yarn_beta_slow, "mscale", c->yarn_mscale, "mscale_all_dim", c->yarn_mscale_all_dim);
}

/* rope_scaling null, or {"type" (or "rope_type"): "yarn", "factor", ...} with DeepSeek-V3's
 * defaults for the keys left out; any other type or key is refused (err gets the reason). */
static bool parse_rope_scaling(json_t *r, genc_lm_config *c, json_error_t *err) {
    if (!r || json_is_null(r)) return true;
    const char *type = json_string_value(json_object_get(r, "type"));
    if (!type) type = json_string_value(json_object_get(r, "rope_type"));
    static const char *const known[] = {"type", "rope_type", "factor", "original_max_position_embeddings", "beta_fast",
                                        "beta_slow", "mscale", "mscale_all_dim"};
    const char *key;
    json_t *v;
    json_object_foreach(r, key, v) {
        bool found = false;
        for (size_t i = 0; i < sizeof known / sizeof *known; i++) found = found || !strcmp(key, known[i]);
        if (!found) {
            snprintf(err->text, sizeof err->text, "rope_scaling.%s: genc does not implement this key", key);
            return false;
        }
    }
    if (!json_is_object(r) || !type || strcmp(type, "yarn")) {
        snprintf(err->text, sizeof err->text, "rope_scaling: genc implements type \"yarn\" only, found %s",
                 type ? type : "no type");
        return false;
    }
    json_t *f = json_object_get(r, "factor"), *L = json_object_get(r, "original_max_position_embeddings");
    if (!json_is_number(f) || !json_is_integer(L) || json_integer_value(L) < 1 || json_integer_value(L) > (1 << 30)) {
        snprintf(err->text, sizeof err->text, "rope_scaling: expected a number \"factor\" and an integer "
                 "\"original_max_position_embeddings\" in 1 .. 2^30");
        return false;
    }
    static const char *const opt[] = {"beta_fast", "beta_slow", "mscale", "mscale_all_dim"};
    double *dst[] = {&c->yarn_beta_fast, &c->yarn_beta_slow, &c->yarn_mscale, &c->yarn_mscale_all_dim};
    const double dflt[] = {32, 1, 1, 0}; /* DeepSeek-V3's DeepseekV3YarnRotaryEmbedding defaults */
    for (int i = 0; i < 4; i++) {
        json_t *x = json_object_get(r, opt[i]);
        if (x && !json_is_number(x)) {
            snprintf(err->text, sizeof err->text, "rope_scaling.%s: expected a number", opt[i]);
            return false;
        }
        *dst[i] = x ? json_number_value(x) : dflt[i];
    }
    c->yarn_factor = json_number_value(f), c->yarn_orig_max_pos = (int)json_integer_value(L);
    return true;
}

char *genc_lm_config_json(const genc_lm_config *c) {
    json_t *j = json_pack(
        "{s:s, s:[s], s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:f, s:f, s:i, s:i, s:i, s:i, s:i, s:i,"
        " s:i, s:f, s:s, s:b, s:s, s:i, s:s, s:f, s:f, s:b, s:f, s:b, s:s}",
        "model_type", "deepseek_v3", "architectures", "DeepseekV3ForCausalLM", "vocab_size", c->vocab_size,
        "hidden_size", c->dim, "num_hidden_layers", c->n_layers, "num_attention_heads", c->n_heads,
        "max_position_embeddings", c->max_seq, "q_lora_rank", c->q_lora_rank, "kv_lora_rank", c->kv_lora_rank,
        "qk_nope_head_dim", c->qk_nope_dim, "qk_rope_head_dim", c->qk_rope_dim, "v_head_dim", c->v_dim,
        "first_k_dense_replace", c->n_dense_layers, "rope_theta", c->rope_theta, "rms_norm_eps", c->norm_eps,
        "intermediate_size", c->dense_inter, "n_routed_experts", c->n_routed, "n_shared_experts", c->n_shared,
        "num_experts_per_tok", c->n_active, "moe_intermediate_size", c->moe_inter, "n_group", c->n_groups,
        "topk_group", c->topk_groups, "routed_scaling_factor", c->route_scale, "scoring_func",
        c->score == GENC_SCORE_SOFTMAX ? "softmax" : "sigmoid", "norm_topk_prob", c->norm_topk, "topk_method",
        "noaux_tc", "num_nextn_predict_layers", c->mtp_depth, "genc_balance", BAL_NAMES[c->balance],
        "genc_bias_update_speed", c->bias_gamma, "aux_loss_alpha", c->aux_alpha, "seq_aux", c->seq_aux,
        "genc_mtp_lambda", c->mtp_lambda, "tie_word_embeddings", 0, "hidden_act", "silu");
    if (j) json_object_set_new(j, "rope_scaling", rope_scaling_json(c));
    char *s = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(j);
    return s;
}

genc_status genc_lm_config_parse(genc_ctx *ctx, const char *json, const char *label, genc_lm_config *c) {
    json_error_t err;
    json_t *j = json ? json_loads(json, 0, &err) : NULL;
    const char *score = "sigmoid", *bal = "aux_free";
    int norm_topk = 1, seq_aux = 1;
    json_t *rs = NULL;
    memset(c, 0, sizeof *c);
    int bad = !j || json_unpack_ex(
        j, &err, 0,
        "{s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:F, s:F, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:F,"
        " s:s, s:b, s:i, s?s, s?F, s?F, s?b, s?F, s?o}",
        "vocab_size", &c->vocab_size, "hidden_size", &c->dim, "num_hidden_layers", &c->n_layers, "num_attention_heads",
        &c->n_heads, "max_position_embeddings", &c->max_seq, "q_lora_rank", &c->q_lora_rank, "kv_lora_rank",
        &c->kv_lora_rank, "qk_nope_head_dim", &c->qk_nope_dim, "qk_rope_head_dim", &c->qk_rope_dim, "v_head_dim",
        &c->v_dim, "first_k_dense_replace", &c->n_dense_layers, "rope_theta", &c->rope_theta, "rms_norm_eps",
        &c->norm_eps, "intermediate_size", &c->dense_inter, "n_routed_experts", &c->n_routed, "n_shared_experts",
        &c->n_shared, "num_experts_per_tok", &c->n_active, "moe_intermediate_size", &c->moe_inter, "n_group",
        &c->n_groups, "topk_group", &c->topk_groups, "routed_scaling_factor", &c->route_scale, "scoring_func", &score,
        "norm_topk_prob", &norm_topk, "num_nextn_predict_layers", &c->mtp_depth, "genc_balance", &bal,
        "genc_bias_update_speed", &c->bias_gamma, "aux_loss_alpha", &c->aux_alpha, "seq_aux", &seq_aux,
        "genc_mtp_lambda", &c->mtp_lambda, "rope_scaling", &rs);
    if (!bad) bad = !parse_rope_scaling(rs, c, &err);
    if (!bad) {
        c->score = !strcmp(score, "softmax") ? GENC_SCORE_SOFTMAX : GENC_SCORE_SIGMOID;
        c->norm_topk = norm_topk, c->seq_aux = seq_aux;
        c->balance = !strcmp(bal, "aux_loss") ? GENC_BAL_AUX_LOSS : !strcmp(bal, "none") ? GENC_BAL_NONE : GENC_BAL_AUX_FREE;
        bad = (strcmp(score, "softmax") && strcmp(score, "sigmoid")) ||
              (strcmp(bal, "aux_loss") && strcmp(bal, "none") && strcmp(bal, "aux_free"));
        if (bad) snprintf(err.text, sizeof err.text, "scoring_func or genc_balance has an unknown value");
    }
    json_decref(j);
    if (bad)
        return genc_error(ctx, GENC_EFORMAT, "%s: model config: %s", label, json ? err.text : "missing");
    genc_status s = genc_lm_config_check(ctx, c);
    if (s) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", genc_last_error(ctx));
        genc_clear_error(ctx);
        return genc_error(ctx, GENC_EFORMAT, "%s: model config: %s", label, msg);
    }
    return GENC_OK;
}
