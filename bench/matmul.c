/* bench_matmul: how close genc_gemm gets to this machine's FP32 peak.
 *
 * 1. Measures the FP32 FMA peak itself: a register-blocked AVX2 FMA loop (12 independent
 *    accumulators, enough to cover FMA latency x pipes on current x86 cores) on one thread,
 *    then on every thread used at once (OpenMP). The per-core peak is the best of several
 *    runs (noise only ever lowers it); "% of peak" below is GFLOP/s / (per-core peak x
 *    threads).
 * 2. Times genc_gemm at the shapes genc's models use (the forward and both backward
 *    products of linear layers: x W^T, dy W, dy^T x) and at large squares, for each thread
 *    count: warm-up, then repeated samples of >= 50 ms each; the MEDIAN sample is reported
 *    (the machine may be shared, so single runs are noisy).
 *
 * Backends: genc_gemm calls cblas_sgemm of whatever library the dynamic linker resolves,
 * normally OpenBLAS (OpenMP build). Other BLAS libraries can be swapped in without a rebuild
 * (bench/README.md): LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-pthread, or
 * LD_PRELOAD=/usr/lib/x86_64-linux-gnu/blis-openmp/libblis.so.4. --backend dnnl times
 * oneDNN's dnnl_sgemm (dlopen'ed, row-major) instead. The library actually serving each
 * run is printed.
 *
 * usage: bench_matmul [--threads 1,2] [--quick] [--only model|square] [--backend genc|dnnl] */
#define _GNU_SOURCE
#include "bench_util.h"
#include "fma_peak.h"
#include "genc/genc.h"

#include <dlfcn.h>
#include <immintrin.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* GFLOP/s of `threads` threads running the loop at once: total flops / slowest thread.
 * Timed in each thread's own CPU time, so time spent descheduled by other processes on a
 * shared machine does not count (that is contention, not the core's peak); *wall gets the
 * same by wall-clock time. */
static double fma_peak(int threads, int64_t iters, double *wall) {
    double t_max = 0, w_max = 0;
#pragma omp parallel num_threads(threads) reduction(max : t_max, w_max)
    {
#pragma omp barrier
        double t0 = thread_cpu_now(), w0 = now();
        fma_loop(iters);
        t_max = thread_cpu_now() - t0;
        w_max = now() - w0;
    }
    double flops = (double)iters * FMA_FLOPS_PER_ITER * threads;
    *wall = flops / w_max * 1e-9;
    return flops / t_max * 1e-9;
}

/* ---- GEMM backends ---- */
typedef int (*dnnl_sgemm_fn)(char, char, int64_t, int64_t, int64_t, float, const float *, int64_t, const float *,
                             int64_t, float, float *, int64_t);
static dnnl_sgemm_fn dnnl_sgemm;
static bool use_dnnl;

static void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const float *B,
                 int64_t ldb, float *C, int64_t ldc) {
    if (use_dnnl)
        dnnl_sgemm(ta ? 'T' : 'N', tb ? 'T' : 'N', M, N, K, 1.0f, A, lda, B, ldb, 0.0f, C, ldc);
    else
        genc_gemm(ta, tb, M, N, K, 1, A, lda, B, ldb, 0, C, ldc);
}

/* Thread count for the BLAS too: omp_set_num_threads covers OpenMP builds (OpenBLAS-OpenMP,
 * oneDNN); pthread OpenBLAS and BLIS have their own setters. */
static void set_threads(genc_ctx *ctx, int n) {
    genc_set_threads(ctx, n);
    void (*ob)(int) = (void (*)(int))dlsym(RTLD_DEFAULT, "openblas_set_num_threads");
    if (ob) ob(n);
    void (*bl)(long) = (void (*)(long))dlsym(RTLD_DEFAULT, "bli_thread_set_num_threads");
    if (bl) bl(n);
}

static const char *backend_name(void) {
    static char buf[512];
    void *sym = use_dnnl ? (void *)dnnl_sgemm : dlsym(RTLD_DEFAULT, "cblas_sgemm");
    Dl_info info;
    if (!sym || !dladdr(sym, &info) || !info.dli_fname) return "?";
    char *(*ob_cfg)(void) = (char *(*)(void))dlsym(RTLD_DEFAULT, "openblas_get_config");
    snprintf(buf, sizeof buf, "%s%s%s%s", use_dnnl ? "dnnl_sgemm from " : "cblas_sgemm from ", info.dli_fname,
             ob_cfg && !use_dnnl ? " | " : "", ob_cfg && !use_dnnl ? ob_cfg() : "");
    return buf;
}

