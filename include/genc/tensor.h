/* genc tensors: shape, strides, views, and where the memory lives.
 *
 * A tensor is row-major genc_real data with up to GENC_MAX_DIMS dims. Strides are in
 * elements; a view (reshape, transpose, slice) shares its base's memory and differs only
 * in shape, strides and data pointer. Gradients are always contiguous buffers of the
 * tensor's shape, separate from the data (a view's gradient flows back to its base
 * through the autograd tape).
 *
 * Two lifetimes: persistent tensors (parameters, optimiser state, data sets) are created
 * with genc_tensor_new and freed with genc_tensor_free; step tensors (every op output)
 * live in the context's step arena and vanish at genc_step_reset. */
#ifndef GENC_TENSOR_H
#define GENC_TENSOR_H

#include "core.h"

#ifdef __cplusplus
extern "C" {
#endif

#define GENC_MAX_DIMS 4

struct genc_node;

typedef struct genc_tensor {
    int ndim;
    int64_t shape[GENC_MAX_DIMS];
    int64_t stride[GENC_MAX_DIMS]; /* elements */
    genc_real *data;               /* element [0,..,0] */
    genc_real *grad;               /* contiguous, NULL until backward needs it */
    bool requires_grad;
    bool persistent;               /* owned by the caller, not the step arena */
    bool owns_data;                /* persistent tensor whose data genc_tensor_free frees */
    char name[96];                 /* parameters: the checkpoint name */
    struct genc_node *node;        /* the op that produced it; NULL for leaves */
    struct genc_w8 *w8;            /* a weight held in FP8 instead of data (NULL then), for
                                      inference through genc_linear (fp8.h); owned elsewhere */
} genc_tensor;

/* Persistent tensors, zero-filled. NULL with GENC_EINVAL on a bad shape (ndim outside
 * 1..4, a dim < 1, or more elements than memory allows) or GENC_ENOMEM. */
genc_tensor *genc_tensor_new(genc_ctx *ctx, int ndim, const int64_t *shape);
genc_tensor *genc_tensor_new1(genc_ctx *ctx, int64_t d0);
genc_tensor *genc_tensor_new2(genc_ctx *ctx, int64_t d0, int64_t d1);
genc_tensor *genc_tensor_new4(genc_ctx *ctx, int64_t d0, int64_t d1, int64_t d2, int64_t d3);
void genc_tensor_free(genc_tensor *t);
/* A persistent parameter: requires_grad set, gradient buffer allocated, named. */
genc_tensor *genc_param_new(genc_ctx *ctx, const char *name, int ndim, const int64_t *shape);

/* Step tensors (arena), uninitialised / zero-filled. */
genc_tensor *genc_tensor_empty(genc_ctx *ctx, int ndim, const int64_t *shape);
genc_tensor *genc_tensor_zeros(genc_ctx *ctx, int ndim, const int64_t *shape);
/* A step tensor that views caller memory (e.g. one batch of a data set). */
genc_tensor *genc_tensor_wrap(genc_ctx *ctx, genc_real *data, int ndim, const int64_t *shape);

int64_t genc_numel(const genc_tensor *t);
bool genc_is_contiguous(const genc_tensor *t);
bool genc_same_shape(const genc_tensor *a, const genc_tensor *b);
/* "[2, 3, 4]" into buf (for error messages). */
const char *genc_shape_str(const genc_tensor *t, char *buf, size_t n);

/* Element access for tests and small tools (slow: computes the offset). */
genc_real genc_get(const genc_tensor *t, const int64_t *idx);
void genc_fill(genc_tensor *t, genc_real v);
void genc_fill_normal(genc_ctx *ctx, genc_tensor *t, double mean, double std);
void genc_fill_uniform(genc_ctx *ctx, genc_tensor *t, double lo, double hi);
/* Copy src into dst (same shape, any strides). No autograd. */
genc_status genc_copy(genc_ctx *ctx, genc_tensor *dst, const genc_tensor *src);

/* Views (no copy; recorded on the tape so gradients reach the base).
 * reshape needs a contiguous input (else it copies); -1 in one dim is inferred. */
genc_tensor *genc_reshape(genc_ctx *ctx, genc_tensor *a, int ndim, const int64_t *shape);
genc_tensor *genc_transpose(genc_ctx *ctx, genc_tensor *a, int d0, int d1);
/* Elements [start, start + len) of dim `dim`. */
genc_tensor *genc_slice(genc_ctx *ctx, genc_tensor *a, int dim, int64_t start, int64_t len);
/* A contiguous copy, or `a` itself when already contiguous. */
genc_tensor *genc_contiguous(genc_ctx *ctx, genc_tensor *a);

/* Strided helpers for kernels on up to 4 axes: dst[i] (+)= src[i] over `shape` with either
 * side's strides; a tensor's shape and strides padded on the left to 4 axes; the strides of a
 * contiguous 4-axis shape. */
void genc_strided_apply(const int64_t shape[4], genc_real *dst, const int64_t dst_stride[4],
                        const genc_real *src, const int64_t src_stride[4], bool accumulate);
void genc_pad4(const genc_tensor *t, int64_t shape[4], int64_t stride[4]);
void genc_contig_strides4(const int64_t shape[4], int64_t stride[4]);

#ifdef __cplusplus
}
#endif
#endif
