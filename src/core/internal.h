/* Internal definitions shared by genc's own sources: the context layout and helpers that
 * are not part of the public API. */
#ifndef GENC_INTERNAL_H
#define GENC_INTERNAL_H

#include "genc/genc.h"

typedef struct arena_block {
    struct arena_block *next;
    size_t cap, used;
    _Alignas(64) unsigned char mem[];
} arena_block;

struct genc_ctx {
    genc_status status;
    char msg[512];
    int threads;
    bool grad_enabled;
    arena_block *blocks; /* newest first */
    size_t arena_live;
    genc_node *tape;     /* the last recorded node; nodes link to their predecessor */
    int64_t tape_len;
    uint64_t rng_seed, rng_offset;
    int64_t param_budget, param_used; /* genc_param_budget: values left to a loading model */
    char budget_label[256];
};

/* Loop-parallel threshold: below this many elements a kernel runs on one thread. */
#define GENC_PAR_MIN 32768



/* log sum_j e^x_j of one row, max-subtracted (softmax.c; the one every loss uses). */
genc_real genc_row_logsumexp(const genc_real *x, int64_t V);

/* Strided helpers (tensor.c). */
void genc_strided_apply(const int64_t shape[4], genc_real *dst, const int64_t dst_stride[4],
                        const genc_real *src, const int64_t src_stride[4], bool accumulate);
void genc_pad4(const genc_tensor *t, int64_t shape[4], int64_t stride[4]);
void genc_contig_strides4(const int64_t shape[4], int64_t stride[4]);
#endif
