/* FID on genc classifier features (include/genc/fid.h): feature extraction in batches, mean
 * and unbiased covariance in double (BLAS dsyrk), and the Frechet distance
 *     ||mu_a - mu_b||^2 + tr C_a + tr C_b - 2 tr (C_a C_b)^(1/2)     (Heusel et al. 2017, eq. 6)
 * through the symmetric square root S = C_a^(1/2) and the eigenvalues of S C_b S
 * (LAPACK dsyev from OpenBLAS). */
#include "genc/fid.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* LAPACK's symmetric eigen-solver (Fortran calling convention; OpenBLAS ships it). */
extern void dsyev_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda, double *w,
                   double *work, const int *lwork, int *info);

genc_status genc_sym_eig(genc_ctx *ctx, double *a, int n, double *w, bool vectors) {
    if (n < 1) return genc_error(ctx, GENC_EINVAL, "eigen-decomposition: expected n >= 1, found %d", n);
    const char jobz = vectors ? 'V' : 'N', uplo = 'U';
    int lwork = -1, info = 0;
    double query = 0;
    dsyev_(&jobz, &uplo, &n, a, &n, w, &query, &lwork, &info); /* workspace size */
    lwork = info == 0 && query >= 1 ? (int)query : 3 * n;
    double *work = malloc((size_t)lwork * sizeof *work);
    if (!work) return genc_error(ctx, GENC_ENOMEM, "out of memory");
    dsyev_(&jobz, &uplo, &n, a, &n, w, work, &lwork, &info);
    free(work);
    if (info) return genc_error(ctx, GENC_EINVAL, "eigen-decomposition of a %dx%d matrix failed (dsyev info %d)", n, n, info);
    /* Column-major eigenvectors of a symmetric matrix = row-major rows: a[k*n + j]. */
    return GENC_OK;
}

void genc_fid_stats_free(genc_fid_stats *s) {
    if (!s) return;
    free(s->mean), free(s->cov);
    memset(s, 0, sizeof *s);
}

genc_status genc_fid_stats_compute(genc_ctx *ctx, const float *feat, int64_t n, int dim, genc_fid_stats *out) {
    memset(out, 0, sizeof *out);
    if (n < 2 || dim < 1)
        return genc_error(ctx, GENC_EINVAL, "FID statistics: expected at least 2 images and 1 feature, found %lld and %d",
                          (long long)n, dim);
    double *mean = calloc((size_t)dim, sizeof *mean), *cov = calloc((size_t)dim * dim, sizeof *cov);
    double *centred = malloc((size_t)(n * dim) * sizeof *centred);
    if (!mean || !cov || !centred) {
        free(mean), free(cov), free(centred);
        return genc_error(ctx, GENC_ENOMEM, "out of memory");
    }
    for (int64_t i = 0; i < n; i++)
        for (int j = 0; j < dim; j++) mean[j] += feat[i * dim + j];
    for (int j = 0; j < dim; j++) mean[j] /= (double)n;
    for (int64_t i = 0; i < n; i++)
        for (int j = 0; j < dim; j++) centred[i * dim + j] = (double)feat[i * dim + j] - mean[j];
    /* cov = X^T X / (n - 1), upper triangle, then mirrored. */
    cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, dim, (int)n, 1.0 / (double)(n - 1), centred, dim, 0.0, cov, dim);
    for (int r = 0; r < dim; r++)
        for (int c = 0; c < r; c++) cov[r * dim + c] = cov[c * dim + r];
    free(centred);
    *out = (genc_fid_stats){.dim = dim, .n = n, .mean = mean, .cov = cov};
    return GENC_OK;
}

