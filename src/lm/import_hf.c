/* Hugging Face DeepSeek-V3 folders into genc models (see lm_import.h): config.json checked
 * key by key and mapped to genc_lm_config, then the weights from one file or the shards of
 * model.safetensors.index.json (F32/BF16/F16, or FP8 E4M3 with 128x128 block scales), then
 * tokenizer.json (import_hf_tok.c). */
#include "genc/lm_import.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_JSON ((int64_t)64 << 20)
#define MAX_SHARDS 4096
#define FP8_BLOCK 128

bool genc_lm_is_hf_dir(const char *path) {
    struct stat sb;
    char cfg[4200];
    if (stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode)) return false;
    snprintf(cfg, sizeof cfg, "%s/config.json", path);
    return stat(cfg, &sb) == 0;
}

static genc_status read_json(genc_ctx *ctx, const char *path, json_t **out) {
    uint8_t *b;
    size_t n;
    genc_status s = genc_file_read_all(ctx, path, MAX_JSON, &b, &n);
    if (s) return s;
    json_error_t err;
    *out = json_loadb((const char *)b, n, JSON_REJECT_DUPLICATES, &err);
    free(b);
    if (!json_is_object(*out)) {
        json_decref(*out);
        *out = NULL;
        return genc_error(ctx, GENC_EFORMAT, "%s: expected a JSON object: %s (line %d)", path, err.text, err.line);
    }
    return GENC_OK;
}

/* ---- config.json ---- */

/* Keys genc_lm_config_parse reads (honoured). */
static const char *const CONFIG_KEYS[] = {
    "vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "max_position_embeddings", "q_lora_rank",
    "kv_lora_rank", "qk_nope_head_dim", "qk_rope_head_dim", "v_head_dim", "first_k_dense_replace", "rope_theta",
    "rms_norm_eps", "intermediate_size", "n_routed_experts", "n_shared_experts", "num_experts_per_tok",
    "moe_intermediate_size", "n_group", "topk_group", "routed_scaling_factor", "scoring_func", "norm_topk_prob",
    "num_nextn_predict_layers", "genc_balance", "genc_bias_update_speed", "aux_loss_alpha", "seq_aux",
    "genc_mtp_lambda", "rope_scaling"};
/* Keys that do not change the function (ids, storage, bookkeeping, training-time dropout). */
static const char *const INERT_KEYS[] = {
    "model_type", "architectures", "torch_dtype", "dtype", "bos_token_id", "eos_token_id", "pad_token_id",
    "num_key_value_heads", "initializer_range", "use_cache", "pretraining_tp", "ep_size", "transformers_version",
    "attention_dropout", "auto_map", "_name_or_path", "tie_word_embeddings", "hidden_act", "attention_bias",
    "moe_layer_freq", "topk_method", "rope_interleave", "quantization_config"};

static bool in(const char *key, const char *const *list, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!strcmp(key, list[i])) return true;
    return false;
}

#define N_OF(a) (sizeof(a) / sizeof *(a))

/* The keys in INERT_KEYS that would change the function unless they hold the one value genc
 * implements. */