typedef struct {
    const char *what;
    bool ta, tb;
    int64_t M, N, K;
    bool square;
} shape;

static const shape SHAPES[] = {
    {"fc 784->1000 fwd  x W^T", false, true, 128, 1000, 784, false},
    {"fc 784->1000 bwd  dy W", false, false, 128, 784, 1000, false},
    {"fc 784->1000 bwd  dy^T x", true, false, 1000, 784, 128, false},
    {"fc 1000->1000 fwd x W^T", false, true, 128, 1000, 1000, false},
    {"fc 1000->1000 bwd dy W", false, false, 128, 1000, 1000, false},
    {"fc 1000->1000 bwd dy^T x", true, false, 1000, 1000, 128, false},
    {"fc 256->768 fwd   x W^T", false, true, 512, 768, 256, false},
    {"fc 256->768 bwd   dy W", false, false, 512, 256, 768, false},
    {"fc 256->768 bwd   dy^T x", true, false, 768, 256, 512, false},
    {"small 64^3", false, false, 64, 64, 64, false},
    {"square 1024", false, false, 1024, 1024, 1024, true},
    {"square 2048", false, false, 2048, 2048, 2048, true},
    {"square 4096", false, false, 4096, 4096, 4096, true},
};
#define N_SHAPES ((int)(sizeof SHAPES / sizeof SHAPES[0]))

/* Median GFLOP/s over `samples` samples of >= min_s seconds each, after a warm-up. */
static double proc_cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double time_gemm(const shape *s, float *A, float *B, float *C, int samples, double min_s, double *ms_call,
                        int threads, double *cpu_share) {
    int64_t lda = s->ta ? s->M : s->K, ldb = s->tb ? s->K : s->N;
    double flops = 2.0 * (double)s->M * (double)s->N * (double)s->K;
    double t0 = now();
    int64_t warm = 0;
    do gemm(s->ta, s->tb, s->M, s->N, s->K, A, lda, B, ldb, C, s->N), warm++;
    while (now() - t0 < 0.1 && warm < 1000);
    double per_call = (now() - t0) / (double)warm;
    int64_t reps = (int64_t)(min_s / per_call) + 1;
    double gf[32], ms[32];
    if (samples > 32) samples = 32;
    double c0 = proc_cpu_now(), w0 = now();
    for (int i = 0; i < samples; i++) {
        double t = now();
        for (int64_t r = 0; r < reps; r++) gemm(s->ta, s->tb, s->M, s->N, s->K, A, lda, B, ldb, C, s->N);
        t = now() - t;
        gf[i] = flops * (double)reps / t * 1e-9;
        ms[i] = t / (double)reps * 1e3;
    }
    *cpu_share = (proc_cpu_now() - c0) / ((now() - w0) * threads);
    qsort(gf, (size_t)samples, sizeof gf[0], bench_cmp_double);
    qsort(ms, (size_t)samples, sizeof ms[0], bench_cmp_double);
    *ms_call = ms[samples / 2];
    return gf[samples / 2];
}

