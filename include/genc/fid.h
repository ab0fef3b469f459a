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

/* ---- KID, precision/recall, intervals (kid.c, prdc.c) ---- */

/* KID (Binkowski et al. 2018): the unbiased MMD^2 estimate with the cubic polynomial kernel
 * k(x, y) = (x.y / dim + 1)^3 between features fa [na, dim] and fb [nb, dim], and a 95% t
 * interval from `blocks` disjoint blocks of consecutive rows (rows must be in random order;
 * at least 2 per block). The interval is conservative: the full estimate varies less than one
 * block average. */
typedef struct genc_kid_result {
    double kid;      /* the full-sample unbiased estimate */
    double lo, hi;   /* kid -+ t_{B-1} * block_sd / sqrt(B) */
    double block_sd; /* standard deviation of the B block estimates */
    int blocks;
} genc_kid_result;
genc_status genc_kid(genc_ctx *ctx, const float *fa, int64_t na, const float *fb, int64_t nb, int dim, int blocks,
                     genc_kid_result *out);

/* Precision and recall (Kynkaanniemi et al. 2019) and density and coverage (Naeem et al.
 * 2020) of generated features fake [nf, dim] against real [nr, dim], with k-nearest-neighbour
 * balls (k = 3 in both papers; each set needs more than k points). */
typedef struct genc_prdc_result {
    double precision, recall, density, coverage;
    int k;
} genc_prdc_result;
genc_status genc_prdc(genc_ctx *ctx, const float *real, int64_t nr, const float *fake, int64_t nf, int dim, int k,
                      genc_prdc_result *out);

/* The two-sided 95% quantile of Student's t with `dof` degrees of freedom (table to 30). */
double genc_t_quantile_975(int dof);
/* Mean, sample standard deviation and the half-width of the 95% t interval of the mean of
 * v[n] (any output may be NULL; half is infinite for n < 2). */
void genc_mean_interval(const double *v, int n, double *mean, double *sd, double *half);

/* FID, KID and precision/recall/density/coverage of n generated feature rows against n real
 * ones (fid_report.c). KID uses min(kid_blocks, n / 2) blocks and is skipped (has_kid false)
 * below 2; precision/recall is skipped when prdc_k is 0 or n <= prdc_k. */
typedef struct genc_fid_report {
    double fid;
    bool has_kid, has_prdc;
    genc_kid_result kid;
    genc_prdc_result prdc;
} genc_fid_report;
genc_status genc_fid_report_compute(genc_ctx *ctx, const float *fake, const float *real, int64_t n, int dim, int kid_blocks,
                                    int prdc_k, genc_fid_report *out);

/* Eigen-decomposition of the symmetric n x n matrix a (row-major, both triangles
 * filled): eigenvalues ascending into w[n]; when `vectors`, a is overwritten by the
 * eigenvectors as rows (a[k*n + j] = component j of eigenvector k). */
genc_status genc_sym_eig(genc_ctx *ctx, double *a, int n, double *w, bool vectors);

#ifdef __cplusplus
}
#endif
#endif
