/* The backward hook (genc_set_backward_hook) that data parallelism's overlapped all-reduce
 * relies on: it is called once per node of the tape, latest recorded first, skipped nodes
 * (no gradient reached them) included; when it is called for the earliest node that reads a
 * parameter, that parameter's gradient is already final (equal to the whole pass's); with no
 * hook set the gradients are the same bits. */
#include "genc/genc.h"
#include "test.h"

#include <string.h>

#define MAX_NODES 64

typedef struct {
    const genc_node *seen[MAX_NODES];
    int n;
    const genc_node *watch; /* copy w's gradient right after this node */
    const genc_tensor *w;
    genc_real snap[16];
} record;

static void hook(void *user, const genc_node *nd) {
    record *r = user;
    if (r->n < MAX_NODES) r->seen[r->n] = nd;
    r->n++;
    if (nd == r->watch) memcpy(r->snap, r->w->grad, sizeof r->snap);
}

/* loss = sum(linear(tanh(linear(x, w)), w)); a branch tanh(w) recorded first never reaches the loss,
 * so no gradient reaches its node (skipped, but on the tape). *first: the earliest node reading w. */
static genc_tensor *graph(genc_ctx *ctx, genc_tensor *x, genc_tensor *w, const genc_node **first, const genc_node **unused) {
    genc_tensor *side = genc_tanh(ctx, w);
    genc_tensor *h1 = genc_linear(ctx, x, w, NULL);
    genc_tensor *loss = genc_sum_all(ctx, genc_linear(ctx, genc_tanh(ctx, h1), w, NULL));
    *first = h1 ? h1->node : NULL, *unused = side ? side->node : NULL;
    return loss;
}

int main(void) {
    genc_ctx *ctx = genc_ctx_new();
    genc_tensor *x = genc_param_new(ctx, "x", 2, (int64_t[]){4, 4}), *w = genc_param_new(ctx, "w", 2, (int64_t[]){4, 4});
    for (int64_t i = 0; i < 16; i++)
        x->data[i] = (genc_real)genc_philox_normal(1, (uint64_t)i), w->data[i] = (genc_real)genc_philox_normal(2, (uint64_t)i);
    const genc_node *first, *unused;
    genc_tensor *loss = graph(ctx, x, w, &first, &unused);
    CHECK(loss && first && unused);
    int on_tape = 0;
    bool has_unused = false;
    for (const genc_node *nd = loss->node; nd; nd = nd->prev) on_tape++, has_unused |= nd == unused;
    CHECK(has_unused);
    record r = {.w = w, .watch = first};
    genc_set_backward_hook(ctx, hook, &r);
    CHECK(genc_backward(ctx, loss) == GENC_OK);
    genc_set_backward_hook(ctx, NULL, NULL);
    CHECK(unused && !unused->out->grad); /* the skipped node */
    CHECK_MSG(r.n == on_tape, "the hook ran %d times for %d nodes", r.n, on_tape);
    int k = 0;
    for (const genc_node *nd = loss->node; nd && k < MAX_NODES; nd = nd->prev, k++) CHECK(r.seen[k] == nd);
    CHECK_MSG(!memcmp(r.snap, w->grad, sizeof r.snap), "w's gradient changed after its earliest reader's node");
    genc_real with[16];
    memcpy(with, w->grad, sizeof with);
    genc_step_reset(ctx);
    memset(w->grad, 0, sizeof with), memset(x->grad, 0, sizeof with);
    loss = graph(ctx, x, w, &first, &unused);
    CHECK(loss && genc_backward(ctx, loss) == GENC_OK); /* no hook */
    CHECK(!memcmp(with, w->grad, sizeof with));
    genc_step_reset(ctx);
    genc_tensor_free(x), genc_tensor_free(w);
    genc_ctx_free(ctx);
    return test_report("test_backward_hook");
}