static genc_status check_values(genc_ctx *ctx, const char *label, json_t *j) {
    json_t *v;
#define REFUSE(...) return genc_error(ctx, GENC_EFORMAT, __VA_ARGS__)
    if ((v = json_object_get(j, "hidden_act")) && !(json_is_string(v) && !strcmp(json_string_value(v), "silu")))
        REFUSE("%s: hidden_act: genc implements \"silu\" only", label);
    if ((v = json_object_get(j, "attention_bias")) && !json_is_false(v))
        REFUSE("%s: attention_bias: genc's attention has no biases", label);
    if ((v = json_object_get(j, "tie_word_embeddings")) && !json_is_false(v))
        REFUSE("%s: tie_word_embeddings: genc keeps a separate lm_head", label);
    if ((v = json_object_get(j, "rope_interleave")) && !json_is_true(v))
        REFUSE("%s: rope_interleave false: genc rotates interleaved pairs as DeepSeek does", label);
    if ((v = json_object_get(j, "moe_layer_freq")) && !(json_is_integer(v) && json_integer_value(v) == 1))
        REFUSE("%s: moe_layer_freq: genc puts MoE in every layer after first_k_dense_replace (1)", label);
    const char *score = json_string_value(json_object_get(j, "scoring_func"));
    if (json_is_false(json_object_get(j, "norm_topk_prob")) && (!score || !strcmp(score, "sigmoid")))
        REFUSE("%s: norm_topk_prob false with sigmoid scoring: genc always renormalises the chosen sigmoid weights",
               label);
    const char *tm = json_string_value(json_object_get(j, "topk_method"));
    json_t *ng = json_object_get(j, "n_group");
    bool groups = json_is_integer(ng) && json_integer_value(ng) > 1;
    if (json_object_get(j, "topk_method") && (!tm || (strcmp(tm, "noaux_tc") && !(strcmp(tm, "greedy") == 0 && !groups))))
        REFUSE("%s: topk_method \"%s\": genc implements noaux_tc (and greedy without groups)", label, tm ? tm : "?");
    if ((v = json_object_get(j, "quantization_config"))) {
        const char *qm = json_string_value(json_object_get(v, "quant_method"));
        json_t *bs = json_object_get(v, "weight_block_size");
        if (!qm || strcmp(qm, "fp8") || json_array_size(bs) != 2 ||
            json_integer_value(json_array_get(bs, 0)) != FP8_BLOCK || json_integer_value(json_array_get(bs, 1)) != FP8_BLOCK)
            REFUSE("%s: quantization_config: genc reads DeepSeek's fp8 with weight_block_size [128, 128] only", label);
    }
#undef REFUSE
    return GENC_OK;
}

/* Null or missing DeepSeek fields get what they mean (no q LoRA, no experts, one group). */
static void fill_defaults(json_t *j) {
    static const struct { const char *key; int v; } Z[] = {
        {"q_lora_rank", 0}, {"n_routed_experts", 0}, {"n_shared_experts", 0}, {"num_experts_per_tok", 0},
        {"n_group", 1}, {"topk_group", 1}, {"num_nextn_predict_layers", 0}, {"first_k_dense_replace", 0}};
    for (size_t i = 0; i < N_OF(Z); i++) {
        json_t *v = json_object_get(j, Z[i].key);
        if (!v || json_is_null(v)) json_object_set_new(j, Z[i].key, json_integer(Z[i].v));
    }
    json_t *mi = json_object_get(j, "moe_intermediate_size");
    if (!mi || json_is_null(mi)) json_object_set_new(j, "moe_intermediate_size", json_integer(1));
    if (!json_object_get(j, "routed_scaling_factor")) json_object_set_new(j, "routed_scaling_factor", json_real(1.0));
    if (!json_object_get(j, "scoring_func")) json_object_set_new(j, "scoring_func", json_string("sigmoid"));
    if (!json_object_get(j, "norm_topk_prob")) json_object_set_new(j, "norm_topk_prob", json_true());
    if (json_integer_value(json_object_get(j, "n_routed_experts")) == 0 && !json_object_get(j, "genc_balance"))
        json_object_set_new(j, "genc_balance", json_string("none")), json_object_set_new(j, "aux_loss_alpha", json_real(0));
}

