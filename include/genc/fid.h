/* genc FID: the Frechet distance between two sets of images measured on the penultimate
 * features of genc's own classifier (include/genc/image.h), as Heusel et al. (2017) define
 * it on Inception features:
 *
 *     FID = ||mu_a - mu_b||^2 + tr(C_a + C_b - 2 (C_a C_b)^(1/2))
 *
 * with mu and C the mean and the unbiased (n - 1) covariance of the features. Everything
 * after the features is computed in double. tr (C_a C_b)^(1/2) uses the symmetric form
 * tr (S C_b S)^(1/2), S = C_a^(1/2): both C are symmetric positive semi-definite, so S C_b S
 * is too and has the same eigenvalues as C_a C_b; its square-root trace is the sum of the
 * square roots of its (clamped non-negative) eigenvalues, from LAPACK's dsyev. */
#ifndef GENC_FID_H
#define GENC_FID_H

#include "image.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct genc_fid_stats {
    int dim;      /* feature width */
    int64_t n;    /* images the statistics come from */
    double *mean; /* [dim] */
    double *cov;  /* [dim, dim], unbiased */
} genc_fid_stats;

/* Mean and covariance of n >= 2 feature rows feat[n, dim]. */
genc_status genc_fid_stats_compute(genc_ctx *ctx, const float *feat, int64_t n, int dim, genc_fid_stats *out);
void genc_fid_stats_free(genc_fid_stats *s); /* NULL and zeroed are fine */

/* Frechet distance of two Gaussians (the same dim). */
genc_status genc_fid_frechet(genc_ctx *ctx, const genc_fid_stats *a, const genc_fid_stats *b, double *out);

/* Classifier features of n images [n, rows*cols] in [0, 1], in batches, no gradients:
 * feat[n, hidden]. */
genc_status genc_fid_features(genc_ctx *ctx, genc_classifier *m, const float *images, int64_t n, float *feat);

/* Images -> features -> statistics in one call. */
genc_status genc_fid_image_stats(genc_ctx *ctx, genc_classifier *m, const float *images, int64_t n,
                                 genc_fid_stats *out);

/* Eigen-decomposition of the symmetric n x n matrix a (row-major, both triangles
 * filled): eigenvalues ascending into w[n]; when `vectors`, a is overwritten by the
 * eigenvectors as rows (a[k*n + j] = component j of eigenvector k). */
genc_status genc_sym_eig(genc_ctx *ctx, double *a, int n, double *w, bool vectors);

#ifdef __cplusplus
}
#endif
#endif
