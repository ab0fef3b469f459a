/* bench_fp8: speed and accuracy of genc's FP8 numerics (include/genc/fp8.h; DeepSeek-V3 report
 * section 3.3.2).
 * 1. Conversion throughput: E4M3 encode and decode, the AVX2 path against the scalar one
 *    (Mvalues/s, median of 7 samples, one thread).
 * 2. The promotion ablation at the GEMM level: the relative error (Frobenius, against an FP64
 *    product of the unquantised inputs, and max over outputs against the FP64 product of the
 *    quantised inputs, which isolates the accumulation) of C = A B for inner dimensions K from
 *    128 to 8192: BF16 inputs with FP32 accumulation, FP8 with N_C = 128 promotion, FP8 with
 *    no promotion. Inputs: activations ~ N(0.5, 1) with outlier channels, weights ~ N(0, 0.05)
 *    (positive-mean products make the accumulator's growth visible, as in the report's
 *    "K = 4096: ~2% error" remark).
 * 3. Speed of the emulated FP8 GEMM against genc_gemm (FP32 BLAS) at one model shape.
 * usage: bench_fp8 */
#include "bench_util.h"
#include "genc/genc.h"
#include "genc/fp8.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static double gauss(uint64_t *s) {
    double u1, u2;
    *s = *s * 6364136223846793005ull + 1442695040888963407ull, u1 = ((*s >> 11) + 0.5) / 9007199254740992.0;
    *s = *s * 6364136223846793005ull + 1442695040888963407ull, u2 = ((*s >> 11) + 0.5) / 9007199254740992.0;
    return sqrt(-2 * log(u1)) * cos(6.283185307179586 * u2);
}

static double time_it(void (*f)(void *), void *arg, int reps) {
    double t[7];
    for (int i = 0; i < 7; i++) {
        double t0 = omp_get_wtime();
        for (int r = 0; r < reps; r++) f(arg);
        t[i] = (omp_get_wtime() - t0) / reps;
    }
    return bench_median(t, 7);
}

enum { NCONV = 1 << 20 };
static float xs[NCONV], ys[NCONV];
static uint8_t codes[NCONV];
static void enc_vec(void *a) { (void)a, genc_e4m3_encode_n(xs, 0.01f, codes, NCONV); }
static void enc_sca(void *a) { (void)a, genc_e4m3_encode_n_scalar(xs, 0.01f, codes, NCONV); }
static void dec_vec(void *a) { (void)a, genc_e4m3_decode_n(codes, 0.01f, ys, NCONV); }

static void conversions(void) {
    uint64_t s = 1;
    for (int i = 0; i < NCONV; i++) xs[i] = (float)gauss(&s);
    double ev = time_it(enc_vec, NULL, 3), es = time_it(enc_sca, NULL, 1), dv = time_it(dec_vec, NULL, 3);
    printf("E4M3 conversion, 1 thread, %d values: encode AVX2 %.0f Mvalues/s, scalar %.0f (%.1fx); decode AVX2 %.0f\n",
           NCONV, NCONV / ev / 1e6, NCONV / es / 1e6, es / ev, NCONV / dv / 1e6);
}

/* Frobenius relative error of C against the FP64 reference R. */
static double frob(const float *C, const double *R, int64_t n) {
    double num = 0, den = 0;
    for (int64_t i = 0; i < n; i++) num += (C[i] - R[i]) * (C[i] - R[i]), den += R[i] * R[i];
    return sqrt(num / den);
}

static double max_rel(const float *C, const double *R, int64_t n) {
    double mx = 0, scale = 0;
    for (int64_t i = 0; i < n; i++) scale = fmax(scale, fabs(R[i]));
    for (int64_t i = 0; i < n; i++) mx = fmax(mx, fabs(C[i] - R[i]) / scale);
    return mx;
}

static void ref64(const float *A, const float *B, int64_t M, int64_t N, int64_t K, double *R) {
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) {
            double acc = 0;
            for (int64_t k = 0; k < K; k++) acc += (double)A[i * K + k] * B[k * N + j];
            R[i * N + j] = acc;
        }
}

