/* bench_lm_train's per-phase report: the step profile (include/genc/profile.h) grouped into
 * phases (forward and backward GEMMs of the linear layers, attention, norms, RoPE, SwiGLU,
 * MoE routing, cross-entropy, the optimiser, the rest), each with its share of the step, and
 * the GEMMs' FLOPs against the measured FMA peak; then every op, and the step arena per layer. */
#ifndef GENC_BENCH_LM_PROFILE_H
#define GENC_BENCH_LM_PROFILE_H
#include "genc/genc.h"

#include <stdio.h>
#include <string.h>

enum { PH_GEMM, PH_ATTN, PH_NORM, PH_ROPE, PH_SWIGLU, PH_ROUTE, PH_CE, PH_OPT, PH_OTHER, PH_N };
static const char *const prof_phase_name[PH_N] = {
    "GEMMs (linear, SwiGLU in)", "attention + softmax", "norms (RMSNorm)", "RoPE", "SwiGLU",
    "MoE routing + gather/scatter", "cross-entropy", "optimiser (zero, clip, AdamW)", "other (add, copy, embed)"};

static int prof_phase_of(const char *op) {
    static const struct { const char *op; int ph; } M[] = {
        {"linear", PH_GEMM}, {"linear_q", PH_GEMM}, {"matmul", PH_GEMM}, {"swiglu_linear", PH_GEMM}, {"attention", PH_ATTN},
        {"softmax", PH_ATTN}, {"rmsnorm", PH_NORM}, {"layernorm", PH_NORM}, {"rope", PH_ROPE},
        {"swiglu", PH_SWIGLU}, {"routing", PH_ROUTE}, {"take_along", PH_ROUTE}, {"gather_rows", PH_ROUTE},
        {"scatter_add_rows", PH_ROUTE}, {"sigmoid", PH_ROUTE}, {"cross_entropy", PH_CE}, {"zero_grad", PH_OPT},
        {"clip", PH_OPT}, {"optimizer", PH_OPT}, {"bias_update", PH_OPT}, {"step_reset", PH_OPT},
    };
    for (size_t i = 0; i < sizeof M / sizeof *M; i++)
        if (!strcmp(M[i].op, op)) return M[i].ph;
    return PH_OTHER;
}

/* peak: one core's FMA GFLOP/s (0: unknown); steps: how many steps the profile covers. */
static void prof_print(const genc_ctx *ctx, int steps, int threads, double peak, int n_layers) {
    int n;
    const genc_profile_entry *e = genc_profile_entries(ctx, &n);
    double fwd[PH_N] = {0}, bwd[PH_N] = {0}, ff[PH_N] = {0}, bf[PH_N] = {0}, total = 0;
    for (int i = 0; i < n; i++) {
        int p = prof_phase_of(e[i].name);
        fwd[p] += e[i].fwd_s, bwd[p] += e[i].bwd_s, ff[p] += e[i].fwd_flops, bf[p] += e[i].bwd_flops;
        total += e[i].fwd_s + e[i].bwd_s;
    }
    double pk = peak, ms = 1e3 / steps;
    printf("PROFILE %d steps, %d threads, FMA peak %.1f GFLOP/s a core; CPU ms per step (all threads), GFLOP/s per "
           "CPU-second, %%pk = that / the core peak\n", steps, threads, peak);
    printf("PROFILE %-30s %9s %9s %7s %9s %9s %9s %6s %6s\n", "phase", "fwd ms", "bwd ms", "share", "fwd GF/s",
           "bwd GF/s", "GFLOP", "%pk f", "%pk b");
    for (int p = 0; p < PH_N; p++) {
        double gf = ff[p] > 0 ? ff[p] / fwd[p] * 1e-9 : 0, gb = bf[p] > 0 ? bf[p] / bwd[p] * 1e-9 : 0;
        printf("PROFILE %-30s %9.2f %9.2f %6.1f%% %9.1f %9.1f %9.3f %5.0f%% %5.0f%%\n", prof_phase_name[p],
               fwd[p] * ms, bwd[p] * ms, 100 * (fwd[p] + bwd[p]) / total, gf, gb, (ff[p] + bf[p]) * 1e-9 / steps,
               pk > 0 ? 100 * gf / pk : 0, pk > 0 ? 100 * gb / pk : 0);
    }
    double gemm = fwd[PH_GEMM] + bwd[PH_GEMM];
    printf("PROFILE total %.2f ms per step; outside the linear-layer GEMMs: %.1f%% of the step\n", total * ms,
           100 * (total - gemm) / total);
    for (int i = 0; i < n; i++)
        printf("OP %-18s fwd %8.3f ms bwd %8.3f ms calls %5lld/%5lld  arena %8.2f MiB  GFLOP %.3f\n", e[i].name,
               e[i].fwd_s * ms, e[i].bwd_s * ms, (long long)(e[i].fwd_calls / steps),
               (long long)(e[i].bwd_calls / steps), e[i].fwd_bytes / steps / 1048576.0,
               (e[i].fwd_flops + e[i].bwd_flops) * 1e-9 / steps);
    for (int l = 0; l < n_layers; l++)
        printf("LAYER %d forward activations %.2f MiB\n", l, genc_profile_layer_bytes(ctx, l) / steps / 1048576.0);
}
#endif
