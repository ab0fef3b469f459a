/* What a file is (genc info FILE|DIR, genc_info_print in genc/info.h), for every kind genc reads or writes: checkpoints of
 * each family (language model, diffusion/rectified flow, NICE/Glow, classifier), prefix
 * files, tokenizers, exported weights, GGUF files and Hugging Face folders (a run folder
 * is described by its checkpoint). Prints family, config, parameter count, dtypes, step,
 * tokenizer and size by part; a file it cannot read is one error line. */
#include "genc/info.h"
#include "genc/gguf.h"
#include "genc/safetensors.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_DTYPES 8

static void print_size(const char *what, uint64_t bytes) {
    if (bytes >= (1u << 20)) printf("  %-22s %.2f MB\n", what, (double)bytes / (1 << 20));
    else printf("  %-22s %.1f KB\n", what, (double)bytes / 1024);
}

static void print_count(const char *what, int64_t n) {
    char buf[32], out[48];
    int len = snprintf(buf, sizeof buf, "%lld", (long long)n), o = 0;
    for (int i = 0; i < len; i++) { /* thousands separators */
        out[o++] = buf[i];
        if ((len - i - 1) % 3 == 0 && i < len - 1) out[o++] = ',';
    }
    out[o] = 0;
    printf("%s: %s\n", what, out);
}

/* ---- safetensors (genc files, exported weights) ---- */

static const char *family_of(const genc_st *st, json_t *cfg) {
    const char *fmt = genc_st_meta(st, "format");
    if (fmt && !strcmp(fmt, "genc-prefix-1")) return "prefix-tuning prefix (genc lm prefix-tune)";
    if (!cfg) {
        if (genc_st_meta(st, "tokenizer") && genc_st_count(st) == 1) return "tokenizer (byte-level BPE)";
        if (fmt && !strcmp(fmt, "pt")) return "weights (PyTorch-format safetensors, e.g. an HF model.safetensors)";
        return "safetensors file (no genc config)";
    }
    const char *mt = json_string_value(json_object_get(cfg, "model_type"));
    const char *fam = json_string_value(json_object_get(cfg, "family"));
    const char *model = json_string_value(json_object_get(cfg, "model"));
    const char *arch = json_string_value(json_object_get(cfg, "arch"));
    if (mt && !strcmp(mt, "deepseek_v3")) return "language model (DeepSeek-V3 architecture: MLA, DeepSeekMoE, MTP)";
    if (fam && !strcmp(fam, "diffusion")) return "diffusion / rectified-flow model (U-Net)";
    if (model && (!strcmp(model, "nice") || !strcmp(model, "glow"))) return "normalising flow";
    if (arch) return "image classifier";
    return "genc checkpoint (unknown family)";
}

typedef struct {
    int64_t params, moments;
    uint64_t b_params, b_moments, b_tok, b_other;
    int n_dt[MAX_DTYPES + 1];
} st_tally;

static void tally(const genc_st *st, st_tally *t) {
    for (int i = 0; i < genc_st_count(st); i++) {
        const genc_st_entry *e = genc_st_at(st, i);
        uint64_t bytes = e->end - e->begin;
        int64_t n = (int64_t)(bytes / genc_dtype_size(e->dtype));
        t->n_dt[e->dtype <= MAX_DTYPES ? e->dtype : MAX_DTYPES]++;
        if (!strncmp(e->name, "optim.", 6)) t->moments += n, t->b_moments += bytes;
        else if (!strncmp(e->name, "tokenizer.", 10)) t->b_tok += bytes;
        else if (!strncmp(e->name, "extra.", 6)) t->b_other += bytes;
        else t->params += n, t->b_params += bytes;
    }
}

static void print_dtypes(const int *n_dt) {
    printf("dtypes:");
    for (int d = 0; d < MAX_DTYPES; d++)
        if (n_dt[d]) printf(" %s x%d", genc_dtype_name((genc_dtype)d), n_dt[d]);
    printf("\n");
}

static void print_json_meta(const genc_st *st, const char *key, const char *label) {
    const char *v = genc_st_meta(st, key);
    if (v) printf("%s: %s\n", label, v);
}

