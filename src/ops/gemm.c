/* The one GEMM wrapper: every matrix product in genc goes through genc_gemm, so the BLAS
 * backend is chosen here and nowhere else. Backend: OpenBLAS, OpenMP build (chosen by
 * measurement, see bench/matmul.c and the README). */
#include "genc/genc.h"

#include <cblas.h>
#include <limits.h>
#include <omp.h>

/* Below this many multiply-adds a product runs on one thread: splitting it costs more in
 * hand-offs than it saves (measured on the tiny LM preset's 512x64x64 projections). */
#define GEMM_PARALLEL_MIN ((int64_t)1 << 22)

static void call_blas(bool ta, bool tb, int64_t M, int64_t N, int64_t K, genc_real alpha, const genc_real *A,
                      int64_t lda, const genc_real *B, int64_t ldb, genc_real beta, genc_real *C, int64_t ldc);

void genc_gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, genc_real alpha, const genc_real *A,
               int64_t lda, const genc_real *B, int64_t ldb, genc_real beta, genc_real *C, int64_t ldc) {
    GENC_ASSERT(M < INT_MAX && N < INT_MAX && K < INT_MAX && lda < INT_MAX && ldb < INT_MAX && ldc < INT_MAX);
    if (M == 0 || N == 0) return;
    int threads = omp_get_max_threads();
    if (threads > 1 && !omp_in_parallel() && M * N * K < GEMM_PARALLEL_MIN) {
        omp_set_num_threads(1); /* the OpenMP build of OpenBLAS follows the caller's setting */
        call_blas(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        omp_set_num_threads(threads);
        return;
    }
    call_blas(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

static void call_blas(bool ta, bool tb, int64_t M, int64_t N, int64_t K, genc_real alpha, const genc_real *A,
                      int64_t lda, const genc_real *B, int64_t ldb, genc_real beta, genc_real *C, int64_t ldc) {
#ifdef GENC_DOUBLE
    cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (int)M, (int)N,
                (int)K, alpha, A, (int)lda, B, (int)ldb, beta, C, (int)ldc);
#else
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (int)M, (int)N,
                (int)K, alpha, A, (int)lda, B, (int)ldb, beta, C, (int)ldc);
#endif
}