genc_status genc_lm_config_from_hf(genc_ctx *ctx, const char *text, size_t n, const char *label, genc_lm_config *c) {
    json_error_t err;
    json_t *j = json_loadb(text, n, JSON_REJECT_DUPLICATES, &err);
    if (!json_is_object(j)) {
        json_decref(j);
        return genc_error(ctx, GENC_EFORMAT, "%s: expected a JSON object: %s (line %d)", label, err.text, err.line);
    }
    genc_status s = GENC_OK;
    const char *key;
    json_t *v;
    json_object_foreach(j, key, v) {
        if (!s && !in(key, CONFIG_KEYS, N_OF(CONFIG_KEYS)) && !in(key, INERT_KEYS, N_OF(INERT_KEYS)))
            s = genc_error(ctx, GENC_EFORMAT, "%s: unknown key \"%.80s\": genc cannot tell whether it changes the model",
                           label, key);
    }
    const char *mt = json_string_value(json_object_get(j, "model_type"));
    if (!s && mt && strcmp(mt, "deepseek_v3") && strcmp(mt, "deepseek_v2"))
        s = genc_error(ctx, GENC_EFORMAT, "%s: model_type \"%.40s\": expected deepseek_v3 or deepseek_v2", label, mt);
    if (!s) s = check_values(ctx, label, j);
    if (!s) fill_defaults(j);
    char *txt = s ? NULL : json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (!s) s = txt ? genc_lm_config_parse(ctx, txt, label, c) : genc_error(ctx, GENC_ENOMEM, "out of memory");
    free(txt);
    return s;
}

static genc_status load_config(genc_ctx *ctx, const char *dir, genc_lm_config *c) {
    char path[4200];
    snprintf(path, sizeof path, "%s/config.json", dir);
    uint8_t *b;
    size_t n;
    genc_status s = genc_file_read_all(ctx, path, MAX_JSON, &b, &n);
    if (s) return s;
    s = genc_lm_config_from_hf(ctx, (const char *)b, n, path, c);
    free(b);
    return s;
}

/* ---- weights ---- */
typedef struct {
    genc_st **files;
    char **names; /* file name of each shard */
    int n;
} shards;

static void shards_free(shards *sh) {
    for (int i = 0; i < sh->n; i++) genc_st_close(sh->files[i]), free(sh->names[i]);
    free(sh->files), free(sh->names);
    memset(sh, 0, sizeof *sh);
}

static genc_status open_shard(genc_ctx *ctx, const char *dir, const char *file, shards *sh) {
    for (int i = 0; i < sh->n; i++)
        if (!strcmp(sh->names[i], file)) return GENC_OK;
    if (sh->n >= MAX_SHARDS || strchr(file, '/') || !strcmp(file, "..") || !*file)
        return genc_error(ctx, GENC_EFORMAT, "%s/model.safetensors.index.json: shard \"%.80s\" is not a file name in "
                          "the folder (or more than %d shards)", dir, file, MAX_SHARDS);
    genc_st **f = realloc(sh->files, (size_t)(sh->n + 1) * sizeof *f);
    char **nm = f ? realloc(sh->names, (size_t)(sh->n + 1) * sizeof *nm) : NULL;
    if (f) sh->files = f;
    if (nm) sh->names = nm;
    if (!f || !nm || !(sh->names[sh->n] = strdup(file))) return genc_error(ctx, GENC_ENOMEM, "out of memory");
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    genc_status s = genc_st_open(ctx, path, &sh->files[sh->n]);
    if (s) {
        free(sh->names[sh->n]);
        return s;
    }
    sh->n++;
    return GENC_OK;
}

/* model.safetensors, or every shard model.safetensors.index.json names (each must hold the
 * tensors the weight map puts there). */
static genc_status open_weights(genc_ctx *ctx, const char *dir, shards *sh) {
    char path[4200];
    snprintf(path, sizeof path, "%s/model.safetensors.index.json", dir);
    struct stat sb;
    if (stat(path, &sb) != 0) return open_shard(ctx, dir, "model.safetensors", sh);
    json_t *j;
    genc_status s = read_json(ctx, path, &j);
    if (s) return s;
    json_t *map = json_object_get(j, "weight_map"), *v;
    const char *name;
    if (!json_is_object(map)) s = genc_error(ctx, GENC_EFORMAT, "%s: expected an object \"weight_map\"", path);
    json_object_foreach(map, name, v) {
        if (s) break;
        if (!json_is_string(v)) s = genc_error(ctx, GENC_EFORMAT, "%s: weight_map[\"%.80s\"] is not a file name", path, name);
        if (!s) s = open_shard(ctx, dir, json_string_value(v), sh);
        bool found = false;
        for (int i = 0; !s && i < sh->n; i++)
            if (!strcmp(sh->names[i], json_string_value(v))) found = genc_st_find(sh->files[i], name) != NULL;
        if (!s && !found)
            s = genc_error(ctx, GENC_EFORMAT, "%s: weight_map puts \"%.80s\" in %s, which does not hold it", path, name,
                           json_string_value(v));
    }
    json_decref(j);
    return s;
}