static genc_status info_safetensors(genc_ctx *ctx, const char *path, uint64_t size) {
    genc_st *st;
    genc_status s = genc_st_open(ctx, path, &st);
    if (s) return s;
    json_t *cfg = genc_st_meta(st, "config") ? json_loads(genc_st_meta(st, "config"), 0, NULL) : NULL;
    printf("file: %s (safetensors, %llu bytes)\n", path, (unsigned long long)size);
    printf("kind: %s\n", family_of(st, cfg));
    const char *fmt = genc_st_meta(st, "format");
    if (fmt) printf("format: %s\n", fmt);
    print_json_meta(st, "config", "config");
    print_json_meta(st, "base_config", "base model config");
    st_tally t = {0};
    tally(st, &t);
    print_count("parameters", t.params);
    print_dtypes(t.n_dt);
    json_t *ts = genc_st_meta(st, "train_state") ? json_loads(genc_st_meta(st, "train_state"), 0, NULL) : NULL;
    if (ts) printf("step: %lld (training checkpoint: resumable)\n", (long long)json_integer_value(json_object_get(ts, "step")));
    else printf("step: none (weights only)\n");
    print_json_meta(st, "optim", "optimiser");
    print_json_meta(st, "tokenizer", "tokenizer");
    printf("size by part:\n");
    print_size("parameters", t.b_params);
    if (t.b_moments) print_size("optimiser moments", t.b_moments);
    if (t.b_tok) print_size("tokenizer", t.b_tok);
    if (t.b_other) print_size("extra state", t.b_other);
    print_size("header and padding", size - t.b_params - t.b_moments - t.b_tok - t.b_other);
    json_decref(cfg), json_decref(ts);
    genc_st_close(st);
    return GENC_OK;
}

/* ---- GGUF ---- */

static void print_gguf_scalar(const genc_gguf *g, const genc_gguf_kv *kv) {
    int64_t iv;
    float fv;
    bool bv;
    size_t len;
    const char *sv;
    if (kv->type == GENC_GGUF_STRING && (sv = genc_gguf_get_str(g, kv->key, &len)))
        printf("  %s = \"%.*s\"\n", kv->key, (int)(len < 80 ? len : 80), sv);
    else if (genc_gguf_get_bool(g, kv->key, &bv)) printf("  %s = %s\n", kv->key, bv ? "true" : "false");
    else if (genc_gguf_get_f32(g, kv->key, &fv)) printf("  %s = %g\n", kv->key, fv);
    else if (genc_gguf_get_int(g, kv->key, &iv)) printf("  %s = %lld\n", kv->key, (long long)iv);
    else if (kv->type == GENC_GGUF_ARRAY) printf("  %s = [%llu items]\n", kv->key, (unsigned long long)kv->n);
}

static genc_status info_gguf(genc_ctx *ctx, const char *path, uint64_t size) {
    genc_gguf *g;
    genc_status s = genc_gguf_open(ctx, path, &g);
    if (s) return s;
    size_t len = 0;
    const char *arch = genc_gguf_get_str(g, "general.architecture", &len);
    printf("file: %s (GGUF v%u, %llu bytes)\n", path, genc_gguf_version(g), (unsigned long long)size);
    if (arch) printf("kind: %.*s model for llama.cpp\n", (int)len, arch);
    else printf("kind: GGUF file without general.architecture\n");
    printf("config (%d keys):\n", genc_gguf_kv_count(g));
    for (int i = 0; i < genc_gguf_kv_count(g); i++) {
        const genc_gguf_kv *kv = genc_gguf_kv_at(g, i);
        if (strncmp(kv->key, "tokenizer.", 10)) print_gguf_scalar(g, kv);
    }
    int64_t params = 0;
    uint64_t b_embd = 0, b_blk = 0, b_other = 0;
    int n_type[3] = {0};
    for (int i = 0; i < genc_gguf_tensor_count(g); i++) {
        const genc_gguf_tensor *t = genc_gguf_tensor_at(g, i);
        params += t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3];
        n_type[t->type == GENC_GGML_F32 ? 0 : t->type == GENC_GGML_F16 ? 1 : 2]++;
        if (!strncmp(t->name, "blk.", 4)) b_blk += t->nbytes;
        else if (!strncmp(t->name, "token_embd", 10) || !strncmp(t->name, "output.", 7)) b_embd += t->nbytes;
        else b_other += t->nbytes;
    }
    print_count("parameters", params);
    printf("tensors: %d (F32 x%d, F16 x%d, Q8_0 x%d)\n", genc_gguf_tensor_count(g), n_type[0], n_type[1], n_type[2]);
    printf("step: none (weights only)\n");
    const genc_gguf_kv *toks = genc_gguf_find_kv(g, "tokenizer.ggml.tokens");
    const genc_gguf_kv *merges = genc_gguf_find_kv(g, "tokenizer.ggml.merges");
    size_t pre_len = 0;
    const char *tm = genc_gguf_get_str(g, "tokenizer.ggml.model", &len);
    const char *pre = genc_gguf_get_str(g, "tokenizer.ggml.pre", &pre_len);
    if (tm) printf("tokenizer: %.*s (pre-tokenizer %.*s), %llu tokens, %llu merges\n", (int)len, tm,
                   pre ? (int)pre_len : 4, pre ? pre : "none", (unsigned long long)(toks ? toks->n : 0),
                   (unsigned long long)(merges ? merges->n : 0));
    else printf("tokenizer: none\n");
    printf("size by part:\n");
    print_size("embedding and head", b_embd);
    print_size("blocks", b_blk);
    if (b_other) print_size("norms and other", b_other);
    print_size("header and padding", size - b_embd - b_blk - b_other);
    genc_gguf_close(g);
    return GENC_OK;
}

