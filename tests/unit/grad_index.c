/* Gradient checks (double precision) for the indexing ops: embedding with repeated ids,
 * gather_rows with repeated indices, scatter_add_rows with colliding rows, concat of three
 * tensors on the first, a middle and the last axis (one input a transposed view), and split
 * into uneven parts; then their error paths. All ops here are linear in their inputs, so
 * central differences are exact up to rounding and the tolerances are tight. */
#include "gradcheck.h"

typedef struct {
    const int32_t *idx;
    int64_t n;
} idx_arg;

static genc_tensor *f_embedding(genc_ctx *c, genc_tensor **in, void *u) {
    idx_arg *a = u;
    return genc_embedding(c, in[0], a->idx, a->n);
}
static genc_tensor *f_gather(genc_ctx *c, genc_tensor **in, void *u) {
    idx_arg *a = u;
    return genc_gather_rows(c, in[0], a->idx, a->n);
}
static genc_tensor *f_scatter(genc_ctx *c, genc_tensor **in, void *u) {
    idx_arg *a = u;
    return genc_scatter_add_rows(c, in[0], a->idx, a->n);
}
/* gather from a transposed view, then scatter back: dispatch and combine in one chain */
static genc_tensor *f_dispatch_combine(genc_ctx *c, genc_tensor **in, void *u) {
    idx_arg *a = u;
    genc_tensor *g = genc_gather_rows(c, genc_transpose(c, in[0], 0, 1), a->idx, a->n);
    return genc_scatter_add_rows(c, g, a->idx, 4);
}

/* in[2] is stored with dims 1 and 2 swapped and transposed back before the concat. */
static genc_tensor *f_concat(genc_ctx *c, genc_tensor **in, void *u) {
    genc_tensor *ts[3] = {in[0], in[1], genc_transpose(c, in[2], 1, 2)};
    return genc_concat(c, ts, 3, *(int *)u);
}

typedef struct {
    int axis, n, part; /* part < 0: concat all parts in reverse order */
    int64_t sizes[4];
} split_arg;

static genc_tensor *f_split(genc_ctx *c, genc_tensor **in, void *u) {
    split_arg *a = u;
    genc_tensor *parts[4];
    if (genc_split(c, in[0], a->axis, a->sizes, a->n, parts)) return NULL;
    if (a->part >= 0) return parts[a->part];
    genc_tensor *rev[4];
    for (int k = 0; k < a->n; k++) rev[k] = parts[a->n - 1 - k];
    return genc_concat(c, rev, a->n, a->axis);
}

static void check_gather_scatter(genc_ctx *ctx) {
    int32_t ids[7] = {3, 0, 3, 4, 3, 1, 0}; /* repeats: 3 three times, 0 twice; 2 never */
    idx_arg a = {ids, 7};
    int64_t st[2] = {5, 4};
    genc_tensor *table = gc_input(ctx, 2, st, 1);
    gradcheck(ctx, "embedding repeated ids", f_embedding, &table, 1, &a, 1e-7, 1e-9);
    gradcheck(ctx, "gather_rows repeated", f_gather, &table, 1, &a, 1e-7, 1e-9);
    int64_t ss[2] = {7, 130}; /* > 64 columns: several scatter column blocks */
    genc_tensor *src = gc_input(ctx, 2, ss, 2);
    idx_arg s = {ids, 5};
    gradcheck(ctx, "scatter_add_rows collisions", f_scatter, &src, 1, &s, 1e-7, 1e-9);
    int64_t sx[2] = {3, 5};
    genc_tensor *x = gc_input(ctx, 2, sx, 3);
    int32_t small[6] = {2, 0, 2, 3, 2, 0};
    idx_arg d = {small, 6};
    gradcheck(ctx, "gather(view) + scatter_add", f_dispatch_combine, &x, 1, &d, 1e-7, 1e-9);
    /* scatter forward value: collisions add up */
    genc_step_reset(ctx);
    genc_tensor *y = genc_scatter_add_rows(ctx, src, ids, 5);
    CHECK(y && y->shape[0] == 5 && y->shape[1] == 130);
    if (y) CHECK_CLOSE(y->data[3 * 130 + 7], src->data[7] + src->data[2 * 130 + 7] + src->data[4 * 130 + 7], 1e-12, 0);
    if (y) CHECK(y->data[2 * 130] == 0);
    genc_tensor_free(table), genc_tensor_free(src), genc_tensor_free(x);
}