static const genc_st_entry *find(const shards *sh, const char *name, int *which) {
    for (int i = 0; i < sh->n; i++) {
        const genc_st_entry *e = genc_st_find(sh->files[i], name);
        if (e) {
            *which = i;
            return e;
        }
    }
    return NULL;
}

/* Tensor `name` of shape (ndim, shape) into dst as float: F32/BF16/F16 converted; F8_E4M3
 * times its 128x128 block scale from "<name>_scale_inv". */
static genc_status read_weight(genc_ctx *ctx, const shards *sh, const char *name, float *dst, int ndim,
                               const int64_t *shape) {
    int w;
    const genc_st_entry *e = find(sh, name, &w);
    if (!e) return genc_error(ctx, GENC_EFORMAT, "%s: tensor \"%s\" is missing", genc_st_label(sh->files[0]), name);
    const genc_st *f = sh->files[w];
    if (e->dtype != GENC_DT_F32 && e->dtype != GENC_DT_BF16 && e->dtype != GENC_DT_F16 && e->dtype != GENC_DT_F8_E4M3)
        return genc_error(ctx, GENC_EFORMAT, "%s: %s: dtype %s, expected F32, BF16, F16 or F8_E4M3", genc_st_label(f), name,
                          genc_dtype_name(e->dtype));
    genc_status s = genc_st_read_f32(ctx, f, name, dst, ndim, shape);
    if (s || e->dtype != GENC_DT_F8_E4M3) return s;
    if (ndim != 2) return genc_error(ctx, GENC_EFORMAT, "%s: %s: F8_E4M3 only for matrices", genc_st_label(f), name);
    char sname[200];
    snprintf(sname, sizeof sname, "%s_scale_inv", name);
    int64_t bs[2] = {(shape[0] + FP8_BLOCK - 1) / FP8_BLOCK, (shape[1] + FP8_BLOCK - 1) / FP8_BLOCK};
    float *scale = malloc((size_t)(bs[0] * bs[1]) * sizeof *scale);
    if (!scale) return genc_error(ctx, GENC_ENOMEM, "out of memory");
    int ws;
    const genc_st_entry *se = find(sh, sname, &ws);
    s = se ? genc_st_read_f32(ctx, sh->files[ws], sname, scale, 2, bs)
           : genc_error(ctx, GENC_EFORMAT, "%s: F8_E4M3 tensor %s has no %s", genc_st_label(f), name, sname);
    for (int64_t r = 0; !s && r < shape[0]; r++)
        for (int64_t k = 0; k < shape[1]; k++) dst[r * shape[1] + k] *= scale[r / FP8_BLOCK * bs[1] + k / FP8_BLOCK];
    free(scale);
    return s;
}

/* DeepSeek's per-MTP-module copies must equal the shared tensor genc uses. */
static genc_status check_copy(genc_ctx *ctx, const shards *sh, const char *name, const genc_tensor *shared) {
    int w;
    if (!find(sh, name, &w)) return GENC_OK;
    size_t n = (size_t)genc_numel(shared);
    float *tmp = malloc(n * sizeof *tmp + 1);
    if (!tmp) return genc_error(ctx, GENC_ENOMEM, "out of memory");
    genc_status s = read_weight(ctx, sh, name, tmp, shared->ndim, shared->shape);
    if (!s && memcmp(tmp, shared->data, n * sizeof *tmp))
        s = genc_error(ctx, GENC_EFORMAT, "%s: %s differs from %s: genc's MTP modules share it", genc_st_label(sh->files[w]),
                       name, shared->name);
    free(tmp);
    return s;
}