/* ---- Hugging Face folders ---- */

static genc_status info_hf(genc_ctx *ctx, const char *dir) {
    char path[4200];
    snprintf(path, sizeof path, "%s/config.json", dir);
    json_error_t err;
    json_t *cfg = json_load_file(path, JSON_REJECT_DUPLICATES, &err);
    if (!json_is_object(cfg)) {
        json_decref(cfg);
        return genc_error(ctx, GENC_EFORMAT, "%s: expected a JSON object: %s", path, err.text);
    }
    char *txt = json_dumps(cfg, JSON_COMPACT | JSON_PRESERVE_ORDER);
    printf("file: %s (Hugging Face folder)\n", dir);
    const char *mt = json_string_value(json_object_get(cfg, "model_type"));
    printf("kind: %s model%s\n", mt ? mt : "unknown", json_object_get(cfg, "quantization_config") ? " (FP8 128x128 blocks)" : "");
    printf("config: %s\n", txt ? txt : "?");
    free(txt);
    json_decref(cfg);
    snprintf(path, sizeof path, "%s/model.safetensors.index.json", dir);
    json_t *idx = json_load_file(path, 0, NULL);
    json_t *files = json_object();
    if (idx) {
        const char *k;
        json_t *v;
        json_object_foreach(json_object_get(idx, "weight_map"), k, v) if (json_is_string(v)) json_object_set(files, json_string_value(v), json_true());
    } else {
        json_object_set_new(files, "model.safetensors", json_true());
    }
    json_decref(idx);
    st_tally t = {0};
    genc_status s = GENC_OK;
    const char *fname;
    json_t *unused;
    json_object_foreach(files, fname, unused) {
        genc_st *st;
        snprintf(path, sizeof path, "%s/%s", dir, fname);
        if (!s && !(s = genc_st_open(ctx, path, &st))) tally(st, &t), genc_st_close(st);
    }
    if (!s) {
        print_count("parameters (with MTP copies and FP8 scales)", t.params);
        print_dtypes(t.n_dt);
        printf("shards: %d\nstep: none (weights only)\n", (int)json_object_size(files));
        snprintf(path, sizeof path, "%s/tokenizer.json", dir);
        json_t *tj = json_load_file(path, 0, NULL);
        json_t *model = json_object_get(tj, "model");
        if (tj) printf("tokenizer: %s, %zu tokens, %zu merges\n", json_string_value(json_object_get(model, "type")),
                       json_object_size(json_object_get(model, "vocab")), json_array_size(json_object_get(model, "merges")));
        else printf("tokenizer: none (no tokenizer.json)\n");
        json_decref(tj);
        printf("size by part:\n");
        print_size("weights", t.b_params + t.b_moments + t.b_other);
    }
    json_decref(files);
    return s;
}

genc_status genc_info_print(genc_ctx *ctx, const char *path) {
    struct stat sb;
    if (stat(path, &sb) != 0) return genc_error(ctx, GENC_EIO, "%s: no such file or folder", path);
    if (S_ISDIR(sb.st_mode)) {
        char sub[4200];
        snprintf(sub, sizeof sub, "%s/config.json", path);
        if (stat(sub, &sb) == 0) return info_hf(ctx, path);
        snprintf(sub, sizeof sub, "%s/checkpoint.safetensors", path); /* a training run's --out folder */
        if (stat(sub, &sb) == 0 && S_ISREG(sb.st_mode)) return info_safetensors(ctx, sub, (uint64_t)sb.st_size);
        return genc_error(ctx, GENC_EINVAL, "%s: a folder without config.json (Hugging Face) or checkpoint.safetensors "
                          "(genc run)", path);
    }
    FILE *f = S_ISREG(sb.st_mode) ? fopen(path, "rb") : NULL;
    unsigned char magic[8] = {0};
    size_t n = f ? fread(magic, 1, 8, f) : 0;
    if (f) fclose(f);
    if (!S_ISREG(sb.st_mode)) return genc_error(ctx, GENC_EINVAL, "%s: expected a regular file or a folder", path);
    if (n >= 4 && !memcmp(magic, "GGUF", 4)) return info_gguf(ctx, path, (uint64_t)sb.st_size);
    return info_safetensors(ctx, path, (uint64_t)sb.st_size);
}
