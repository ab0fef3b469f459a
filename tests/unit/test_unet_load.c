/* Opening U-Net checkpoints (src/image/unet_io.c): the flat config and a diffusion checkpoint
 * of `genc image train` (config nested under "unet", EMA weights as "extra.ema.<name>") both
 * load; ema=true gives the EMA tensors exactly, ema=false (and genc_unet_load) the raw ones;
 * a flat checkpoint with ema=true gives its raw weights; genc_unet_ema_read into buffers;
 * which form genc_unet_config_from_meta saw; one-line errors naming the file for a foreign
 * config, a diffusion config without "unet" or with a bad one, no config, and EMA tensors for
 * only some parameters; genc_diff_config_parse round trip and refusals (betas included). The
 * CLI's own loading through these is tests/e2e/test_image_diffusion.sh. */
#include "genc/genc.h"
#include "genc/train.h"
#include "genc/unet.h"
#include "test.h"

#include <stdlib.h>
#include <unistd.h>

static genc_unet_config tiny(void) {
    genc_unet_config c = genc_unet_defaults();
    c.rows = c.cols = 8, c.base = 8, c.levels = 2, c.mult[0] = 1, c.mult[1] = 2, c.res_blocks = 1, c.groups = 4;
    c.attn_heads = 2, c.classes = 3, c.dropout = 0;
    return c;
}

/* The EMA value this test writes for element k of parameter i (differs from every raw value's
 * init range at least somewhere). */
static float ema_value(int i, int64_t k) { return 0.25f + 0.001f * (float)i - 0.0005f * (float)(k % 7); }

typedef struct {
    const genc_params *p;
    int count; /* parameters that get an EMA tensor (all, or fewer for the partial case) */
} ema_job;

static genc_status write_ema(genc_ctx *ctx, void *user, genc_st_writer *w) {
    ema_job *e = user;
    char name[160];
    for (int i = 0; i < e->count; i++) {
        const genc_tensor *t = e->p->t[i];
        int64_t n = genc_numel(t);
        float *v = malloc((size_t)n * sizeof *v);
        for (int64_t k = 0; v && k < n; k++) v[k] = ema_value(i, k);
        snprintf(name, sizeof name, "extra.ema.%s", t->name);
        genc_status s = v ? genc_st_writer_add_f32(w, name, GENC_DT_F32, t->ndim, t->shape, v) : GENC_ENOMEM;
        free(v);
        if (s) return s;
    }
    (void)ctx;
    return GENC_OK;
}

/* The config metadata of `genc image train` (genc_diff_config_json). */
static genc_diff_config diffusion_config(const genc_unet_config *c) {
    genc_diff_config d = {.model = "ddpm", .stage = "base", .reflow = 1, .unet = *c, .beta = GENC_BETA_LINEAR,
                          .T = 100, .beta_start = 1e-4, .beta_end = 0.02, .pred = GENC_PRED_EPS, .cond_drop = 0.1};
    return d;
}
static char *diffusion_json(const genc_unet_config *c) {
    genc_diff_config d = diffusion_config(c);
    return genc_diff_config_json(&d);
}

static void save(genc_ctx *ctx, const char *path, const genc_unet *m, const char *cfg, int ema_count) {
    ema_job e = {&m->params, ema_count};
    CHECK(genc_checkpoint_save(ctx, path, &m->params, NULL, cfg, NULL, ema_count ? write_ema : NULL, &e) == GENC_OK);
}

/* Whether every parameter of l equals m's (raw) or the EMA values written above. */
static bool same_raw(const genc_unet *l, const genc_unet *m) {
    if (l->params.n != m->params.n) return false;
    for (int i = 0; i < m->params.n; i++)
        if (memcmp(l->params.t[i]->data, m->params.t[i]->data, (size_t)genc_numel(m->params.t[i]) * sizeof(genc_real)))
            return false;
    return true;
}
static bool same_ema(const genc_unet *l) {
    for (int i = 0; i < l->params.n; i++)
        for (int64_t k = 0; k < genc_numel(l->params.t[i]); k++)
            if (l->params.t[i]->data[k] != (genc_real)ema_value(i, k)) return false;
    return l->params.n > 0;
}

