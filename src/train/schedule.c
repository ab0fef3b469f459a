/* Learning-rate schedules: constant, and linear warm-up followed by cosine decay to a floor
 * (lr_t = min + (peak - min) * (1 + cos(pi * progress)) / 2). */
#include "genc/genc.h"
#include "genc/train.h"

#include <math.h>
#include <string.h>

double genc_schedule_lr(const genc_schedule *s, double peak, int64_t step) {
    if (s->warmup > 0 && step < s->warmup) return peak * (double)(step + 1) / (double)s->warmup;
    if (s->kind == GENC_LR_CONSTANT) return peak;
    int64_t span = s->total - s->warmup;
    double progress = span > 0 ? (double)(step - s->warmup) / (double)span : 1.0;
    if (progress > 1) progress = 1;
    return s->min_lr + (peak - s->min_lr) * 0.5 * (1.0 + cos(M_PI * progress));
}

genc_status genc_schedule_parse(genc_ctx *ctx, const char *name, genc_lr_kind *out) {
    if (!strcmp(name, "constant")) *out = GENC_LR_CONSTANT;
    else if (!strcmp(name, "cosine")) *out = GENC_LR_COSINE;
    else return genc_error(ctx, GENC_EINVAL, "--schedule: expected constant or cosine, found \"%s\"", name);
    return GENC_OK;
}