static void check_concat_split(genc_ctx *ctx) {
    int64_t shapes[3][3][3] = {
        {{2, 3, 4}, {1, 3, 4}, {3, 4, 3}}, /* axis 0; third is [3, 3, 4] once transposed */
        {{2, 1, 4}, {2, 2, 4}, {2, 4, 3}}, /* axis 1 */
        {{2, 3, 1}, {2, 3, 2}, {2, 4, 3}}, /* axis 2 (last) */
    };
    const char *names[3] = {"concat axis 0", "concat axis 1", "concat axis -1"};
    for (int ax = 0; ax < 3; ax++) {
        genc_tensor *in[3];
        for (int k = 0; k < 3; k++) in[k] = gc_input(ctx, 3, shapes[ax][k], 10 + 3 * ax + k);
        int axis = ax == 2 ? -1 : ax;
        gradcheck(ctx, names[ax], f_concat, in, 3, &axis, 1e-7, 1e-9);
        for (int k = 0; k < 3; k++) genc_tensor_free(in[k]);
    }
    int64_t sa[3] = {2, 6, 5};
    genc_tensor *a = gc_input(ctx, 3, sa, 20);
    split_arg parts[] = {{1, 3, 0, {1, 3, 2}}, {1, 3, 1, {1, 3, 2}}, {1, 3, 2, {1, 3, 2}},
                         {1, 3, -1, {1, 3, 2}}, {-1, 3, -1, {2, 1, 2}}, {0, 2, -1, {1, 1}}};
    char name[64];
    for (size_t i = 0; i < sizeof parts / sizeof *parts; i++) {
        snprintf(name, sizeof name, "split axis %d part %d", parts[i].axis, parts[i].part);
        gradcheck(ctx, name, f_split, &a, 1, &parts[i], 1e-7, 1e-9);
    }
    genc_step_reset(ctx); /* forward values of concat(split(a)) in order equal a */
    genc_tensor *p[3];
    CHECK(genc_split(ctx, a, 1, parts[0].sizes, 3, p) == GENC_OK);
    genc_tensor *back = genc_concat(ctx, p, 3, 1);
    CHECK(back && memcmp(back->data, a->data, 60 * sizeof(genc_real)) == 0);
    genc_tensor_free(a);
}

static void check_errors(genc_ctx *ctx) {
    int64_t st[2] = {5, 4};
    genc_tensor *t = gc_input(ctx, 2, st, 1);
    genc_step_reset(ctx);
    int32_t bad[3] = {1, 7, 2}, neg[2] = {0, -1};
    CHECK(genc_embedding(ctx, t, bad, 3) == NULL && genc_ctx_status(ctx) == GENC_EINVAL);
    CHECK_MSG(strstr(genc_last_error(ctx), "ids[1] = 7") && strstr(genc_last_error(ctx), "V = 5"), "%s",
              genc_last_error(ctx));
    genc_clear_error(ctx);
    CHECK(genc_gather_rows(ctx, t, neg, 2) == NULL && strstr(genc_last_error(ctx), "idx[1] = -1"));
    genc_clear_error(ctx);
    int32_t bad5[5] = {0, 1, 2, 9, 3};
    CHECK(genc_scatter_add_rows(ctx, t, bad5, 6) == NULL && strstr(genc_last_error(ctx), "idx[3] = 9") &&
          strstr(genc_last_error(ctx), "n_rows = 6"));
    genc_clear_error(ctx);
    int32_t ok[5] = {0, 1, 2, 3, 4};
    CHECK(genc_scatter_add_rows(ctx, t, ok, 0) == NULL);
    genc_clear_error(ctx);
    CHECK(genc_embedding(ctx, t, ok, 0) == NULL);
    genc_clear_error(ctx);
    int64_t so[2] = {5, 3};
    genc_tensor *o = gc_input(ctx, 2, so, 2);
    genc_tensor *ts[2] = {t, o};
    CHECK(genc_concat(ctx, ts, 2, 0) == NULL && strstr(genc_last_error(ctx), "[5, 3]"));
    genc_clear_error(ctx);
    CHECK(genc_concat(ctx, ts, 2, 1) != NULL); /* fine on the last axis */
    CHECK(genc_concat(ctx, ts, 2, 2) == NULL);
    genc_clear_error(ctx);
    genc_tensor *parts[2];
    int64_t sizes[2] = {2, 2};
    CHECK(genc_split(ctx, t, 0, sizes, 2, parts) == GENC_EINVAL && parts[0] == NULL);
    genc_clear_error(ctx);
    CHECK(genc_embedding(ctx, NULL, ok, 5) == NULL && genc_ctx_status(ctx) == GENC_OK); /* NULL propagates */
    ts[1] = NULL;
    CHECK(genc_concat(ctx, ts, 2, 0) == NULL && genc_ctx_status(ctx) == GENC_OK);
    genc_tensor_free(t), genc_tensor_free(o);
}

int main(void) {
    genc_ctx *ctx = genc_ctx_new();
    check_gather_scatter(ctx);
    check_concat_split(ctx);
    check_errors(ctx);
    genc_ctx_free(ctx);
    return test_report("grad_index");
}
