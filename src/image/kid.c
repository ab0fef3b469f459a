/* KID, the kernel inception distance of Binkowski et al. (2018), on any feature space: the
 * unbiased estimate of the squared maximum mean discrepancy (Gretton et al. 2012, eq. 3)
 *     MMD_u^2 = 1/(m(m-1)) sum_{i!=j} k(x_i,x_j) + 1/(n(n-1)) sum_{i!=j} k(y_i,y_j)
 *               - 2/(mn) sum_{i,j} k(x_i,y_j)
 * with the cubic polynomial kernel k(x, y) = (x.y / d + 1)^3 (Binkowski et al., sec. 2.3).
 * The interval: both sets are cut into B disjoint blocks of consecutive rows; each block pair
 * gives an independent unbiased estimate, and their spread gives a t interval. The full
 * estimate is the block estimate averaged over every partition, so its variance is no larger:
 * the interval is conservative. Kernel sums come from BLAS dgemm in row chunks, in double. */
#include "genc/fid.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK 256 /* rows of one Gram slab: CHUNK x n doubles */

double genc_t_quantile_975(int dof) {
    static const double t[30] = {12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
                                 2.201,  2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
                                 2.080,  2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042};
    if (dof < 1) return INFINITY;
    return dof <= 30 ? t[dof - 1] : 1.960 + 2.4 / dof; /* within 0.002 of the true quantile beyond 30 */
}

void genc_mean_interval(const double *v, int n, double *mean, double *sd, double *half) {
    double m = 0, ss = 0;
    for (int i = 0; i < n; i++) m += v[i];
    m = n > 0 ? m / n : 0;
    for (int i = 0; i < n; i++) ss += (v[i] - m) * (v[i] - m);
    double s = n > 1 ? sqrt(ss / (n - 1)) : 0;
    if (mean) *mean = m;
    if (sd) *sd = s;
    if (half) *half = n > 1 ? genc_t_quantile_975(n - 1) * s / sqrt((double)n) : INFINITY;
}

/* Block b holds rows [floor(b n / B), floor((b + 1) n / B)); row i is in b = floor(((i + 1) B - 1) / n). */
static int block_of(int64_t i, int64_t n, int blocks) { return (int)(((i + 1) * blocks - 1) / n); }

static int64_t block_start(int b, int64_t n, int blocks) { return (int64_t)b * n / blocks; }

/* Sums of k(a_i, b_j) over all pairs (i != j when `same`) into *total, and over the pairs with
 * i and j in the same block index into per_block[B]. a [na, d], b [nb, d], in double. */
static genc_status kernel_sums(genc_ctx *ctx, const double *a, int64_t na, const double *b, int64_t nb, int d,
                               int blocks, bool same, double *total, double *per_block) {
    double *g = malloc((size_t)CHUNK * (size_t)nb * sizeof *g);
    if (!g) return genc_error(ctx, GENC_ENOMEM, "KID: out of memory for a %d x %lld kernel slab", CHUNK, (long long)nb);
    *total = 0;
    memset(per_block, 0, (size_t)blocks * sizeof *per_block);
    for (int64_t r0 = 0; r0 < na; r0 += CHUNK) {
        int64_t rows = na - r0 < CHUNK ? na - r0 : CHUNK;
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, (int)nb, d, 1.0 / d, a + r0 * d, d, b, d, 0.0, g,
                    (int)nb);
        for (int64_t r = 0; r < rows; r++) {
            int64_t i = r0 + r;
            int bi = block_of(i, na, blocks);
            int64_t lo = block_start(bi, nb, blocks), hi = block_start(bi + 1, nb, blocks);
            double all = 0, mine = 0;
            for (int64_t j = 0; j < nb; j++) {
                if (same && j == i) continue;
                double k = g[r * nb + j] + 1.0;
                k = k * k * k;
                all += k;
                if (j >= lo && j < hi) mine += k;
            }
            *total += all;
            per_block[bi] += mine;
        }
    }
    free(g);
    return GENC_OK;
}

/* MMD_u^2 from the three kernel sums of m x-rows and n y-rows. */
static double mmd_u(double sxx, double syy, double sxy, int64_t m, int64_t n) {
    return sxx / ((double)m * (m - 1)) + syy / ((double)n * (n - 1)) - 2 * sxy / ((double)m * n);
}

static double *to_double(const float *f, int64_t n, int d) {
    double *o = malloc((size_t)(n * d) * sizeof *o);
    if (o)
        for (int64_t i = 0; i < n * d; i++) o[i] = f[i];
    return o;
}

genc_status genc_kid(genc_ctx *ctx, const float *fa, int64_t na, const float *fb, int64_t nb, int dim, int blocks,
                     genc_kid_result *out) {
    memset(out, 0, sizeof *out);
    if (dim < 1 || blocks < 2 || na / blocks < 2 || nb / blocks < 2)
        return genc_error(ctx, GENC_EINVAL, "KID: expected at least 2 images per block in each set (%d blocks), found "
                          "%lld and %lld images", blocks, (long long)na, (long long)nb);
    double *a = to_double(fa, na, dim), *b = to_double(fb, nb, dim);
    double *pb = malloc((size_t)3 * blocks * sizeof *pb), *est = malloc((size_t)blocks * sizeof *est);
    genc_status s = a && b && pb && est ? GENC_OK : genc_error(ctx, GENC_ENOMEM, "KID: out of memory");
    double sxx = 0, syy = 0, sxy = 0;
    if (!s) s = kernel_sums(ctx, a, na, a, na, dim, blocks, true, &sxx, pb);
    if (!s) s = kernel_sums(ctx, b, nb, b, nb, dim, blocks, true, &syy, pb + blocks);
    if (!s) s = kernel_sums(ctx, a, na, b, nb, dim, blocks, false, &sxy, pb + 2 * blocks);
    if (!s) {
        for (int k = 0; k < blocks; k++) {
            int64_t m = block_start(k + 1, na, blocks) - block_start(k, na, blocks);
            int64_t n = block_start(k + 1, nb, blocks) - block_start(k, nb, blocks);
            est[k] = mmd_u(pb[k], pb[blocks + k], pb[2 * blocks + k], m, n);
        }
        double half;
        genc_mean_interval(est, blocks, NULL, &out->block_sd, &half);
        out->kid = mmd_u(sxx, syy, sxy, na, nb);
        out->lo = out->kid - half, out->hi = out->kid + half;
        out->blocks = blocks;
    }
    free(a), free(b), free(pb), free(est);
    return s;
}
