/* Every set-to-set metric genc reports on one pair of feature sets, in one call: FID
 * (fid.c), KID with its interval (kid.c), and precision/recall/density/coverage (prdc.c),
 * with --b's set as the real one. The feature space is a genc classifier's penultimate layer,
 * not Inception-v3, so none of these numbers is comparable with a paper's. */
#include "genc/fid.h"

#include <math.h>
#include <string.h>

genc_status genc_fid_report_compute(genc_ctx *ctx, const float *fake, const float *real, int64_t n, int dim, int kid_blocks,
                                    int prdc_k, genc_fid_report *out) {
    memset(out, 0, sizeof *out);
    out->kid.kid = out->prdc.precision = NAN;
    genc_fid_stats sa = {0}, sb = {0};
    genc_status s = genc_fid_stats_compute(ctx, fake, n, dim, &sa);
    if (!s) s = genc_fid_stats_compute(ctx, real, n, dim, &sb);
    if (!s) s = genc_fid_frechet(ctx, &sa, &sb, &out->fid);
    genc_fid_stats_free(&sa), genc_fid_stats_free(&sb);
    int blocks = (int)(kid_blocks < n / 2 ? kid_blocks : n / 2);
    out->has_kid = !s && blocks >= 2;
    if (out->has_kid) s = genc_kid(ctx, fake, n, real, n, dim, blocks, &out->kid);
    out->has_prdc = !s && prdc_k > 0 && n > prdc_k;
    if (out->has_prdc) s = genc_prdc(ctx, real, n, fake, n, dim, prdc_k, &out->prdc);
    return s;
}