/* Configs compared through their JSON (the struct has padding). */
static bool same_config(const genc_unet_config *a, const genc_unet_config *b) {
    char *x = genc_unet_config_json(a), *y = genc_unet_config_json(b);
    bool same = x && y && !strcmp(x, y);
    free(x), free(y);
    return same;
}

static void test_diffusion_checkpoint(genc_ctx *ctx, const genc_unet *m, const char *path) {
    char *cfg = diffusion_json(&m->cfg);
    save(ctx, path, m, cfg, m->params.n);
    free(cfg);
    genc_unet l;
    CHECK(genc_unet_load_ex(ctx, path, true, &l) == GENC_OK);
    CHECK(same_ema(&l) && !same_raw(&l, m));
    CHECK(same_config(&l.cfg, &m->cfg));
    genc_unet_free(&l);
    CHECK(genc_unet_load_ex(ctx, path, false, &l) == GENC_OK && same_raw(&l, m));
    genc_unet_free(&l);
    CHECK(genc_unet_load(ctx, path, &l) == GENC_OK && same_raw(&l, m));
    genc_unet_free(&l);

    genc_st *f = NULL;
    bool loaded = false, found = false;
    CHECK(genc_st_open(ctx, path, &f) == GENC_OK);
    CHECK(genc_unet_load_st(ctx, f, path, true, &l, &loaded) == GENC_OK && loaded && same_ema(&l));
    float **dst = calloc((size_t)l.params.n, sizeof *dst);
    for (int i = 0; i < l.params.n; i++) dst[i] = calloc((size_t)genc_numel(l.params.t[i]), sizeof **dst);
    genc_real before = m->params.t[0]->data[3];
    CHECK(genc_unet_ema_read(ctx, f, &m->params, dst, &found) == GENC_OK && found);
    CHECK(dst[0][3] == ema_value(0, 3) && dst[l.params.n - 1][0] == ema_value(l.params.n - 1, 0));
    CHECK(m->params.t[0]->data[3] == before && before != (genc_real)ema_value(0, 3)); /* into dst only */
    for (int i = 0; i < l.params.n; i++) free(dst[i]);
    free(dst);
    genc_unet_free(&l);
    genc_st_close(f);
}

static void test_flat_checkpoint(genc_ctx *ctx, const genc_unet *m, const char *path) {
    char *cfg = genc_unet_config_json(&m->cfg);
    save(ctx, path, m, cfg, 0);
    free(cfg);
    genc_unet l;
    CHECK(genc_unet_load_ex(ctx, path, true, &l) == GENC_OK && same_raw(&l, m)); /* no EMA: raw */
    genc_unet_free(&l);
    genc_st *f = NULL;
    bool loaded = true, found = true;
    CHECK(genc_st_open(ctx, path, &f) == GENC_OK);
    CHECK(genc_unet_load_st(ctx, f, path, true, &l, &loaded) == GENC_OK && !loaded && same_raw(&l, m));
    CHECK(genc_unet_ema_read(ctx, f, &l.params, NULL, &found) == GENC_OK && !found && same_raw(&l, m));
    genc_unet_free(&l);
    genc_st_close(f);
}

