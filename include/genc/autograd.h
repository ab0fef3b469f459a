/* genc autograd: a tape of recorded ops and reverse-mode differentiation.
 *
 * Every op whose output needs a gradient records a node on the context's tape (inputs,
 * output, a backward function and whatever it saved). The tape is in creation order, so
 * walking it backwards is a topological order: genc_backward(loss) seeds d(loss) = 1 and
 * calls each node's backward, which accumulates (+=) into its inputs' gradients. The
 * tape lives in the step arena and is cleared by genc_step_reset. */
#ifndef GENC_AUTOGRAD_H
#define GENC_AUTOGRAD_H

#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct genc_node genc_node;
typedef void (*genc_backward_fn)(genc_ctx *ctx, genc_node *node);

#define GENC_NODE_IARGS 8
struct genc_node {
    genc_node *prev;             /* the node recorded before this one */
    const char *op;              /* name, for debugging */
    genc_backward_fn backward;
    genc_tensor *out;
    genc_tensor **in;
    int n_in;
    void *saved;                 /* op-specific, in the arena */
    int64_t iarg[GENC_NODE_IARGS];
    double farg[4];
};

/* Whether ops record nodes (default on). Returns the previous setting, for restoring. */
bool genc_set_grad_enabled(genc_ctx *ctx, bool enabled);
bool genc_grad_enabled(const genc_ctx *ctx);

/* Record an op. If grad mode is off or no input requires a gradient, records nothing and
 * returns NULL (and out->requires_grad stays false); otherwise marks out as requiring a
 * gradient. On allocation failure it sets the context error and returns NULL. */
genc_node *genc_record(genc_ctx *ctx, const char *op, genc_backward_fn backward,
                       genc_tensor *out, int n_in, genc_tensor *const *in);

/* The gradient buffer of t, allocated zero-filled on first use (arena for step tensors,
 * heap for persistent ones). NULL with GENC_ENOMEM. */
genc_real *genc_grad(genc_ctx *ctx, genc_tensor *t);
/* For a backward that can write (=) its whole contribution: t's gradient buffer, and *fresh
 * true when it was just allocated and NOT zero-filled (the caller must then write every
 * element); false when it existed (or is a persistent tensor's, zero-filled): add into it. */
genc_real *genc_grad_fresh(genc_ctx *ctx, genc_tensor *t, bool *fresh);

/* Recycle gradient buffers during backward (default off): once a node's backward has run,
 * the gradient of its output (an intermediate step tensor, not the tensor backward started
 * from) goes back to a pool that later gradients of the same size reuse, and the tensor's
 * grad becomes NULL. Leaves (parameters, inputs) keep theirs. Cuts a training step's arena
 * to the activations plus the gradients live at one time; a second backward over the same
 * tape then no longer reaches past the recycled tensors. Returns the previous setting. */
bool genc_set_recycle_grads(genc_ctx *ctx, bool on);

/* Called by the backward pass after each node it visits, in visiting order (latest recorded
 * first), whether its backward ran or was skipped (no gradient reached it): work that waits for
 * gradients to become final (data parallelism's all-reduce) can start during the pass. NULL
 * (the default) turns it off. */
typedef void (*genc_backward_hook)(void *user, const genc_node *node);
void genc_set_backward_hook(genc_ctx *ctx, genc_backward_hook fn, void *user);

/* Reverse pass from a scalar `loss` (1 element): gradients accumulate into every tensor
 * that requires one. */
genc_status genc_backward(genc_ctx *ctx, genc_tensor *loss);
/* Reverse pass with an explicit seed gradient for `out` (same numel). */
genc_status genc_backward_with(genc_ctx *ctx, genc_tensor *out, const genc_real *seed);

/* A set of parameters (persistent tensors) that an optimiser updates. The set does not own
 * them unless freed with genc_params_free_all. */
typedef struct genc_params {
    genc_tensor **t;
    int n, cap;
} genc_params;
genc_status genc_params_add(genc_ctx *ctx, genc_params *p, genc_tensor *t);
/* A new parameter tensor (genc_param_new) added to p, which then owns it for
 * genc_params_free_all; NULL (and nothing added) on failure. Models fill it afterwards. */
genc_tensor *genc_params_new(genc_ctx *ctx, genc_params *p, const char *name, int ndim, const int64_t *shape);
void genc_params_free(genc_params *p);     /* the list only */
void genc_params_free_all(genc_params *p); /* the list and the tensors */
int64_t genc_params_numel(const genc_params *p);
genc_tensor *genc_params_find(const genc_params *p, const char *name);
/* The first parameter holding a NaN or infinity (*index: the first such value), or NULL. */
const genc_tensor *genc_params_nonfinite(const genc_params *p, int64_t *index);
void genc_zero_grad(const genc_params *p);
/* Global L2 norm of all gradients; if it exceeds max_norm (> 0), scale them to max_norm.
 * Returns the norm before clipping. */
double genc_clip_grad_norm(const genc_params *p, double max_norm);

#ifdef __cplusplus
}
#endif
#endif