static void ablation(void) {
    enum { M = 32, N = 64 };
    printf("\nC = A B, A [%d, K] ~ N(0.5, 1) with outliers, B [K, %d] ~ N(0, 0.05): relative error vs FP64\n", M, N);
    printf("%6s | %-26s | %-26s | %-26s\n", "K", "BF16 in, FP32 acc", "FP8, promote every 128", "FP8, no promotion");
    printf("%6s | %12s %13s | %12s %13s | %12s %13s\n", "", "frobenius", "acc max", "frobenius", "acc max", "frobenius", "acc max");
    for (int64_t K = 128; K <= 8192; K *= 4) {
        float *A = malloc(sizeof(float) * M * K), *B = malloc(sizeof(float) * K * N), *C = malloc(sizeof(float) * M * N);
        float *Aq = malloc(sizeof(float) * M * K), *Bq = malloc(sizeof(float) * K * N);
        double *R = malloc(sizeof(double) * M * N), *Rq = malloc(sizeof(double) * M * N), e[3][2];
        uint64_t s = (uint64_t)K;
        for (int64_t i = 0; i < M * K; i++) A[i] = (float)(0.5 + gauss(&s)) * (i % K == 7 ? 30.0f : 1.0f);
        for (int64_t i = 0; i < K * N; i++) B[i] = (float)(0.05 * gauss(&s));
        ref64(A, B, M, N, K, R);
        genc_bf16_qdq(A, M, K, K, Aq, K), genc_bf16_qdq(B, K, N, N, Bq, N);
        ref64(Aq, Bq, M, N, K, Rq);
        genc_gemm(false, false, M, N, K, 1, Aq, K, Bq, N, 0, C, N);
        e[0][0] = frob(C, R, M * N), e[0][1] = max_rel(C, Rq, M * N);
        genc_fp8_qdq(A, M, K, K, 1, 128, Aq, K, NULL), genc_fp8_qdq(B, K, N, N, 128, 128, Bq, N, NULL);
        ref64(Aq, Bq, M, N, K, Rq);
        for (int p = 0; p < 2; p++) {
            genc_fp8_gemm_acc(M, N, K, Aq, K, Bq, N, 0, C, N, p == 0 ? 128 : 0, GENC_FP8_ACC_BITS);
            e[1 + p][0] = frob(C, R, M * N), e[1 + p][1] = max_rel(C, Rq, M * N);
        }
        printf("%6lld | %12.2e %13.2e | %12.2e %13.2e | %12.2e %13.2e\n", (long long)K, e[0][0], e[0][1], e[1][0], e[1][1],
               e[2][0], e[2][1]);
        free(A), free(B), free(C), free(Aq), free(Bq), free(R), free(Rq);
    }
}

typedef struct {
    int64_t M, N, K;
    float *A, *B, *C;
    bool fp8;
} gemm_job;

static void run_gemm(void *p) {
    gemm_job *g = p;
    if (g->fp8) genc_fp8_gemm_acc(g->M, g->N, g->K, g->A, g->K, g->B, g->N, 0, g->C, g->N, 128, GENC_FP8_ACC_BITS);
    else genc_gemm(false, false, g->M, g->N, g->K, 1, g->A, g->K, g->B, g->N, 0, g->C, g->N);
}

static void speed(void) {
    gemm_job g = {.M = 2048, .N = 64, .K = 64};
    g.A = calloc((size_t)(g.M * g.K), 4), g.B = calloc((size_t)(g.K * g.N), 4), g.C = calloc((size_t)(g.M * g.N), 4);
    omp_set_num_threads(1);
    double t32 = time_it(run_gemm, &g, 5);
    g.fp8 = true;
    double t8 = time_it(run_gemm, &g, 5);
    double flop = 2.0 * g.M * g.N * g.K;
    printf("\nGEMM %lldx%lldx%lld, 1 thread: genc_gemm %.1f GFLOP/s, emulated FP8 (14-bit acc) %.1f GFLOP/s (%.1fx slower)\n",
           (long long)g.M, (long long)g.N, (long long)g.K, flop / t32 / 1e9, flop / t8 / 1e9, t8 / t32);
    free(g.A), free(g.B), free(g.C);
}

int main(void) {
    conversions();
    ablation();
    speed();
    return 0;
}
