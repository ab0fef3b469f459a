/* Shared helpers of the `genc lm` verbs (see lm_common.h). */
#include "cli/lm_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char **genc_cli_split_list(const char *csv, int *n) {
    int cap = 1;
    for (const char *p = csv; *p; p++) cap += *p == ',';
    char **list = calloc((size_t)cap, sizeof *list);
    *n = 0;
    for (const char *p = csv; list && *p;) {
        size_t len = strcspn(p, ",");
        if (len > 0 && !(list[(*n)++] = strndup(p, len))) {
            genc_cli_free_list(list, *n);
            return NULL;
        }
        p += len + (p[len] == ',');
    }
    return list;
}

void genc_cli_free_list(char **list, int n) {
    for (int i = 0; list && i < n; i++) free(list[i]);
    free(list);
}

genc_status genc_cli_hold_fp8(genc_ctx *ctx, genc_lm *m) {
    int64_t f32 = 0, fp8 = 0;
    genc_status s = genc_lm_hold_fp8(ctx, m, &f32, &fp8);
    if (!s)
        fprintf(stderr, "weights held in FP8: %d matrices, %lld bytes as F32 -> %lld as E4M3 + block scales (%.2fx)\n",
                m->n_w8, (long long)f32, (long long)fp8, fp8 ? (double)f32 / (double)fp8 : 0.0);
    return s;
}
