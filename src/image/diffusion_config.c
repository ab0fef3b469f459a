/* The "config" metadata of diffusion and rectified-flow checkpoints (`genc image train --model
 * ddpm|rflow`; include/genc/unet.h, genc_diff_config): the U-Net config nested under "unet",
 * the noise schedule, the prediction type and the training stage, written as compact JSON and
 * read back with every field checked (JSON_STRICT: an unknown or missing key is an error). */
#include "genc/unet.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *genc_diff_config_json(const genc_diff_config *c) {
    char *u = genc_unet_config_json(&c->unet);
    json_t *unet = u ? json_loads(u, 0, NULL) : NULL;
    free(u);
    json_t *j = unet ? json_pack("{s:s, s:s, s:s, s:i, s:o, s:s, s:i, s:f, s:f, s:s, s:f}", "family", "diffusion",
                                 "model", c->model, "stage", c->stage, "reflow", c->reflow, "unet", unet, "schedule",
                                 genc_beta_schedule_name(c->beta), "T", c->T, "beta_start", c->beta_start, "beta_end",
                                 c->beta_end, "prediction", genc_prediction_name(c->pred), "cond_drop", c->cond_drop)
                     : NULL;
    char *s = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17)) : NULL;
    json_decref(j);
    return s;
}

genc_status genc_diff_config_parse(genc_ctx *ctx, const char *json, const char *label, genc_diff_config *c) {
    json_error_t err = {.text = ""};
    json_t *j = json ? json_loads(json, 0, &err) : NULL, *unet = NULL;
    const char *family = "", *model = "", *stage = "", *sched = "", *pred = "";
    memset(c, 0, sizeof *c);
    int bad = !j || json_unpack_ex(j, &err, JSON_STRICT, "{s:s, s:s, s:s, s:i, s:o, s:s, s:i, s:F, s:F, s:s, s:F}",
                                   "family", &family, "model", &model, "stage", &stage, "reflow", &c->reflow, "unet",
                                   &unet, "schedule", &sched, "T", &c->T, "beta_start", &c->beta_start, "beta_end",
                                   &c->beta_end, "prediction", &pred, "cond_drop", &c->cond_drop);
    if (!bad && (strcmp(family, "diffusion") || (strcmp(model, "ddpm") && strcmp(model, "rflow")) ||
                 strlen(stage) >= sizeof c->stage)) {
        genc_error(ctx, GENC_EFORMAT, "%s: config: expected family \"diffusion\", model \"ddpm\" or \"rflow\" and a "
                   "stage of at most %d characters, found \"%.40s\", \"%.40s\", \"%.40s\"", label,
                   (int)sizeof c->stage - 1, family, model, stage);
        json_decref(j); /* after the message: the strings are j's */
        return GENC_EFORMAT;
    }
    if (bad) {
        json_decref(j);
        return genc_error(ctx, GENC_EFORMAT, "%s: not a genc diffusion checkpoint config%s%s", label,
                          json ? ": " : " (no config metadata)", json ? err.text : "");
    }
    snprintf(c->model, sizeof c->model, "%s", model), snprintf(c->stage, sizeof c->stage, "%s", stage);
    char *u = json_dumps(unet, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17));
    genc_status s = genc_unet_config_parse(ctx, u, label, &c->unet);
    free(u);
    if (!s && (genc_beta_schedule_parse(ctx, sched, &c->beta) || genc_prediction_parse(ctx, pred, &c->pred) ||
               (!strcmp(c->model, "ddpm") && genc_ddpm_schedule_check(ctx, c->beta, c->T, c->beta_start, c->beta_end))))
        s = genc_error_prefix(ctx, true, "%s: config", label); /* the shared checks do not know the file */
    if (!s && (c->T < 1 || c->T > 100000 || c->reflow < 1 || !(c->cond_drop >= 0 && c->cond_drop <= 1)))
        s = genc_error(ctx, GENC_EFORMAT, "%s: config: expected T in 1..100000, reflow >= 1 and cond_drop in [0, 1], "
                       "found %d, %d, %g", label, c->T, c->reflow, c->cond_drop);
    json_decref(j);
    return s;
}