int main(int argc, char **argv) {
    int threads[8] = {1, 2}, n_threads = 2;
    bool quick = false;
    const char *only = NULL, *backend = "genc";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
            n_threads = 0;
            for (char *tok = strtok(argv[++i], ","); tok && n_threads < 8; tok = strtok(NULL, ","))
                threads[n_threads++] = atoi(tok) > 0 ? atoi(tok) : 1;
        } else if (!strcmp(argv[i], "--quick")) {
            quick = true;
        } else if (!strcmp(argv[i], "--only") && i + 1 < argc) {
            only = argv[++i];
        } else if (!strcmp(argv[i], "--backend") && i + 1 < argc) {
            backend = argv[++i];
        } else {
            fprintf(stderr, "usage: bench_matmul [--threads 1,2] [--quick] [--only model|square] "
                            "[--backend genc|dnnl]\n");
            return 2;
        }
    }
    if (!strcmp(backend, "dnnl")) {
        void *h = dlopen("libdnnl.so.2", RTLD_NOW | RTLD_LOCAL);
        dnnl_sgemm = h ? (dnnl_sgemm_fn)dlsym(h, "dnnl_sgemm") : NULL;
        if (!dnnl_sgemm) {
            fprintf(stderr, "bench_matmul: cannot load dnnl_sgemm from libdnnl.so.2 (apt-get install libdnnl2.6)\n");
            return 1;
        }
        use_dnnl = true;
    } else if (strcmp(backend, "genc")) {
        fprintf(stderr, "bench_matmul: unknown backend %s\n", backend);
        return 2;
    }
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) {
        fprintf(stderr, "bench_matmul: the peak loop needs AVX2 and FMA\n");
        return 1;
    }
    genc_ctx *ctx = genc_ctx_new();
    if (!ctx) return 1;

    /* Peak: calibrate to ~0.2 s per run; per-core peak = best of 5 single-thread runs. */
    int64_t iters = 1000000;
    double t = now();
    fma_loop(iters);
    t = now() - t;
    iters = (int64_t)((double)iters * 0.2 / t);
    double core_peak = 0, runs[5], wall, wall_best = 0;
    for (int i = 0; i < 5; i++) {
        runs[i] = fma_peak(1, iters, &wall);
        core_peak = runs[i] > core_peak ? runs[i] : core_peak;
        wall_best = wall > wall_best ? wall : wall_best;
    }
    qsort(runs, 5, sizeof runs[0], bench_cmp_double);
    printf("FP32 FMA peak, 1 thread: %.1f GFLOP/s (thread CPU time, best of 5, median %.1f; by wall clock %.1f)"
           " = %.2f GHz x 32 FLOP/cycle if the core has two 256-bit FMA pipes\n",
           core_peak, runs[2], wall_best, core_peak / 32);
    for (int i = 0; i < n_threads; i++) {
        if (threads[i] == 1) continue;
        double best = 0;
        wall_best = 0;
        for (int r = 0; r < 5; r++) {
            double g = fma_peak(threads[i], iters, &wall);
            best = g > best ? g : best;
            wall_best = wall > wall_best ? wall : wall_best;
        }
        printf("FP32 FMA peak, %d threads at once: %.1f GFLOP/s (best of 5; by wall clock %.1f) = %.2f x the "
               "1-thread peak\n", threads[i], best, wall_best, best / core_peak);
    }
    printf("%%peak below = GFLOP/s / (%.1f x threads); cpu%% = process CPU time / (wall x threads), < 100%% "
           "means other processes took the cores (numbers then understate)\n", core_peak);

    int64_t maxdim = quick ? 2048 : 4096;
    size_t elems = (size_t)maxdim * (size_t)maxdim;
    float *A = aligned_alloc(64, elems * sizeof(float)), *B = aligned_alloc(64, elems * sizeof(float));
    float *C = aligned_alloc(64, elems * sizeof(float));
    if (!A || !B || !C) return fprintf(stderr, "bench_matmul: out of memory\n"), 1;
    for (size_t i = 0; i < elems; i++) A[i] = (float)((i * 7919) % 1000) * 1e-3f - 0.5f, B[i] = A[i] * 0.5f, C[i] = 0;

    printf("\nbackend: %s\n", backend_name());
    printf("GEMM C[M,N] = op(A) op(B), fp32, median of repeated samples (shared machine: noisy)\n");
    printf("%-26s %2s %2s %5s %5s %5s %3s %9s %9s %7s %5s\n", "shape", "tA", "tB", "M", "N", "K", "thr", "ms/call",
           "GFLOP/s", "%peak", "cpu%");
    for (int ti = 0; ti < n_threads; ti++) {
        set_threads(ctx, threads[ti]);
        for (int s = 0; s < N_SHAPES; s++) {
            const shape *sh = &SHAPES[s];
            if (sh->M > maxdim) continue;
            if (only && !strcmp(only, "model") && sh->square) continue;
            if (only && !strcmp(only, "square") && !sh->square) continue;
            double flops = 2.0 * (double)sh->M * (double)sh->N * (double)sh->K;
            int samples = flops > 2e10 ? 3 : quick ? 5 : 7;
            double ms, share, gf = time_gemm(sh, A, B, C, samples, flops > 2e10 ? 0 : 0.05, &ms, threads[ti], &share);
            printf("%-26s %2d %2d %5lld %5lld %5lld %3d %9.3f %9.1f %6.1f%% %4.0f%%\n", sh->what, sh->ta, sh->tb,
                   (long long)sh->M, (long long)sh->N, (long long)sh->K, threads[ti], ms, gf,
                   100.0 * gf / (core_peak * threads[ti]), 100 * share);
            fflush(stdout);
        }
    }
    free(A), free(B), free(C);
    genc_ctx_free(ctx);
    return 0;
}
