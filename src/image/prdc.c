/* Precision and recall of a generated set against a real one on k-nearest-neighbour manifolds
 * (Kynkaanniemi et al. 2019, eq. 1-2): each point's ball reaches its k-th nearest neighbour
 * in its own set; precision is the share of generated points inside some real ball, recall
 * the share of real points inside some generated ball. Density and coverage (Naeem et al.
 * 2020, eq. 3-4) from the real balls alone: density = sum over generated points of the number
 * of real balls holding it / (k M), coverage = the share of real balls holding a generated
 * point. Squared distances ||a||^2 + ||b||^2 - 2 a.b come from BLAS dgemm in row chunks, in
 * double; a point lies in a ball when its distance is <= the radius. */
#include "genc/fid.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK 256

typedef struct {
    const double *a, *b;     /* [na, d], [nb, d] */
    double *na2, *nb2;       /* squared norms */
    int64_t na, nb;
    int d;
} pair_set;

/* slab[r, j] <- squared distance of a-row (r0 + r) to b-row j, for `rows` rows. */
static void sq_dist_slab(const pair_set *p, int64_t r0, int64_t rows, double *slab) {
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, (int)p->nb, p->d, -2.0, p->a + r0 * p->d, p->d, p->b,
                p->d, 0.0, slab, (int)p->nb);
    for (int64_t r = 0; r < rows; r++)
        for (int64_t j = 0; j < p->nb; j++) {
            double v = slab[r * p->nb + j] + p->na2[r0 + r] + p->nb2[j];
            slab[r * p->nb + j] = v > 0 ? v : 0;
        }
}

static void sq_norms(const double *x, int64_t n, int d, double *out) {
    for (int64_t i = 0; i < n; i++) {
        double s = 0;
        for (int j = 0; j < d; j++) s += x[i * d + j] * x[i * d + j];
        out[i] = s;
    }
}

/* radius2[i] <- squared distance from row i of x to its k-th nearest other row. */
static genc_status knn_radii(genc_ctx *ctx, const double *x, const double *x2, int64_t n, int d, int k, double *radius2) {
    double *slab = malloc((size_t)CHUNK * (size_t)n * sizeof *slab), *best = malloc((size_t)k * sizeof *best);
    if (!slab || !best) return free(slab), free(best), genc_error(ctx, GENC_ENOMEM, "precision/recall: out of memory");
    pair_set p = {.a = x, .b = x, .na2 = (double *)x2, .nb2 = (double *)x2, .na = n, .nb = n, .d = d};
    for (int64_t r0 = 0; r0 < n; r0 += CHUNK) {
        int64_t rows = n - r0 < CHUNK ? n - r0 : CHUNK;
        sq_dist_slab(&p, r0, rows, slab);
        for (int64_t r = 0; r < rows; r++) {
            int have = 0; /* best[0..have) ascending: the smallest distances so far */
            for (int64_t j = 0; j < n; j++) {
                if (j == r0 + r) continue;
                double v = slab[r * n + j];
                if (have == k && v >= best[k - 1]) continue;
                int at = have < k ? have++ : k - 1;
                while (at > 0 && best[at - 1] > v) best[at] = best[at - 1], at--;
                best[at] = v;
            }
            radius2[r0 + r] = best[k - 1];
        }
    }
    free(slab), free(best);
    return GENC_OK;
}

/* Over every (real i, fake j): counts of fakes in some real ball / in each real ball summed,
 * reals holding a fake, reals inside some fake ball. */
static genc_status cross(genc_ctx *ctx, const pair_set *p, const double *r_rad2, const double *f_rad2, genc_prdc_result *out) {
    double *slab = malloc((size_t)CHUNK * (size_t)p->nb * sizeof *slab);
    unsigned char *fake_in = calloc((size_t)p->nb, 1);
    if (!slab || !fake_in) return free(slab), free(fake_in), genc_error(ctx, GENC_ENOMEM, "precision/recall: out of memory");
    int64_t in_balls = 0, covered = 0, recalled = 0, precise = 0;
    for (int64_t r0 = 0; r0 < p->na; r0 += CHUNK) { /* a = real, b = fake */
        int64_t rows = p->na - r0 < CHUNK ? p->na - r0 : CHUNK;
        sq_dist_slab(p, r0, rows, slab);
        for (int64_t r = 0; r < rows; r++) {
            bool cov = false, rec = false;
            for (int64_t j = 0; j < p->nb; j++) {
                double v = slab[r * p->nb + j];
                if (v <= r_rad2[r0 + r]) in_balls++, cov = true, fake_in[j] = 1;
                if (v <= f_rad2[j]) rec = true;
            }
            covered += cov, recalled += rec;
        }
    }
    for (int64_t j = 0; j < p->nb; j++) precise += fake_in[j];
    out->precision = (double)precise / (double)p->nb;
    out->recall = (double)recalled / (double)p->na;
    out->density = (double)in_balls / ((double)out->k * (double)p->nb);
    out->coverage = (double)covered / (double)p->na;
    free(slab), free(fake_in);
    return GENC_OK;
}

genc_status genc_prdc(genc_ctx *ctx, const float *real, int64_t nr, const float *fake, int64_t nf, int dim, int k,
                      genc_prdc_result *out) {
    memset(out, 0, sizeof *out);
    if (dim < 1 || k < 1 || nr <= k || nf <= k)
        return genc_error(ctx, GENC_EINVAL, "precision/recall: expected more than k = %d points in each set, found %lld "
                          "real and %lld generated", k, (long long)nr, (long long)nf);
    double *r = malloc((size_t)(nr * dim) * sizeof *r), *f = malloc((size_t)(nf * dim) * sizeof *f);
    double *r2 = malloc((size_t)nr * sizeof *r2), *f2 = malloc((size_t)nf * sizeof *f2);
    double *rr = malloc((size_t)nr * sizeof *rr), *fr = malloc((size_t)nf * sizeof *fr);
    genc_status s = r && f && r2 && f2 && rr && fr ? GENC_OK : genc_error(ctx, GENC_ENOMEM, "precision/recall: out of memory");
    if (!s) {
        for (int64_t i = 0; i < nr * dim; i++) r[i] = real[i];
        for (int64_t i = 0; i < nf * dim; i++) f[i] = fake[i];
        sq_norms(r, nr, dim, r2), sq_norms(f, nf, dim, f2);
        s = knn_radii(ctx, r, r2, nr, dim, k, rr);
    }
    if (!s) s = knn_radii(ctx, f, f2, nf, dim, k, fr);
    out->k = k;
    pair_set p = {.a = r, .b = f, .na2 = r2, .nb2 = f2, .na = nr, .nb = nf, .d = dim};
    if (!s) s = cross(ctx, &p, rr, fr, out);
    free(r), free(f), free(r2), free(f2), free(rr), free(fr);
    return s;
}
