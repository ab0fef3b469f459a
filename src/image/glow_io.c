/* Glow configs (JSON) and checkpoints: the config text, the fixed parts of each invertible
 * 1x1 convolution (P and the signs of U's diagonal) as checkpoint side-cars, and loading.
 * See include/genc/glow.h. */
#include "genc/glow.h"
#include "genc/train.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *genc_glow_config_json(const genc_glow_config *c) {
    json_t *j = json_pack("{s:s, s:i, s:i, s:i, s:i, s:i}", "model", "glow", "rows", c->rows, "cols", c->cols,
                          "levels", c->levels, "steps", c->steps, "hidden", c->hidden);
    char *s = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(j);
    return s;
}

genc_status genc_glow_config_parse(genc_ctx *ctx, const char *json, const char *label, genc_glow_config *c) {
    json_error_t err = {.text = ""};
    json_t *j = json ? json_loads(json, 0, &err) : NULL;
    const char *model = "";
    int bad = !j || json_unpack_ex(j, &err, JSON_STRICT, "{s:s, s:i, s:i, s:i, s:i, s:i}", "model", &model, "rows",
                                   &c->rows, "cols", &c->cols, "levels", &c->levels, "steps", &c->steps, "hidden",
                                   &c->hidden);
    if (!bad) bad = strcmp(model, "glow") || !genc_glow_config_ok(c);
    json_decref(j);
    if (bad)
        return genc_error(ctx, GENC_EFORMAT, "%s: metadata \"config\" is not a valid Glow config%s%s", label,
                          json ? ": " : " (missing)", json ? err.text : "");
    return GENC_OK;
}

char *genc_flow_checkpoint_model(genc_ctx *ctx, const char *path) {
    genc_st *f;
    if (genc_st_open(ctx, path, &f)) return NULL;
    const char *cfg = genc_st_meta(f, "config");
    json_t *j = cfg ? json_loads(cfg, 0, NULL) : NULL;
    const char *model = j ? json_string_value(json_object_get(j, "model")) : NULL;
    char *out = model ? strdup(model) : NULL;
    json_decref(j);
    genc_st_close(f);
    if (!out) genc_error(ctx, GENC_EFORMAT, "%s: metadata \"config\" has no \"model\" name", path);
    return out;
}

/* ---- checkpoints ---- */

genc_status genc_glow_ckpt_extra(genc_ctx *ctx, void *glow, genc_st_writer *w) {
    genc_glow *m = glow;
    char name[128];
    genc_status s = GENC_OK;
    for (int l = 0; !s && l < m->cfg.levels; l++)
        for (int k = 0; !s && k < m->cfg.steps; k++) {
            genc_glow_step *st = &m->lev[l].steps[k];
            int64_t shape[1] = {st->C};
            snprintf(name, sizeof name, "extra.level.%d.step.%d.invconv.perm", l, k);
            s = genc_st_writer_add(w, name, GENC_DT_I32, 1, shape, st->perm);
            snprintf(name, sizeof name, "extra.level.%d.step.%d.invconv.sign", l, k);
            if (!s) s = genc_st_writer_add(w, name, GENC_DT_I32, 1, shape, st->sign);
        }
    return s;
}

/* Read P and the signs; check that P is a permutation and the signs are +-1. */
static genc_status load_fixed(genc_ctx *ctx, const genc_st *f, const char *path, genc_glow_step *st, int l, int k) {
    int64_t v[2][256], shape[1] = {st->C}; /* levels <= 6 gives C <= 128 */
    char name[2][128];
    snprintf(name[0], sizeof name[0], "extra.level.%d.step.%d.invconv.perm", l, k);
    snprintf(name[1], sizeof name[1], "extra.level.%d.step.%d.invconv.sign", l, k);
    if (st->C > 256) return genc_error(ctx, GENC_EINVAL, "%s: %d channels (at most 256)", path, st->C);
    genc_status s = genc_st_read_i64(ctx, f, name[0], v[0], 1, shape);
    if (!s) s = genc_st_read_i64(ctx, f, name[1], v[1], 1, shape);
    int seen[256] = {0};
    for (int i = 0; !s && i < st->C; i++) {
        if (v[0][i] < 0 || v[0][i] >= st->C || seen[v[0][i]]++ || (v[1][i] != 1 && v[1][i] != -1))
            return genc_error(ctx, GENC_EFORMAT, "%s: %s / %s: not a permutation of 0..%d and signs +-1", path, name[0],
                              name[1], st->C - 1);
        st->perm[i] = (int32_t)v[0][i], st->sign[i] = (int32_t)v[1][i];
    }
    return s;
}

genc_status genc_glow_load(genc_ctx *ctx, const char *path, genc_glow *m) {
    genc_st *f;
    memset(m, 0, sizeof *m);
    genc_status s = genc_st_open(ctx, path, &f);
    if (s) return s;
    genc_glow_config c;
    s = genc_glow_config_parse(ctx, genc_st_meta(f, "config"), path, &c);
    if (!s) genc_checkpoint_param_budget(ctx, f);
    if (!s) s = genc_glow_init(ctx, m, &c);
    genc_param_budget(ctx, -1, NULL);
    if (!s) s = genc_checkpoint_load(ctx, f, &m->params, NULL, NULL);
    for (int l = 0; !s && l < c.levels; l++)
        for (int k = 0; !s && k < c.steps; k++) s = load_fixed(ctx, f, path, &m->lev[l].steps[k], l, k);
    if (s && m->lev) genc_glow_free(m);
    genc_st_close(f);
    return s;
}
