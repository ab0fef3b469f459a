/* bench_fp8_curves: the evidence plot and numbers of docs/fp8.md (DeepSeek-V3 report section
 * 3.3, figure 10: FP8 against BF16 training loss, relative error < 0.25%). Reads the
 * metrics.jsonl of runs of the same model and data in different precisions, plots their
 * training main_loss (a moving average over `window` steps) on one PNG with genc's plot
 * writer, and the relative difference of each run's curve from the first run's on a second
 * (OUT.png with "-rel" before ".png"); prints per run, over the steps every run has done: the
 * mean main_loss over the last `window` of them, the validation loss at the last step every
 * run has evaluated, and both as a relative error against the first run named (the reference,
 * BF16 in the paper's comparison). Runs may be unfinished: all are compared at the same step.
 *
 * usage: bench_fp8_curves OUT.png WINDOW NAME=metrics.jsonl [NAME=metrics.jsonl ...] */
#include "genc/genc.h"
#include "genc/png.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *name;
    double *step, *loss, *smooth, vstep[64], vloss[64];
    int n, nv;
} run;

static int load(run *r, const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return fprintf(stderr, "bench_fp8_curves: cannot open %s\n", path), 1;
    char line[4096];
    int cap = 1024;
    r->step = malloc(sizeof(double) * cap), r->loss = malloc(sizeof(double) * cap), r->n = r->nv = 0;
    while (fgets(line, sizeof line, f)) {
        json_t *o = json_loads(line, 0, NULL);
        json_t *st = json_object_get(o, "step"), *ml = json_object_get(o, "main_loss"), *vl = json_object_get(o, "val_loss");
        if (st && vl && r->nv < 64) r->vstep[r->nv] = json_number_value(st), r->vloss[r->nv++] = json_number_value(vl);
        if (st && ml) {
            if (r->n == cap) cap *= 2, r->step = realloc(r->step, sizeof(double) * cap), r->loss = realloc(r->loss, sizeof(double) * cap);
            r->step[r->n] = json_number_value(st), r->loss[r->n++] = json_number_value(ml);
        }
        json_decref(o);
    }
    fclose(f);
    return r->n == 0;
}

/* The validation loss of r at `step` (NAN if r has none there). */
static double val_at(const run *r, double step) {
    for (int i = r->nv - 1; i >= 0; i--)
        if (r->vstep[i] == step) return r->vloss[i];
    return NAN;
}

/* The last step at which every run has a validation loss (-1: none). */
static double common_val_step(const run *runs, int n) {
    for (int i = runs[0].nv - 1; i >= 0; i--) {
        int all = 1;
        for (int j = 1; j < n; j++) all &= !isnan(val_at(&runs[j], runs[0].vstep[i]));
        if (all) return runs[0].vstep[i];
    }
    return -1;
}

/* smooth[i] = mean of loss over the window ending at i; returns the mean over the last window. */
static double smooth(run *r, int window) {
    r->smooth = malloc(sizeof(double) * (size_t)r->n);
    double sum = 0;
    for (int i = 0; i < r->n; i++) {
        sum += r->loss[i] - (i >= window ? r->loss[i - window] : 0);
        r->smooth[i] = sum / (i + 1 < window ? i + 1 : window);
    }
    return r->smooth[r->n - 1];
}

int main(int argc, char **argv) {
    if (argc < 4 || argc - 3 > GENC_PLOT_MAX_SERIES) {
        fprintf(stderr, "usage: bench_fp8_curves OUT.png WINDOW NAME=metrics.jsonl ... (1 to 8 runs)\n");
        return 2;
    }
    int window = atoi(argv[2]), n = argc - 3;
    run runs[GENC_PLOT_MAX_SERIES];
    genc_plot_series s[GENC_PLOT_MAX_SERIES];
    double tail[GENC_PLOT_MAX_SERIES];
    for (int i = 0; i < n; i++) {
        char *eq = strchr(argv[3 + i], '=');
        if (!eq) return fprintf(stderr, "bench_fp8_curves: expected NAME=path, found %s\n", argv[3 + i]), 2;
        *eq = 0;
        runs[i].name = argv[3 + i];
        if (load(&runs[i], eq + 1)) return fprintf(stderr, "bench_fp8_curves: no main_loss in %s\n", eq + 1), 1;
        tail[i] = smooth(&runs[i], window);
        s[i] = (genc_plot_series){runs[i].name, runs[i].step, runs[i].smooth, runs[i].n};
    }
    int common = runs[0].n;
    for (int i = 1; i < n; i++) common = runs[i].n < common ? runs[i].n : common;
    for (int i = 0; i < n; i++) tail[i] = runs[i].smooth[common - 1];
    double vs = common_val_step(runs, n), v0 = val_at(&runs[0], vs);
    printf("%-12s %6s %14s %10s %10s %10s   (val_loss at step %.0f)\n", "run", "steps", "main_loss(avg)", "rel.err",
           "val_loss", "rel.err", vs);
    for (int i = 0; i < n; i++) {
        double v = val_at(&runs[i], vs);
        printf("%-12s %6.0f %14.4f %+9.3f%% %10.4f %+9.3f%%\n", runs[i].name, runs[i].step[common - 1], tail[i],
               100 * (tail[i] - tail[0]) / tail[0], v, 100 * (v - v0) / v0);
    }
    genc_ctx *ctx = genc_ctx_new();
    char ylabel[64];
    snprintf(ylabel, sizeof ylabel, "training loss (mean of %d steps)", window);
    genc_status st = genc_plot_png(ctx, argv[1], "same model, data and seed: FP32 / BF16 / FP8 GEMMs", "step", ylabel, s,
                                   n, false, 900, 560);
    double *rel[GENC_PLOT_MAX_SERIES] = {0};
    for (int i = 1; !st && i < n; i++) {
        rel[i] = malloc(sizeof(double) * (size_t)common);
        for (int j = 0; j < common; j++) rel[i][j] = 100 * (runs[i].smooth[j] - runs[0].smooth[j]) / runs[0].smooth[j];
        s[i - 1] = (genc_plot_series){runs[i].name, runs[i].step, rel[i], common};
    }
    char path[1024], title[128];
    snprintf(path, sizeof path, "%.*s-rel.png", (int)(strlen(argv[1]) - 4), argv[1]);
    snprintf(title, sizeof title, "relative difference of the training loss from %s", runs[0].name);
    if (!st && n > 1) st = genc_plot_png(ctx, path, title, "step", "% (smoothed loss)", s, n - 1, false, 900, 560);
    if (st) fprintf(stderr, "bench_fp8_curves: %s\n", genc_last_error(ctx));
    for (int i = 1; i < n; i++) free(rel[i]);
    genc_ctx_free(ctx);
    for (int i = 0; i < n; i++) free(runs[i].step), free(runs[i].loss), free(runs[i].smooth);
    return st != GENC_OK;
}