/* Every tensor in the shards is a parameter, an FP8 scale or an MTP copy. */
static genc_status check_all_used(genc_ctx *ctx, const shards *sh, const genc_lm *m) {
    for (int i = 0; i < sh->n; i++)
        for (int k = 0; k < genc_st_count(sh->files[i]); k++) {
            const char *name = genc_st_at(sh->files[i], k)->name;
            size_t len = strlen(name);
            bool ok = genc_params_find(&m->params, name) != NULL;
            if (!ok && len > 10 && !strcmp(name + len - 10, "_scale_inv")) ok = true; /* read with its weight */
            int L;
            if (!ok && sscanf(name, "model.layers.%d.", &L) == 1 && L >= m->cfg.n_layers &&
                L < m->cfg.n_layers + m->cfg.mtp_depth)
                ok = strstr(name, ".embed_tokens.weight") || strstr(name, ".shared_head.norm.weight") ||
                     strstr(name, ".shared_head.head.weight");
            if (!ok)
                return genc_error(ctx, GENC_EFORMAT, "%s: tensor \"%s\" is not part of this model",
                                  genc_st_label(sh->files[i]), name);
        }
    return GENC_OK;
}

static genc_status load_weights(genc_ctx *ctx, const shards *sh, genc_lm *m) {
    genc_status s = check_all_used(ctx, sh, m);
    for (int i = 0; !s && i < m->params.n; i++) {
        genc_tensor *t = m->params.t[i];
        s = read_weight(ctx, sh, t->name, (float *)t->data, t->ndim, t->shape);
    }
    int64_t at;
    const genc_tensor *bad = s ? NULL : genc_params_nonfinite(&m->params, &at);
    if (bad)
        s = genc_error(ctx, GENC_EFORMAT, "%s: %s is not finite at index %lld", genc_st_label(sh->files[0]), bad->name,
                       (long long)at);
    for (int k = 0; !s && k < m->cfg.mtp_depth; k++) {
        char name[96];
        int L = m->cfg.n_layers + k;
        snprintf(name, sizeof name, "model.layers.%d.embed_tokens.weight", L);
        s = check_copy(ctx, sh, name, m->embed);
        snprintf(name, sizeof name, "model.layers.%d.shared_head.norm.weight", L);
        if (!s) s = check_copy(ctx, sh, name, m->final_norm);
        snprintf(name, sizeof name, "model.layers.%d.shared_head.head.weight", L);
        if (!s) s = check_copy(ctx, sh, name, m->lm_head);
    }
    return s;
}

genc_status genc_lm_load_hf(genc_ctx *ctx, const char *dir, genc_lm *m, genc_tokenizer **tok) {
    memset(m, 0, sizeof *m);
    *tok = NULL;
    genc_lm_config c;
    shards sh = {0};
    genc_status s = load_config(ctx, dir, &c);
    if (!s) s = open_weights(ctx, dir, &sh);
    int64_t values = 0;
    for (int i = 0; !s && i < sh.n; i++)
        for (int k = 0; k < genc_st_count(sh.files[i]); k++) {
            const genc_st_entry *e = genc_st_at(sh.files[i], k);
            values += (int64_t)((e->end - e->begin) / genc_dtype_size(e->dtype));
        }
    if (!s) genc_param_budget(ctx, values, dir); /* sizes from the files bound the allocation */
    if (!s) s = genc_lm_init(ctx, m, &c, 0.0);
    genc_param_budget(ctx, -1, NULL);
    if (!s) s = load_weights(ctx, &sh, m);
    shards_free(&sh);
    char path[4200];
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    if (!s) s = genc_tokenizer_load_hf(ctx, path, tok);
    if (!s && genc_tokenizer_vocab_size(*tok) > c.vocab_size)
        s = genc_error(ctx, GENC_EFORMAT, "%s: the tokenizer has %d tokens but the model only %d", path,
                       genc_tokenizer_vocab_size(*tok), c.vocab_size);
    if (s) {
        genc_tokenizer_free(*tok);
        *tok = NULL;
        genc_lm_free(m);
    }
    return s;
}
