/* Helpers every genc benchmark (the C files in bench/) shares: process CPU time, and sorting and medians
 * of timing samples. */
#ifndef GENC_BENCH_UTIL_H
#define GENC_BENCH_UTIL_H
#include <stdlib.h>
#include <time.h>

/* Process CPU seconds (all threads): with wall time, the share of the threads' time this run got. */
static inline double bench_cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* qsort comparator of doubles, ascending. */
static inline int bench_cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The median of n samples (sorted in place). */
static inline double bench_median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, bench_cmp_double);
    return v[n / 2];
}
#endif
