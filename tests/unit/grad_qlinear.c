/* Gradient checks (double precision) of the LM's linear-layer entry point with FP8 off
 * (src/ops/qlinear.c, issue #22: "gradient checks still pass with FP8 off"): genc_linear_q in
 * FP32 mode, with a zeroed mode and with no mode, batched input, sizes not multiples of 128.
 * The double build has no quantised GEMMs: an FP8 or BF16 mode is refused with one error
 * line (no abort), and the context works again after the error is cleared. */
#include "genc/fp8.h"
#include "gradcheck.h"

#include <string.h>

static genc_tensor *f_linear_q(genc_ctx *c, genc_tensor **in, void *u) {
    return genc_linear_q(c, in[0], in[1], (const genc_qmode *)u);
}

static void refused(genc_ctx *ctx, genc_tensor **in, genc_precision p) {
    genc_qmode q = {.prec = p, .promote = GENC_FP8_TILE};
    genc_step_reset(ctx);
    genc_tensor *y = genc_linear_q(ctx, in[0], in[1], &q);
    const char *e = genc_last_error(ctx);
    CHECK_MSG(!y && genc_ctx_status(ctx) != GENC_OK && strstr(e, "need the float build") && !strchr(e, '\n'),
              "%s in the double build: %s", genc_precision_name(p), y ? "ran" : e);
    genc_clear_error(ctx);
    CHECK(genc_ctx_status(ctx) == GENC_OK);
}

int main(void) {
    genc_ctx *ctx = genc_ctx_new();
    int64_t sx[3] = {2, 3, 133}, sw[2] = {5, 133};
    genc_tensor *in[2] = {gc_input(ctx, 3, sx, 11), gc_input(ctx, 2, sw, 12)};
    genc_qmode fp32 = {.prec = GENC_PREC_FP32, .promote = GENC_FP8_TILE, .acc_bits = GENC_FP8_ACC_BITS}, zero = {0};
    gradcheck(ctx, "linear_q fp32", f_linear_q, in, 2, &fp32, 1e-6, 1e-8);
    gradcheck(ctx, "linear_q zeroed mode", f_linear_q, in, 2, &zero, 1e-6, 1e-8);
    gradcheck(ctx, "linear_q no mode", f_linear_q, in, 2, NULL, 1e-6, 1e-8);
    refused(ctx, in, GENC_PREC_FP8);
    refused(ctx, in, GENC_PREC_BF16);
    gradcheck(ctx, "linear_q fp32 after a refusal", f_linear_q, in, 2, &fp32, 1e-6, 1e-8);
    genc_tensor_free(in[0]), genc_tensor_free(in[1]);
    genc_ctx_free(ctx);
    return test_report("grad_qlinear");
}