/* sqrt_a <- C^(1/2) = V diag(sqrt(max(lambda, 0))) V^T of a symmetric PSD matrix. */
static genc_status sym_sqrt(genc_ctx *ctx, const double *c, int d, double *sqrt_c) {
    double *v = malloc((size_t)d * d * sizeof *v), *w = malloc((size_t)d * sizeof *w);
    double *vs = malloc((size_t)d * d * sizeof *vs);
    genc_status s = v && w && vs ? GENC_OK : genc_error(ctx, GENC_ENOMEM, "out of memory");
    if (!s) memcpy(v, c, (size_t)d * d * sizeof *v), s = genc_sym_eig(ctx, v, d, w, true);
    if (!s) {
        /* rows of v are eigenvectors: C^(1/2) = V^T diag V with V[k, :] = eigenvector k. */
        for (int k = 0; k < d; k++) {
            double r = sqrt(w[k] > 0 ? w[k] : 0);
            for (int j = 0; j < d; j++) vs[k * d + j] = r * v[k * d + j];
        }
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, d, d, d, 1.0, v, d, vs, d, 0.0, sqrt_c, d);
    }
    free(v), free(w), free(vs);
    return s;
}

genc_status genc_fid_frechet(genc_ctx *ctx, const genc_fid_stats *a, const genc_fid_stats *b, double *out) {
    if (a->dim != b->dim || a->dim < 1)
        return genc_error(ctx, GENC_EINVAL, "FID: feature widths differ (%d and %d)", a->dim, b->dim);
    int d = a->dim;
    double *sa = malloc((size_t)d * d * sizeof *sa), *t = malloc((size_t)d * d * sizeof *t);
    double *m = malloc((size_t)d * d * sizeof *m), *w = malloc((size_t)d * sizeof *w);
    genc_status s = sa && t && m && w ? GENC_OK : genc_error(ctx, GENC_ENOMEM, "out of memory");
    if (!s) s = sym_sqrt(ctx, a->cov, d, sa);
    if (!s) {
        /* m = S C_b S, symmetrised against rounding, then its eigenvalues. */
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, d, d, d, 1.0, sa, d, b->cov, d, 0.0, t, d);
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, d, d, d, 1.0, t, d, sa, d, 0.0, m, d);
        for (int r = 0; r < d; r++)
            for (int c = 0; c < r; c++) m[r * d + c] = m[c * d + r] = 0.5 * (m[r * d + c] + m[c * d + r]);
        s = genc_sym_eig(ctx, m, d, w, false);
    }
    if (!s) {
        double dmu = 0, tr = 0, tr_sqrt = 0;
        for (int j = 0; j < d; j++) {
            double diff = a->mean[j] - b->mean[j];
            dmu += diff * diff;
            tr += a->cov[j * d + j] + b->cov[j * d + j];
            tr_sqrt += sqrt(w[j] > 0 ? w[j] : 0);
        }
        *out = dmu + tr - 2 * tr_sqrt;
    }
    free(sa), free(t), free(m), free(w);
    return s;
}

genc_status genc_fid_features(genc_ctx *ctx, genc_classifier *m, const float *images, int64_t n, float *feat) {
    enum { B = 500 };
    int64_t D = (int64_t)m->cfg.rows * m->cfg.cols, H = m->cfg.hidden;
    bool old = genc_set_grad_enabled(ctx, false);
    for (int64_t s = 0; s < n && !genc_ctx_status(ctx); s += B) {
        int64_t k = n - s < B ? n - s : B, shape[2] = {k, D};
        genc_tensor *x = genc_tensor_empty(ctx, 2, shape), *f = NULL;
        if (!x) break;
        for (int64_t i = 0; i < k * D; i++) x->data[i] = (genc_real)images[s * D + i];
        if (!genc_classifier_forward(ctx, m, x, &f) || !f) break;
        f = genc_contiguous(ctx, f);
        if (!f) break;
        for (int64_t i = 0; i < k * H; i++) feat[s * H + i] = (float)f->data[i];
        genc_step_reset(ctx);
    }
    genc_set_grad_enabled(ctx, old);
    genc_step_reset(ctx);
    return genc_ctx_status(ctx);
}

genc_status genc_fid_image_stats(genc_ctx *ctx, genc_classifier *m, const float *images, int64_t n,
                                 genc_fid_stats *out) {
    memset(out, 0, sizeof *out);
    float *feat = malloc((size_t)(n * m->cfg.hidden) * sizeof *feat);
    if (!feat) return genc_error(ctx, GENC_ENOMEM, "out of memory");
    genc_status s = genc_fid_features(ctx, m, images, n, feat);
    if (!s) s = genc_fid_stats_compute(ctx, feat, n, m->cfg.hidden, out);
    free(feat);
    return s;
}
