/* Opening U-Net checkpoints (include/genc/unet.h): the flat U-Net config genc.UNet.save and
 * genc_unet_config_json write, or a diffusion checkpoint of `genc image train --model
 * ddpm|rflow` (config nested under "unet", EMA weights as "extra.ema.<name>"). The one reader
 * of those EMA tensors: the CLI's model loading and resuming use it too. */
#include "genc/train.h"
#include "genc/unet.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/* The "unet" object of a diffusion config as JSON text (caller frees), or NULL with an error. */
static char *nested_unet_json(genc_ctx *ctx, json_t *j, const char *label) {
    json_t *u = json_object_get(j, "unet");
    if (!json_is_object(u)) {
        genc_error(ctx, GENC_EFORMAT, "%s: diffusion checkpoint config has no \"unet\" object", label);
        return NULL;
    }
    char *s = json_dumps(u, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17));
    if (!s) genc_error(ctx, GENC_ENOMEM, "out of memory");
    return s;
}

genc_status genc_unet_config_from_meta(genc_ctx *ctx, const char *json, const char *label, genc_unet_config *c,
                                       bool *diffusion) {
    json_t *j = json ? json_loads(json, 0, NULL) : NULL;
    const char *family = json_string_value(json_object_get(j, "family"));
    const char *model = json_string_value(json_object_get(j, "model"));
    bool nested = family && !strcmp(family, "diffusion");
    if (diffusion) *diffusion = nested;
    genc_status s;
    if (!json_is_object(j) || (!nested && model && !strcmp(model, "unet"))) {
        /* missing, not JSON, or the flat form: its parser has the messages */
        s = genc_unet_config_parse(ctx, json, label, c);
    } else if (nested) {
        char *u = nested_unet_json(ctx, j, label);
        s = u ? genc_unet_config_parse(ctx, u, label, c) : genc_ctx_status(ctx);
        free(u);
    } else {
        s = genc_error(ctx, GENC_EFORMAT,
                       "%s: metadata \"config\" is neither a U-Net config (\"model\":\"unet\") nor a diffusion "
                       "checkpoint config (\"family\":\"diffusion\"); found family \"%s\", model \"%s\"",
                       label, family ? family : "", model ? model : "");
    }
    json_decref(j);
    return s;
}

genc_status genc_unet_ema_read(genc_ctx *ctx, const genc_st *f, const genc_params *p, float **dst, bool *found) {
    char name[160];
    snprintf(name, sizeof name, "extra.ema.%s", p->n ? p->t[0]->name : "");
    *found = genc_st_find(f, name) != NULL;
    for (int i = 0; *found && i < p->n; i++) {
        genc_tensor *t = p->t[i];
        snprintf(name, sizeof name, "extra.ema.%s", t->name);
        int64_t n = genc_numel(t);
        float *buf = dst ? dst[i] : malloc((size_t)n * sizeof *buf);
        if (!buf) return genc_error(ctx, GENC_ENOMEM, "out of memory");
        genc_status s = genc_st_read_f32(ctx, f, name, buf, t->ndim, t->shape);
        if (!dst) {
            for (int64_t k = 0; !s && k < n; k++) t->data[k] = (genc_real)buf[k];
            free(buf);
        }
        if (s) return s;
    }
    return GENC_OK;
}

genc_status genc_unet_load_st(genc_ctx *ctx, const genc_st *f, const char *label, bool ema, genc_unet *m,
                              bool *ema_loaded) {
    memset(m, 0, sizeof *m);
    bool found = false;
    genc_unet_config c;
    genc_status s = genc_unet_config_from_meta(ctx, genc_st_meta(f, "config"), label, &c, NULL);
    if (!s) genc_checkpoint_param_budget(ctx, f);
    if (!s) s = genc_unet_init(ctx, m, &c);
    genc_param_budget(ctx, -1, NULL);
    if (!s) s = genc_checkpoint_load(ctx, f, &m->params, NULL, NULL);
    if (!s && ema) s = genc_unet_ema_read(ctx, f, &m->params, NULL, &found);
    if (s && m->res) genc_unet_free(m);
    if (ema_loaded) *ema_loaded = !s && found;
    return s;
}

genc_status genc_unet_load_ex(genc_ctx *ctx, const char *path, bool ema, genc_unet *m) {
    genc_st *f;
    memset(m, 0, sizeof *m);
    genc_status s = genc_st_open(ctx, path, &f);
    if (s) return s;
    s = genc_unet_load_st(ctx, f, path, ema, m, NULL);
    genc_st_close(f);
    return s;
}

genc_status genc_unet_load(genc_ctx *ctx, const char *path, genc_unet *m) {
    return genc_unet_load_ex(ctx, path, false, m);
}

genc_status genc_unet_open(genc_ctx *ctx, const char *path, bool ema, genc_unet *m, bool *ema_loaded, char **config) {
    genc_st *f;
    *config = NULL;
    genc_status s = genc_st_open(ctx, path, &f);
    if (s) return s;
    const char *meta = genc_st_meta(f, "config");
    s = genc_unet_load_st(ctx, f, path, ema, m, ema_loaded);
    if (!s && meta && !(*config = strdup(meta))) s = genc_error(ctx, GENC_ENOMEM, "out of memory");
    if (s && m->res) genc_unet_free(m);
    genc_st_close(f);
    return s;
}

genc_status genc_unet_save(genc_ctx *ctx, const char *path, const genc_unet *m) {
    char *cfg = genc_unet_config_json(&m->cfg);
    if (!cfg) return genc_error(ctx, GENC_ENOMEM, "out of memory");
    genc_train_state st = {0};
    genc_status s = genc_checkpoint_save(ctx, path, &m->params, NULL, cfg, &st, NULL, NULL);
    free(cfg);
    return s;
}
