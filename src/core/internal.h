/* Internal to src/core: the context's layout (errors, threads, the step arena, the autograd
 * tape, the random stream, the parameter budget), which only src/core reads or writes. */
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
    struct genc_profile_state *prof; /* NULL unless profiling (src/core/profile.c) */
    bool recycle_grads;   /* genc_set_recycle_grads */
    void *grad_pool;      /* released gradient buffers (arena memory), reused by size */
    genc_backward_hook bw_hook; /* genc_set_backward_hook */
    void *bw_user;
};

/* Profile hooks (src/core/profile.c): the op `name` recorded (forward), and a backward
 * call's span. */
void genc_profile_forward_op(genc_ctx *ctx, const char *name);
void genc_profile_backward_begin(genc_ctx *ctx);
void genc_profile_backward_op(genc_ctx *ctx, const char *name);
void genc_profile_free(genc_ctx *ctx);

#endif
