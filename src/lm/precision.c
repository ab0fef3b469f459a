/* The language model's training precision (DeepSeek-V3 report section 3.3.1: the GEMMs of
 * the linear layers in FP8, with the embedding, output head, MoE gate, normalisation and
 * attention kept in higher precision; section 3.3.2: promotion every N_C = 128). The linear
 * layers call genc_lm_linear (lm_internal.h), which reads m->qmode. */
#include "lm/lm_internal.h"

#include <stdlib.h>
#include <string.h>

static genc_status parse_promote(genc_ctx *ctx, const char *s, int *out) {
    if (!strcmp(s, "none")) return *out = 0, GENC_OK;
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || *end || v < 1 || v > 1 << 20)
        return genc_error(ctx, GENC_EINVAL, "--fp8-promote: expected a count of elements (128) or none, found \"%s\"", s);
    *out = (int)v;
    return GENC_OK;
}

genc_status genc_lm_set_precision(genc_ctx *ctx, genc_lm *m, const char *precision, const char *promote) {
    genc_qmode q = {.prec = GENC_PREC_FP32, .promote = GENC_FP8_TILE, .acc_bits = GENC_FP8_ACC_BITS};
    if (precision && !genc_precision_parse(precision, &q.prec))
        return genc_error(ctx, GENC_EINVAL, "--precision: expected fp32, bf16 or fp8, found \"%s\"", precision);
    if (promote && parse_promote(ctx, promote, &q.promote)) return genc_ctx_status(ctx);
    if (promote && q.prec != GENC_PREC_FP8)
        return genc_error(ctx, GENC_EINVAL, "--fp8-promote: only meaningful with --precision fp8");
    m->qmode = q;
    return GENC_OK;
}
