/* The FP32 FMA peak of one core, for the benchmarks that report "% of peak": a
 * register-blocked AVX2 FMA loop (12 independent accumulators, enough to cover FMA latency x
 * pipes on current x86 cores), timed in the thread's own CPU time so a shared machine's
 * descheduling does not count. x86-64 with AVX2 + FMA only (bench_fma_core_peak returns 0
 * elsewhere). */
#ifndef GENC_BENCH_FMA_PEAK_H
#define GENC_BENCH_FMA_PEAK_H
#include <stdint.h>
#include <time.h>
#if defined(__x86_64__)
#include <immintrin.h>

#define FMA_ACC 12
static volatile float fma_sink;

__attribute__((target("avx2,fma"), noinline)) static void fma_loop(int64_t iters) {
    __m256 acc[FMA_ACC];
    for (int j = 0; j < FMA_ACC; j++) acc[j] = _mm256_set1_ps((float)j);
    const __m256 m = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-6f);
    for (int64_t i = 0; i < iters; i++) {
        /* written out so the 12 chains stay in registers */
        acc[0] = _mm256_fmadd_ps(acc[0], m, c), acc[1] = _mm256_fmadd_ps(acc[1], m, c);
        acc[2] = _mm256_fmadd_ps(acc[2], m, c), acc[3] = _mm256_fmadd_ps(acc[3], m, c);
        acc[4] = _mm256_fmadd_ps(acc[4], m, c), acc[5] = _mm256_fmadd_ps(acc[5], m, c);
        acc[6] = _mm256_fmadd_ps(acc[6], m, c), acc[7] = _mm256_fmadd_ps(acc[7], m, c);
        acc[8] = _mm256_fmadd_ps(acc[8], m, c), acc[9] = _mm256_fmadd_ps(acc[9], m, c);
        acc[10] = _mm256_fmadd_ps(acc[10], m, c), acc[11] = _mm256_fmadd_ps(acc[11], m, c);
    }
    __m256 s = acc[0];
    for (int j = 1; j < FMA_ACC; j++) s = _mm256_add_ps(s, acc[j]);
    float out[8];
    _mm256_storeu_ps(out, s);
    fma_sink = out[0];
}
#define FMA_FLOPS_PER_ITER (FMA_ACC * 8 * 2)

static inline double thread_cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* One core's peak GFLOP/s: calibrated to ~0.1 s a run, best of `runs` runs. */
static inline double bench_fma_core_peak(int runs) {
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) return 0;
    int64_t iters = 1000000;
    double t = thread_cpu_now();
    fma_loop(iters);
    t = thread_cpu_now() - t;
    iters = (int64_t)((double)iters * 0.1 / (t > 1e-6 ? t : 1e-6));
    double best = 0;
    for (int r = 0; r < runs; r++) {
        double t0 = thread_cpu_now();
        fma_loop(iters);
        double g = (double)iters * FMA_FLOPS_PER_ITER / (thread_cpu_now() - t0) * 1e-9;
        best = g > best ? g : best;
    }
    return best;
}
#else
static inline double bench_fma_core_peak(int runs) { return (void)runs, 0; }
#endif
#endif