static void test_config_forms(genc_ctx *ctx, const genc_unet_config *c) {
    genc_unet_config d;
    bool diffusion = true;
    char *flat = genc_unet_config_json(c), *nested = diffusion_json(c);
    CHECK(genc_unet_config_from_meta(ctx, flat, "a", &d, &diffusion) == GENC_OK && !diffusion);
    CHECK(same_config(&d, c));
    CHECK(genc_unet_config_from_meta(ctx, nested, "a", &d, &diffusion) == GENC_OK && diffusion);
    CHECK(same_config(&d, c));
    free(flat), free(nested);
    struct { const char *json, *msg; } bad[] = {
        {"{\"family\":\"lm\",\"model\":\"deepseek\"}", "f.st: metadata \"config\" is neither a U-Net config"},
        {"{\"kind\":\"nice\"}", "neither a U-Net config (\"model\":\"unet\") nor a diffusion checkpoint config"},
        {"{\"family\":\"diffusion\",\"model\":\"ddpm\"}", "f.st: diffusion checkpoint config has no \"unet\" object"},
        {"{\"family\":\"diffusion\",\"unet\":{\"model\":\"unet\",\"rows\":8}}", "f.st: metadata \"config\" is not a valid U-Net config"},
        {"[1, 2", "f.st: metadata \"config\" is not a valid U-Net config"},
        {NULL, "f.st: metadata \"config\" is not a valid U-Net config (missing)"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        CHECK_MSG(genc_unet_config_from_meta(ctx, bad[i].json, "f.st", &d, NULL) == GENC_EFORMAT, "bad config %zu", i);
        CHECK_MSG(strstr(genc_last_error(ctx), bad[i].msg) && !strchr(genc_last_error(ctx), '\n'), "%zu: %s", i,
                  genc_last_error(ctx));
        genc_clear_error(ctx);
    }
}

/* genc_diff_config_parse: the written config parses back field for field; each refusal is one
 * line naming the label. */
static void test_diffusion_config(genc_ctx *ctx, const genc_unet_config *c) {
    genc_diff_config a = diffusion_config(c), b;
    a.beta = GENC_BETA_COSINE, a.pred = GENC_PRED_V, a.T = 1000, a.beta_start = 0.25, a.cond_drop = 0;
    char *j = genc_diff_config_json(&a);
    CHECK(j && genc_diff_config_parse(ctx, j, "d.st", &b) == GENC_OK);
    CHECK(!strcmp(b.model, "ddpm") && !strcmp(b.stage, "base") && b.reflow == 1 && b.beta == GENC_BETA_COSINE);
    CHECK(b.T == 1000 && b.beta_start == 0.25 && b.beta_end == 0.02 && b.pred == GENC_PRED_V && b.cond_drop == 0);
    CHECK(same_config(&b.unet, c));
    free(j);
    genc_diff_config r = diffusion_config(c);
    snprintf(r.model, sizeof r.model, "rflow"), snprintf(r.stage, sizeof r.stage, "reflow"), r.reflow = 2;
    j = genc_diff_config_json(&r);
    CHECK(j && genc_diff_config_parse(ctx, j, "d.st", &b) == GENC_OK && !strcmp(b.model, "rflow") && b.reflow == 2);
    free(j);
    char *u = genc_unet_config_json(c), buf[2048];
    const char *rest = "\"schedule\":\"linear\",\"beta_start\":0.0001,\"beta_end\":0.02,\"cond_drop\":0";
    struct { const char *head, *tail, *msg; } bad[] = {
        {"\"family\":\"diffusion\",\"model\":\"gan\",\"stage\":\"base\",\"reflow\":1,", ",\"T\":10,\"prediction\":\"epsilon\",",
         "d.st: config: expected family \"diffusion\", model \"ddpm\" or \"rflow\" and a stage of at most 7 characters, "
         "found \"diffusion\", \"gan\", \"base\""},
        {"\"family\":\"diffusion\",\"model\":\"ddpm\",\"stage\":\"base\",\"reflow\":1,", ",\"T\":0,\"prediction\":\"epsilon\",",
         "d.st: config: diffusion: T must be in 1..100000, got 0"},
        {"\"family\":\"diffusion\",\"model\":\"rflow\",\"stage\":\"base\",\"reflow\":0,", ",\"T\":10,\"prediction\":\"epsilon\",",
         "d.st: config: expected T in 1..100000, reflow >= 1 and cond_drop in [0, 1], found 10, 0, 0"},
        {"\"family\":\"diffusion\",\"model\":\"ddpm\",\"stage\":\"base\",", ",\"T\":10,\"prediction\":\"epsilon\",",
         "d.st: not a genc diffusion checkpoint config: "}, /* no "reflow" */
        {"\"family\":\"diffusion\",\"model\":\"ddpm\",\"stage\":\"base\",\"reflow\":1,\"extra\":1,", ",\"T\":10,\"prediction\":\"epsilon\",",
         "d.st: not a genc diffusion checkpoint config: "},
        {"\"family\":\"diffusion\",\"model\":\"ddpm\",\"stage\":\"base\",\"reflow\":1,", ",\"T\":10,\"prediction\":\"psielon\",",
         "d.st: config: unknown prediction type 'psielon'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        snprintf(buf, sizeof buf, "{%s\"unet\":%s%s%s}", bad[i].head, u, bad[i].tail, rest);
        CHECK_MSG(genc_diff_config_parse(ctx, buf, "d.st", &b) == GENC_EFORMAT, "bad diffusion config %zu", i);
        CHECK_MSG(strstr(genc_last_error(ctx), bad[i].msg) && !strchr(genc_last_error(ctx), '\n'), "%zu: %s", i,
                  genc_last_error(ctx));
        genc_clear_error(ctx);
    }
    genc_diff_config hot = diffusion_config(c); /* impossible betas: refused for ddpm, ignored by rflow */
    hot.beta_end = 2;
    j = genc_diff_config_json(&hot);
    CHECK(genc_diff_config_parse(ctx, j, "d.st", &b) == GENC_EFORMAT);
    CHECK_MSG(strstr(genc_last_error(ctx), "d.st: config: diffusion: betas must satisfy"), "%s", genc_last_error(ctx));
    genc_clear_error(ctx);
    free(j);
    snprintf(hot.model, sizeof hot.model, "rflow");
    j = genc_diff_config_json(&hot);
    CHECK(genc_diff_config_parse(ctx, j, "d.st", &b) == GENC_OK);
    free(j);
    CHECK(genc_diff_config_parse(ctx, NULL, "d.st", &b) == GENC_EFORMAT);
    CHECK_MSG(strstr(genc_last_error(ctx), "d.st: not a genc diffusion checkpoint config (no config metadata)"), "%s",
              genc_last_error(ctx));
    genc_clear_error(ctx);
    free(u);
}

static void test_bad_files(genc_ctx *ctx, const genc_unet *m, const char *path) {
    genc_unet l;
    save(ctx, path, m, "{\"family\":\"lm\",\"model\":\"deepseek\"}", 0);
    CHECK(genc_unet_load_ex(ctx, path, true, &l) == GENC_EFORMAT && l.res == NULL);
    CHECK_MSG(strstr(genc_last_error(ctx), path) && strstr(genc_last_error(ctx), "neither"), "%s", genc_last_error(ctx));
    genc_clear_error(ctx);
    char *cfg = diffusion_json(&m->cfg);
    save(ctx, path, m, cfg, 2); /* EMA tensors for the first two parameters only */
    free(cfg);
    CHECK(genc_unet_load_ex(ctx, path, true, &l) != GENC_OK && l.res == NULL);
    CHECK_MSG(strstr(genc_last_error(ctx), "extra.ema."), "%s", genc_last_error(ctx));
    genc_clear_error(ctx);
    CHECK(genc_unet_load_ex(ctx, path, false, &l) == GENC_OK && same_raw(&l, m)); /* raw: the EMA is not read */
    genc_unet_free(&l);
    CHECK(genc_unet_load_ex(ctx, "/nonexistent/unet.safetensors", true, &l) != GENC_OK);
    CHECK(strstr(genc_last_error(ctx), "/nonexistent/unet.safetensors") != NULL);
    genc_clear_error(ctx);
}

int main(void) {
    genc_ctx *ctx = genc_ctx_new();
    genc_set_threads(ctx, 1);
    genc_rng_seed(ctx, 7);
    genc_unet_config c = tiny();
    genc_unet m;
    CHECK(genc_unet_init(ctx, &m, &c) == GENC_OK);
    char path[64];
    snprintf(path, sizeof path, "/tmp/genc_test_unet_load_%d.safetensors", (int)getpid());
    test_config_forms(ctx, &c);
    test_diffusion_config(ctx, &c);
    test_diffusion_checkpoint(ctx, &m, path);
    test_flat_checkpoint(ctx, &m, path);
    test_bad_files(ctx, &m, path);
    unlink(path);
    genc_unet_free(&m);
    genc_ctx_free(ctx);
    return test_report("test_unet_load");
}
