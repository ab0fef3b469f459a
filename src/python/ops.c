/* genc._genc ops: the engine's ops as Tensor operators, methods and module functions.
 * Each op is a forward builder (arena tensors in, arena tensor out) that pg_run_op runs
 * and, when backward needs it, replays; indexing views get their own small node. */
#include "python/pygenc.h"
#include "genc/genc.h"

#include <math.h>
#include <string.h>

static TensorObject *T(PyObject *o) { return (TensorObject *)o; }

/* IndexError for a 0-d tensor where the op needs dims (matmul, transpose, concat, expand,
 * cross_entropy's logits), as PyTorch. */
static int refuse_0d(PyObject *o, const char *what) {
    if (!Tensor_Check(o) || !T(o)->scalar) return 0;
    PyErr_Format(PyExc_IndexError, "%s: a 0-d tensor has no dims (reshape(1) makes it 1-d)", what);
    return -1;
}

/* Run an op on Python objects converted to tensors (None stays NULL); a long one (matmul,
 * linear, conv2d) on W, with the GIL released. */
static PyObject *run_ex(const char *name, op_fwd fwd, int n, PyObject **objs, OpArgs *a, bool view, bool is_long) {
    TensorObject *in[8] = {0};
    for (int i = 0; i < n; i++) {
        if (!objs[i] || objs[i] == Py_None) continue;
        in[i] = T(pg_as_tensor(objs[i]));
        if (!in[i]) {
            for (int j = 0; j < i; j++) Py_XDECREF(in[j]);
            pg_args_free(a);
            return NULL;
        }
    }
    PyObject *r = is_long ? pg_run_long_op(name, fwd, n, in, a) : pg_run_op(name, fwd, n, in, a, NULL, NULL, view);
    for (int i = 0; i < n; i++) Py_XDECREF(in[i]);
    return r;
}
static PyObject *run(const char *name, op_fwd fwd, int n, PyObject **objs, OpArgs *a, bool view) {
    return run_ex(name, fwd, n, objs, a, view, false);
}

/* ---- forward builders ---- */

typedef genc_tensor *(*bin_fn)(genc_ctx *, genc_tensor *, genc_tensor *);
typedef genc_tensor *(*un_fn)(genc_ctx *, genc_tensor *);
static const bin_fn bin_fns[] = {genc_add, genc_sub, genc_mul, genc_div, genc_matmul};
static const char *const bin_names[] = {"add", "sub", "mul", "div", "matmul"};
enum { B_ADD, B_SUB, B_MUL, B_DIV, B_MATMUL };
static const un_fn un_fns[] = {genc_exp, genc_log, genc_tanh, genc_sigmoid, genc_relu, genc_silu, genc_gelu,
                               genc_softplus, genc_square, genc_sqrt, genc_softmax, genc_log_softmax, genc_contiguous};
static const char *const un_names[] = {"exp", "log", "tanh", "sigmoid", "relu", "silu", "gelu",
                                       "softplus", "square", "sqrt", "softmax", "log_softmax", "contiguous"};

static genc_tensor *f_binary(genc_ctx *c, genc_tensor **in, int n, OpArgs *a) { return bin_fns[a->i[0]](c, in[0], in[1]); }
static genc_tensor *f_unary(genc_ctx *c, genc_tensor **in, int n, OpArgs *a) { return un_fns[a->i[0]](c, in[0]); }

/* scalar forms: i[0] = kind; f[0] = s */
enum { S_ADD, S_MUL, S_RSUB, S_RDIV };
static genc_tensor *f_scalar(genc_ctx *c, genc_tensor **in, int n, OpArgs *a) {
    double s = a->f[0];
    switch (a->i[0]) {
    case S_ADD: return genc_add_scalar(c, in[0], s);
    case S_MUL: return genc_scale(c, in[0], s);
    case S_RSUB: return genc_add_scalar(c, genc_scale(c, in[0], -1), s);
    case S_RDIV: {
        int64_t one = 1;
        genc_tensor *k = genc_tensor_empty(c, 1, &one);
        if (k) k->data[0] = (genc_real)s;
        return genc_div(c, k, in[0]);
    }
    }
    return NULL;
}

/* f[0] = p; i[0]: p is an integer. An integer power is products (square and multiply, a
 * reciprocal for p < 0): exact, with the sign of a negative base, and its gradient p x^(p-1)
 * comes from the products. Other powers are exp(p log x) (NaN for x < 0, as in PyTorch). */
static genc_tensor *f_pow(genc_ctx *c, genc_tensor **in, int n, OpArgs *a) {
    double p = a->f[0];
    if (!a->i[0]) return genc_exp(c, genc_scale(c, genc_log(c, in[0]), p));
    if (p == 0) return genc_add_scalar(c, genc_scale(c, in[0], 0), 1);
    genc_tensor *r = NULL, *b = in[0];
    for (int64_t k = (int64_t)fabs(p); k && b; k >>= 1) {
        if (k & 1) r = r ? genc_mul(c, r, b) : b;
        if (k > 1) b = genc_mul(c, b, b);
    }
    if (!r || !b) return NULL;
    if (p > 0) return r;
    int64_t one = 1;
    genc_tensor *k1 = genc_tensor_empty(c, 1, &one);
    if (!k1) return NULL;
    k1->data[0] = 1;
    return genc_div(c, k1, r);
}

/* i[0] = axis (or INT64_MIN: all), i[1] = keepdim, i[2] = mean */
static genc_tensor *f_reduce(genc_ctx *c, genc_tensor **in, int n, OpArgs *a) {
    if (a->i[0] == INT64_MIN) return a->i[2] ? genc_mean_all(c, in[0]) : genc_sum_all(c, in[0]);
    return a->i[2] ? genc_mean(c, in[0], (int)a->i[0], a->i[1]) : genc_sum(c, in[0], (int)a->i[0], a->i[1]);
}

static genc_tensor *f_reshape(genc_ctx *c, genc_tensor **in, int n, OpArgs *a) {
    return genc_reshape(c, in[0], (int)a->i[0], a->i + 1);
}
static genc_tensor *f_transpose(genc_ctx *c, genc_tensor **in, int n, OpArgs *a) {
    return genc_transpose(c, in[0], (int)a->i[0], (int)a->i[1]);
}
/* genc_linear reads its weight and bias as contiguous: a view (w.t(), a column) is copied
 * first (with its own backward). */
static genc_tensor *f_linear(genc_ctx *c, genc_tensor **in, int n, OpArgs *a) {
    genc_tensor *w = in[1] && !genc_is_contiguous(in[1]) ? genc_contiguous(c, in[1]) : in[1];
    genc_tensor *b = in[2] && !genc_is_contiguous(in[2]) ? genc_contiguous(c, in[2]) : in[2];
    if ((in[1] && !w) || (in[2] && !b)) return NULL;
    return genc_linear(c, in[0], w, b);
}
static genc_tensor *f_conv(genc_ctx *c, genc_tensor **in, int n, OpArgs *a) {
    return genc_conv2d(c, in[0], in[1], in[2], (int)a->i[0], (int)a->i[1]);
}
static genc_tensor *f_maxpool(genc_ctx *c, genc_tensor **in, int n, OpArgs *a) { return genc_maxpool2x2(c, in[0]); }
static genc_tensor *f_avgpool(genc_ctx *c, genc_tensor **in, int n, OpArgs *a) { return genc_avgpool2x2(c, in[0]); }
static genc_tensor *f_rmsnorm(genc_ctx *c, genc_tensor **in, int n, OpArgs *a) { return genc_rmsnorm(c, in[0], in[1], a->f[0]); }
static genc_tensor *f_layernorm(genc_ctx *c, genc_tensor **in, int n, OpArgs *a) {
    return genc_layernorm(c, in[0], in[1], in[2], a->f[0]);
}
static genc_tensor *f_embedding(genc_ctx *c, genc_tensor **in, int n, OpArgs *a) {
    genc_tensor *e = genc_embedding(c, in[0], a->ids, a->n_ids);
    if (!e || a->i[0] <= 1) return e;
    return genc_reshape(c, e, (int)a->i[0] + 1, a->i + 1); /* ids of shape [B, T] -> [B, T, C] */
}
static genc_tensor *f_xent(genc_ctx *c, genc_tensor **in, int n, OpArgs *a) {
    return genc_cross_entropy(c, in[0], a->ids, (int32_t)a->i[0]);
}
static genc_tensor *f_dropout(genc_ctx *c, genc_tensor **in, int n, OpArgs *a) { return genc_dropout(c, in[0], a->f[0]); }
static genc_tensor *f_concat(genc_ctx *c, genc_tensor **in, int n, OpArgs *a) { return genc_concat(c, in, n, (int)a->i[0]); }
static genc_tensor *f_swiglu(genc_ctx *c, genc_tensor **in, int n, OpArgs *a) { return genc_swiglu(c, in[0], in[1]); }
static genc_tensor *f_attention(genc_ctx *c, genc_tensor **in, int n, OpArgs *a) {
    return genc_attention(c, in[0], in[1], in[2], a->f[0], a->i[0], NULL);
}
static genc_tensor *f_rope(genc_ctx *c, genc_tensor **in, int n, OpArgs *a) { return genc_rope(c, in[0], a->ids, a->f[0]); }
static genc_tensor *f_expand(genc_ctx *c, genc_tensor **in, int n, OpArgs *a) {
    return genc_expand(c, in[0], (int)a->i[0], a->i[1]);
}
static genc_tensor *f_gather(genc_ctx *c, genc_tensor **in, int n, OpArgs *a) { return genc_gather_rows(c, in[0], a->ids, a->n_ids); }
static genc_tensor *f_take(genc_ctx *c, genc_tensor **in, int n, OpArgs *a) {
    return genc_take_along(c, in[0], a->ids, a->i[0]);
}

/* GRPO: r = [old_logp | ref_logp | adv | weight] each N, i[0] = has ref; f: eps_low, eps_high, beta */
static genc_tensor *f_grpo(genc_ctx *c, genc_tensor **in, int n, OpArgs *a) {
    int64_t N = a->n_ids;
    genc_grpo_batch b = {.actions = a->ids, .old_logp = a->r, .ref_logp = a->i[0] ? a->r + N : NULL,
                         .adv = a->r + 2 * N, .weight = a->r + 3 * N, .eps_low = a->f[0], .eps_high = a->f[1],
                         .beta = a->f[2]};
    return genc_grpo_loss(c, in[0], &b, a->out_aux);
}

/* ---- operators ---- */

static bool is_number(PyObject *o) { return PyFloat_Check(o) || PyLong_Check(o); }

PyObject *pg_binary(PyObject *x, PyObject *y, int kind) {
    OpArgs a = {0};
    if (kind != B_MATMUL && (is_number(x) || is_number(y))) {
        bool right = is_number(x); /* number op tensor */
        PyObject *t = right ? y : x;
        double s = PyFloat_AsDouble(right ? x : y);
        if (!Tensor_Check(t)) Py_RETURN_NOTIMPLEMENTED;
        switch (kind) {
        case B_ADD: a.i[0] = S_ADD, a.f[0] = s; break;
        case B_SUB: a.i[0] = right ? S_RSUB : S_ADD, a.f[0] = right ? s : -s; break;
        case B_MUL: a.i[0] = S_MUL, a.f[0] = s; break;
        case B_DIV:
            if (!right && s == 0) return PyErr_Format(PyExc_ZeroDivisionError, "division of a tensor by zero");
            a.i[0] = right ? S_RDIV : S_MUL, a.f[0] = right ? s : 1.0 / s;
            break;
        }
        return run(bin_names[kind], f_scalar, 1, &t, &a, false);
    }
    if (!(Tensor_Check(x) || Tensor_Check(y))) Py_RETURN_NOTIMPLEMENTED;
    if (!(Tensor_Check(x) || PyObject_CheckBuffer(x) || PyList_Check(x)) ||
        !(Tensor_Check(y) || PyObject_CheckBuffer(y) || PyList_Check(y)))
        Py_RETURN_NOTIMPLEMENTED;
    if (kind == B_MATMUL && (refuse_0d(x, "matmul") || refuse_0d(y, "matmul"))) return NULL;
    a.i[0] = kind;
    PyObject *objs[2] = {x, y};
    return run_ex(bin_names[kind], f_binary, 2, objs, &a, false, kind == B_MATMUL);
}

static PyObject *nb_add(PyObject *x, PyObject *y) { return pg_binary(x, y, B_ADD); }
static PyObject *nb_sub(PyObject *x, PyObject *y) { return pg_binary(x, y, B_SUB); }
static PyObject *nb_mul(PyObject *x, PyObject *y) { return pg_binary(x, y, B_MUL); }
static PyObject *nb_div(PyObject *x, PyObject *y) { return pg_binary(x, y, B_DIV); }
static PyObject *nb_matmul(PyObject *x, PyObject *y) { return pg_binary(x, y, B_MATMUL); }
static PyObject *nb_neg(PyObject *x) {
    OpArgs a = {.i = {S_MUL}, .f = {-1}};
    return run("neg", f_scalar, 1, &x, &a, false);
}
static PyObject *nb_pos(PyObject *x) {
    Py_INCREF(x);
    return x;
}
static PyObject *unary(PyObject *x, int k) {
    OpArgs a = {.i = {k}};
    return run(un_names[k], f_unary, 1, &x, &a, false);
}

static PyObject *nb_pow(PyObject *x, PyObject *y, PyObject *z) {
    if (!Tensor_Check(x) || !is_number(y) || z != Py_None) Py_RETURN_NOTIMPLEMENTED;
    double p = PyFloat_AsDouble(y);
    if (p == 2) return unary(x, 8);
    if (p == 0.5) return unary(x, 9);
    if (p == 1) return nb_pos(x);
    if (p == -1) {
        PyObject *one = PyFloat_FromDouble(1);
        PyObject *r = pg_binary(one, x, B_DIV);
        Py_DECREF(one);
        return r;
    }
    OpArgs a = {.f = {p}, .i = {p == nearbyint(p) && fabs(p) < 0x1p31}};
    return run("pow", f_pow, 1, &x, &a, false);
}

/* In-place: the same op computed without a graph, written back into self. */
static PyObject *inplace(PyObject *x, PyObject *y, int kind) {
    TensorObject *t = T(x);
    if (pg_check_writable(t, "in-place op")) return NULL;
    if (pg_grad_enabled() && t->t.requires_grad)
        return PyErr_Format(PyExc_RuntimeError,
                            "in-place op on a tensor that requires grad (%s); do it under genc.no_grad() or on a "
                            ".detach()ed copy", t->grad_fn ? "it is in the autograd graph" : "a leaf");
    bool old = pg_set_grad_enabled(false);
    PyObject *r = kind == -1 ? (Py_INCREF(y), y) : pg_binary(x, y, kind);
    pg_set_grad_enabled(old);
    if (!r || r == Py_NotImplemented) return r;
    PyObject *src = pg_as_tensor(r);
    Py_DECREF(r);
    if (!src) return NULL;
    TensorObject *s = T(src);
    if (genc_numel(&s->t) == 1 && genc_numel(&t->t) != 1) {
        genc_real v = s->t.data[0];
        genc_tensor h = t->t;
        int64_t sh[4], st[4];
        genc_pad4(&h, sh, st);
        for (int64_t i0 = 0; i0 < sh[0]; i0++)
            for (int64_t i1 = 0; i1 < sh[1]; i1++)
                for (int64_t i2 = 0; i2 < sh[2]; i2++)
                    for (int64_t i3 = 0; i3 < sh[3]; i3++) h.data[i0 * st[0] + i1 * st[1] + i2 * st[2] + i3 * st[3]] = v;
    } else if (genc_copy(G.ctx, &t->t, &s->t)) {
        Py_DECREF(src);
        return pg_raise(genc_ctx_status(G.ctx));
    }
    Py_DECREF(src);
    pg_bump(t);
    Py_INCREF(x);
    return x;
}
static PyObject *nb_iadd(PyObject *x, PyObject *y) { return inplace(x, y, B_ADD); }
static PyObject *nb_isub(PyObject *x, PyObject *y) { return inplace(x, y, B_SUB); }
static PyObject *nb_imul(PyObject *x, PyObject *y) { return inplace(x, y, B_MUL); }
static PyObject *nb_idiv(PyObject *x, PyObject *y) { return inplace(x, y, B_DIV); }

PyNumberMethods pg_tensor_number = {
    .nb_add = nb_add, .nb_subtract = nb_sub, .nb_multiply = nb_mul, .nb_true_divide = nb_div,
    .nb_matrix_multiply = nb_matmul, .nb_negative = nb_neg, .nb_positive = nb_pos, .nb_power = nb_pow,
    .nb_inplace_add = nb_iadd, .nb_inplace_subtract = nb_isub, .nb_inplace_multiply = nb_imul,
    .nb_inplace_true_divide = nb_idiv,
};

/* ---- indexing: basic (ints, slices with step > 0, Ellipsis) views ---- */

typedef struct {
    int in_ndim, out_ndim;
    int64_t start[4], step[4], len[4];
    bool keep[4];
} index_plan;

static int plan_index(const genc_tensor *t, PyObject *key, index_plan *p) {
    PyObject *items = PyTuple_Check(key) ? (Py_INCREF(key), key) : PyTuple_Pack(1, key);
    if (!items) return -1;
    Py_ssize_t nk = PyTuple_GET_SIZE(items), ell = -1, used = 0;
    for (Py_ssize_t i = 0; i < nk; i++) {
        PyObject *k = PyTuple_GET_ITEM(items, i);
        if (k == Py_Ellipsis) ell = i;
        else used++;
    }
    if (used > t->ndim) {
        Py_DECREF(items);
        PyErr_Format(PyExc_IndexError, "too many indices: %zd for a %d-d tensor", used, t->ndim);
        return -1;
    }
    p->in_ndim = t->ndim;
    int d = 0;
    for (Py_ssize_t i = 0; i < nk; i++) {
        if (i == ell) { /* Ellipsis: full slices for the dims no other index takes */
            for (int f = 0; f < t->ndim - (int)used; f++, d++)
                p->start[d] = 0, p->step[d] = 1, p->len[d] = t->shape[d], p->keep[d] = true;
            continue;
        }
        PyObject *k = PyTuple_GET_ITEM(items, i);
        if (PyLong_Check(k) || PyIndex_Check(k)) {
            Py_ssize_t v = PyNumber_AsSsize_t(k, PyExc_IndexError);
            if (v == -1 && PyErr_Occurred()) goto fail;
            if (v < 0) v += t->shape[d];
            if (v < 0 || v >= t->shape[d]) {
                PyErr_Format(PyExc_IndexError, "index %zd is out of bounds for dim %d of size %lld",
                             PyNumber_AsSsize_t(k, NULL), d, (long long)t->shape[d]);
                goto fail;
            }
            p->start[d] = v, p->step[d] = 1, p->len[d] = 1, p->keep[d] = false;
            d++;
        } else if (PySlice_Check(k)) {
            Py_ssize_t s0, s1, st;
            if (PySlice_Unpack(k, &s0, &s1, &st) < 0) goto fail;
            if (st < 1) {
                PyErr_SetString(PyExc_ValueError, "genc slices need a positive step");
                goto fail;
            }
            Py_ssize_t len = PySlice_AdjustIndices(t->shape[d], &s0, &s1, st);
            if (len < 1) {
                PyErr_Format(PyExc_IndexError, "empty slice of dim %d (genc tensors have no empty dims)", d);
                goto fail;
            }
            p->start[d] = s0, p->step[d] = st, p->len[d] = len, p->keep[d] = true;
            d++;
        } else {
            PyErr_Format(PyExc_TypeError, "genc indices are ints, slices and ..., found %s", Py_TYPE(k)->tp_name);
            goto fail;
        }
    }
    for (; d < t->ndim; d++) p->start[d] = 0, p->step[d] = 1, p->len[d] = t->shape[d], p->keep[d] = true;
    p->out_ndim = 0;
    for (int i = 0; i < t->ndim; i++) p->out_ndim += p->keep[i];
    Py_DECREF(items);
    return 0;
fail:
    Py_DECREF(items);
    return -1;
}

/* The view header of `in` that plan p selects (physical strides) and, for backward, its
 * offset and strides in the input's contiguous layout. */
static void plan_apply(const genc_tensor *in, const index_plan *p, genc_tensor *out, int64_t *coff, int64_t *cstride) {
    int64_t cs[4], s = 1;
    for (int i = in->ndim - 1; i >= 0; i--) cs[i] = s, s *= in->shape[i];
    *out = *in;
    out->data = in->data;
    *coff = 0;
    int o = 0;
    for (int i = 0; i < in->ndim; i++) {
        out->data += p->start[i] * in->stride[i];
        *coff += p->start[i] * cs[i];
        if (p->keep[i]) {
            out->shape[o] = p->len[i];
            out->stride[o] = in->stride[i] * p->step[i];
            cstride[o] = cs[i] * p->step[i];
            o++;
        }
    }
    if (o == 0) out->shape[0] = 1, out->stride[0] = 1, cstride[0] = 0, o = 1;
    out->ndim = o;
    for (int i = o; i < 4; i++) out->shape[i] = 1, out->stride[i] = 1, cstride[i] = 0;
}

static void index_backward(genc_ctx *ctx, genc_node *n) {
    genc_real *gi = genc_grad(ctx, n->in[0]);
    if (!gi) return;
    genc_tensor *out = n->out;
    int64_t sh[4], os[4], cst[4];
    int pad = 4 - out->ndim;
    for (int i = 0; i < 4; i++) {
        sh[i] = i < pad ? 1 : out->shape[i - pad];
        cst[i] = i < pad ? 0 : n->iarg[1 + i - pad];
    }
    genc_contig_strides4(sh, os);
    genc_strided_apply(sh, gi + n->iarg[0], cst, out->grad, os, true);
}

/* ids: the plan (16 int32) */
static genc_tensor *f_index(genc_ctx *c, genc_tensor **in, int n, OpArgs *a) {
    index_plan p;
    memcpy(&p, a->r, sizeof p);
    genc_tensor *out = genc_arena_calloc(c, sizeof *out);
    if (!out) return NULL;
    int64_t coff, cstride[4];
    plan_apply(in[0], &p, out, &coff, cstride);
    out->grad = NULL, out->node = NULL, out->requires_grad = false, out->persistent = out->owns_data = false;
    genc_node *nd = genc_record(c, "index", index_backward, out, 1, in);
    if (nd) {
        nd->iarg[0] = coff;
        for (int i = 0; i < 4; i++) nd->iarg[1 + i] = cstride[i];
    }
    return out;
}

/* A 0-d tensor takes only t[()] and t[...] (itself, as a view); other keys raise IndexError. */
static int plan_index_0d(TensorObject *t, PyObject *key, index_plan *p) {
    if (!t->scalar) return plan_index(&t->t, key, p);
    bool ok = key == Py_Ellipsis || (PyTuple_Check(key) && PyTuple_GET_SIZE(key) == 0) ||
              (PyTuple_Check(key) && PyTuple_GET_SIZE(key) == 1 && PyTuple_GET_ITEM(key, 0) == Py_Ellipsis);
    if (!ok) {
        PyErr_SetString(PyExc_IndexError, "invalid index of a 0-d tensor (only t[()] and t[...]; t.item() is its value)");
        return -1;
    }
    PyObject *none = PyTuple_New(0);
    int r = none ? plan_index(&t->t, none, p) : -1;
    Py_XDECREF(none);
    return r;
}

PyObject *pg_getitem(TensorObject *t, PyObject *key) {
    OpArgs a = {0};
    index_plan p;
    if (plan_index_0d(t, key, &p)) return NULL;
    a.r = malloc(sizeof p);
    if (!a.r) return PyErr_NoMemory();
    memcpy(a.r, &p, sizeof p);
    PyObject *o = (PyObject *)t;
    PyObject *r = run("index", f_index, 1, &o, &a, true);
    return p.out_ndim == 0 ? pg_scalar(r) : r; /* every dim taken by an int: a 0-d view, as in PyTorch */
}

int pg_setitem(TensorObject *t, PyObject *key, PyObject *value) {
    index_plan p;
    if (plan_index_0d(t, key, &p)) return -1;
    genc_tensor view;
    int64_t coff, cs[4];
    plan_apply(&t->t, &p, &view, &coff, cs);
    TensorObject *v = pg_tensor_view(t->storage, view.ndim, view.shape, view.stride, view.data);
    if (!v) return -1;
    v->t.requires_grad = t->t.requires_grad;
    PyObject *r = inplace((PyObject *)v, value, -1);
    Py_DECREF(v);
    if (!r) return -1;
    Py_DECREF(r);
    return 0;
}

/* ---- Tensor methods ---- */

#define UNARY_METHOD(fname, k) \
    static PyObject *m_##fname(PyObject *x, PyObject *u) { return unary(x, k); }
UNARY_METHOD(exp, 0)
UNARY_METHOD(log, 1)
UNARY_METHOD(tanh, 2)
UNARY_METHOD(sigmoid, 3)
UNARY_METHOD(relu, 4)
UNARY_METHOD(silu, 5)
UNARY_METHOD(gelu, 6)
UNARY_METHOD(softplus, 7)
UNARY_METHOD(square, 8)
UNARY_METHOD(sqrt, 9)
UNARY_METHOD(softmax, 10)
UNARY_METHOD(log_softmax, 11)
UNARY_METHOD(contiguous, 12)

static PyObject *reduce(PyObject *x, PyObject *args, PyObject *kw, bool mean) {
    static char *kwlist[] = {"axis", "keepdim", NULL};
    PyObject *axis = Py_None;
    int keep = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|Op", kwlist, &axis, &keep)) return NULL;
    OpArgs a = {.i = {INT64_MIN, keep, mean}};
    if (axis != Py_None) {
        a.i[0] = PyLong_AsLongLong(axis);
        if (a.i[0] == -1 && PyErr_Occurred()) return NULL;
    }
    /* 0-d results, as in PyTorch: a full reduction, a 1-d tensor reduced over its dim, or a 0-d input */
    bool zero_d = Tensor_Check(x) && (T(x)->scalar || (!keep && (axis == Py_None || T(x)->t.ndim == 1)));
    PyObject *r = run(mean ? "mean" : "sum", f_reduce, 1, &x, &a, false);
    return zero_d ? pg_scalar(r) : r;
}
static PyObject *m_sum(PyObject *x, PyObject *args, PyObject *kw) { return reduce(x, args, kw, false); }
static PyObject *m_mean(PyObject *x, PyObject *args, PyObject *kw) { return reduce(x, args, kw, true); }

/* reshape(()) of a one-element tensor is 0-d; any other shape gives a tensor with dims. */
static PyObject *m_reshape(PyObject *x, PyObject *args) {
    OpArgs a = {0};
    int nd;
    if (pg_parse_shape0(args, &nd, a.i + 1)) return NULL;
    bool zero_d = nd == 0;
    if (zero_d) {
        if (genc_numel(&T(x)->t) != 1)
            return PyErr_Format(PyExc_ValueError, "reshape: shape () is invalid for %lld elements (0-d holds one)",
                                (long long)genc_numel(&T(x)->t));
        nd = 1, a.i[1] = 1;
    }
    a.i[0] = nd;
    PyObject *r = run("reshape", f_reshape, 1, &x, &a, genc_is_contiguous(&T(x)->t));
    if (r) T(r)->scalar = false; /* reshape(1) of a 0-d tensor is 1-d */
    return zero_d ? pg_scalar(r) : r;
}
static PyObject *m_transpose(PyObject *x, PyObject *args) {
    int d0 = -2, d1 = -1;
    if (!PyArg_ParseTuple(args, "|ii:transpose", &d0, &d1)) return NULL;
    if (refuse_0d(x, "transpose")) return NULL;
    OpArgs a = {.i = {d0, d1}};
    return run("transpose", f_transpose, 1, &x, &a, true);
}
static PyObject *m_T(PyObject *x, PyObject *u) {
    OpArgs a = {.i = {-2, -1}};
    if (T(x)->t.ndim < 2) return PyErr_Format(PyExc_ValueError, "T: expected at least 2 dims, found %d", T(x)->t.ndim);
    return run("transpose", f_transpose, 1, &x, &a, true);
}

static PyObject *m_fill_(PyObject *x, PyObject *v) { return inplace(x, v, -1); }
static PyObject *m_zero_(PyObject *x, PyObject *u) {
    PyObject *z = PyFloat_FromDouble(0);
    PyObject *r = inplace(x, z, -1);
    Py_DECREF(z);
    return r;
}
static PyObject *m_copy_(PyObject *x, PyObject *v) { return inplace(x, v, -1); }
static PyObject *m_add_(PyObject *x, PyObject *v) { return inplace(x, v, B_ADD); }
static PyObject *m_sub_(PyObject *x, PyObject *v) { return inplace(x, v, B_SUB); }
static PyObject *m_mul_(PyObject *x, PyObject *v) { return inplace(x, v, B_MUL); }

PyMethodDef pg_tensor_op_methods[] = {
    {"exp", m_exp, METH_NOARGS, "e^x"},
    {"log", m_log, METH_NOARGS, "natural log"},
    {"tanh", m_tanh, METH_NOARGS, "tanh"},
    {"sigmoid", m_sigmoid, METH_NOARGS, "logistic sigmoid"},
    {"relu", m_relu, METH_NOARGS, "max(x, 0)"},
    {"silu", m_silu, METH_NOARGS, "x sigmoid(x)"},
    {"gelu", m_gelu, METH_NOARGS, "exact GELU"},
    {"softplus", m_softplus, METH_NOARGS, "log(1 + e^x)"},
    {"square", m_square, METH_NOARGS, "x^2"},
    {"sqrt", m_sqrt, METH_NOARGS, "square root"},
    {"softmax", m_softmax, METH_NOARGS, "softmax over the last axis"},
    {"log_softmax", m_log_softmax, METH_NOARGS, "log-softmax over the last axis"},
    {"contiguous", m_contiguous, METH_NOARGS, "a contiguous tensor (itself when already)"},
    {"sum", (PyCFunction)(void (*)(void))m_sum, METH_VARARGS | METH_KEYWORDS, "sum(axis=None, keepdim=False)"},
    {"mean", (PyCFunction)(void (*)(void))m_mean, METH_VARARGS | METH_KEYWORDS, "mean(axis=None, keepdim=False)"},
    {"reshape", m_reshape, METH_VARARGS, "reshape(*shape); -1 infers one dim (a view when contiguous)"},
    {"view", m_reshape, METH_VARARGS, "same as reshape"},
    {"transpose", m_transpose, METH_VARARGS, "transpose(d0=-2, d1=-1): a view"},
    {"t", m_T, METH_NOARGS, "the last two dims swapped (a view)"},
    {"fill_", m_fill_, METH_O, "in place: every element = v"},
    {"zero_", m_zero_, METH_NOARGS, "in place: zeros"},
    {"copy_", m_copy_, METH_O, "in place: copy from a tensor of the same shape (or a number)"},
    {"add_", m_add_, METH_O, "in place +="},
    {"sub_", m_sub_, METH_O, "in place -="},
    {"mul_", m_mul_, METH_O, "in place *="},
    {NULL},
};

/* ---- module functions ---- */

static PyObject *fn_matmul(PyObject *s, PyObject *args) {
    PyObject *a, *b;
    if (!PyArg_ParseTuple(args, "OO:matmul", &a, &b)) return NULL;
    return pg_binary(a, b, B_MATMUL);
}

#define FN_UNARY(fname, k) \
    static PyObject *fn_##fname(PyObject *s, PyObject *x) { return unary(x, k); }
FN_UNARY(exp, 0)
FN_UNARY(log, 1)
FN_UNARY(tanh, 2)
FN_UNARY(sigmoid, 3)
FN_UNARY(relu, 4)
FN_UNARY(silu, 5)
FN_UNARY(gelu, 6)
FN_UNARY(softplus, 7)
FN_UNARY(sqrt, 9)
FN_UNARY(softmax, 10)
FN_UNARY(log_softmax, 11)

static PyObject *fn_linear(PyObject *s, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"x", "weight", "bias", NULL};
    PyObject *o[3] = {0, 0, Py_None};
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OO|O:linear", kwlist, &o[0], &o[1], &o[2])) return NULL;
    OpArgs a = {0};
    return run_ex("linear", f_linear, 3, o, &a, false, true);
}

static PyObject *fn_conv2d(PyObject *s, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"x", "weight", "bias", "stride", "padding", NULL};
    PyObject *o[3] = {0, 0, Py_None};
    int stride = 1, pad = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OO|Oii:conv2d", kwlist, &o[0], &o[1], &o[2], &stride, &pad)) return NULL;
    OpArgs a = {.i = {stride, pad}};
    return run_ex("conv2d", f_conv, 3, o, &a, false, true);
}

static PyObject *fn_maxpool(PyObject *s, PyObject *x) {
    OpArgs a = {0};
    return run("max_pool2x2", f_maxpool, 1, &x, &a, false);
}
static PyObject *fn_avgpool(PyObject *s, PyObject *x) {
    OpArgs a = {0};
    return run("avg_pool2x2", f_avgpool, 1, &x, &a, false);
}

static PyObject *fn_rmsnorm(PyObject *s, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"x", "weight", "eps", NULL};
    PyObject *o[2];
    double eps = 1e-6;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OO|d:rms_norm", kwlist, &o[0], &o[1], &eps)) return NULL;
    OpArgs a = {.f = {eps}};
    return run("rms_norm", f_rmsnorm, 2, o, &a, false);
}

static PyObject *fn_layernorm(PyObject *s, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"x", "weight", "bias", "eps", NULL};
    PyObject *o[3] = {0, 0, Py_None};
    double eps = 1e-5;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OO|Od:layer_norm", kwlist, &o[0], &o[1], &o[2], &eps)) return NULL;
    OpArgs a = {.f = {eps}};
    return run("layer_norm", f_layernorm, 3, o, &a, false);
}

/* Shape of a nested id list or a buffer, for embedding's output. */
static int ids_shape(PyObject *ids, int64_t *shape) {
    if (PyObject_CheckBuffer(ids) && !Tensor_Check(ids)) {
        Py_buffer v;
        if (PyObject_GetBuffer(ids, &v, PyBUF_RECORDS_RO) < 0) return -1;
        int nd = v.ndim ? v.ndim : 1;
        for (int i = 0; i < nd && i < 3; i++) shape[i] = v.ndim ? v.shape[i] : 1;
        PyBuffer_Release(&v);
        return nd;
    }
    if (Tensor_Check(ids)) {
        TensorObject *t = T(ids);
        for (int i = 0; i < t->t.ndim && i < 3; i++) shape[i] = t->t.shape[i];
        return t->t.ndim;
    }
    if ((PyList_Check(ids) || PyTuple_Check(ids)) && PySequence_Size(ids) > 0) {
        PyObject *first = PySequence_GetItem(ids, 0);
        int nested = first && (PyList_Check(first) || PyTuple_Check(first));
        shape[0] = PySequence_Size(ids);
        if (nested) shape[1] = PySequence_Size(first);
        Py_XDECREF(first);
        return nested ? 2 : 1;
    }
    return 1;
}

static PyObject *fn_embedding(PyObject *s, PyObject *args) {
    PyObject *o[1], *ids;
    if (!PyArg_ParseTuple(args, "OO:embedding", &o[0], &ids)) return NULL;
    OpArgs a = {0};
    int64_t sh[3] = {1, 1, 1};
    int nd = ids_shape(ids, sh);
    if (nd < 0 || pg_int32_array(ids, &a.ids, &a.n_ids)) return NULL;
    a.i[0] = nd;
    if (nd > 1) {
        for (int i = 0; i < nd; i++) a.i[1 + i] = sh[i];
        a.i[1 + nd] = -1;
    }
    return run("embedding", f_embedding, 1, o, &a, false);
}

static PyObject *fn_cross_entropy(PyObject *s, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"logits", "targets", "ignore_index", NULL};
    PyObject *o[1], *tg;
    int ignore = -100;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OO|i:cross_entropy", kwlist, &o[0], &tg, &ignore) ||
        refuse_0d(o[0], "cross_entropy"))
        return NULL;
    OpArgs a = {.i = {ignore}};
    if (pg_int32_array(tg, &a.ids, &a.n_ids)) return NULL;
    if (Tensor_Check(o[0])) {
        TensorObject *l = T(o[0]);
        int64_t rows = genc_numel(&l->t) / l->t.shape[l->t.ndim - 1];
        if (rows != a.n_ids) {
            pg_args_free(&a);
            return PyErr_Format(PyExc_ValueError, "cross_entropy: %lld rows of logits but %lld targets", (long long)rows,
                                (long long)a.n_ids);
        }
    }
    return pg_scalar(run("cross_entropy", f_xent, 1, o, &a, false)); /* a loss is 0-d */
}

static PyObject *fn_dropout(PyObject *s, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"x", "p", "training", NULL};
    PyObject *o[1];
    double p = 0.5;
    int training = 1;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|dp:dropout", kwlist, &o[0], &p, &training)) return NULL;
    OpArgs a = {.f = {training ? p : 0}};
    return run("dropout", f_dropout, 1, o, &a, false);
}

static PyObject *fn_concat(PyObject *s, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"tensors", "axis", NULL};
    PyObject *seq;
    int axis = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|i:concat", kwlist, &seq, &axis)) return NULL;
    PyObject *f = PySequence_Fast(seq, "concat: expected a sequence of tensors");
    if (!f) return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(f);
    if (n < 1 || n > 8) {
        Py_DECREF(f);
        return PyErr_Format(PyExc_ValueError, "concat: 1 to 8 tensors, found %zd", n);
    }
    PyObject *o[8];
    for (Py_ssize_t i = 0; i < n; i++)
        if (refuse_0d(o[i] = PySequence_Fast_GET_ITEM(f, i), "concat")) {
            Py_DECREF(f);
            return NULL;
        }
    OpArgs a = {.i = {axis}};
    PyObject *r = run("concat", f_concat, (int)n, o, &a, false);
    Py_DECREF(f);
    return r;
}

static PyObject *fn_swiglu(PyObject *s, PyObject *args) {
    PyObject *o[2];
    if (!PyArg_ParseTuple(args, "OO:swiglu", &o[0], &o[1])) return NULL;
    OpArgs a = {0};
    return run("swiglu", f_swiglu, 2, o, &a, false);
}

static PyObject *fn_attention(PyObject *s, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"q", "k", "v", "scale", "causal", NULL};
    PyObject *o[3];
    PyObject *so = Py_None; /* None: 1/sqrt(head dim) */
    int causal = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OOO|Op:attention", kwlist, &o[0], &o[1], &o[2], &so, &causal)) return NULL;
    double scale = so == Py_None ? NAN : PyFloat_AsDouble(so);
    if (scale == -1 && PyErr_Occurred()) return NULL;
    if (isnan(scale) && Tensor_Check(o[0])) scale = 1.0 / sqrt((double)T(o[0])->t.shape[T(o[0])->t.ndim - 1]);
    OpArgs a = {.i = {causal}, .f = {scale}};
    return run("attention", f_attention, 3, o, &a, false);
}

static PyObject *fn_rope(PyObject *s, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"x", "positions", "theta", NULL};
    PyObject *o[1], *pos;
    double theta = 10000;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OO|d:rope", kwlist, &o[0], &pos, &theta)) return NULL;
    OpArgs a = {.f = {theta}};
    if (pg_int32_array(pos, &a.ids, &a.n_ids)) return NULL;
    return run("rope", f_rope, 1, o, &a, false);
}

static PyObject *fn_expand(PyObject *s, PyObject *args) {
    PyObject *o[1];
    int axis;
    long long n;
    if (!PyArg_ParseTuple(args, "OiL:expand", &o[0], &axis, &n) || refuse_0d(o[0], "expand")) return NULL;
    if (Tensor_Check(o[0]) && n > 1) { /* the expanded element count must fit */
        int64_t sh[2] = {genc_numel(&T(o[0])->t), n};
        if (pg_shape_numel(2, sh) < 0) return NULL;
    }
    OpArgs a = {.i = {axis, n}};
    return run("expand", f_expand, 1, o, &a, false);
}

static PyObject *fn_gather_rows(PyObject *s, PyObject *args) {
    PyObject *o[1], *idx;
    if (!PyArg_ParseTuple(args, "OO:gather_rows", &o[0], &idx)) return NULL;
    OpArgs a = {0};
    if (pg_int32_array(idx, &a.ids, &a.n_ids)) return NULL;
    return run("gather_rows", f_gather, 1, o, &a, false);
}

static PyObject *fn_take_along(PyObject *s, PyObject *args) {
    PyObject *o[1], *idx;
    long long K;
    if (!PyArg_ParseTuple(args, "OOL:take_along", &o[0], &idx, &K)) return NULL;
    OpArgs a = {.i = {K}};
    if (pg_int32_array(idx, &a.ids, &a.n_ids)) return NULL;
    return run("take_along", f_take, 1, o, &a, false);
}

static int append_reals(PyObject *o, genc_real *dst, int64_t n, const char *what) {
    genc_real *r;
    int64_t m;
    if (pg_real_array(o, &r, &m)) return -1;
    if (m != n) {
        free(r);
        PyErr_Format(PyExc_ValueError, "grpo_loss: %s has %lld values, expected %lld (one per action)", what,
                     (long long)m, (long long)n);
        return -1;
    }
    memcpy(dst, r, (size_t)n * sizeof *r);
    free(r);
    return 0;
}

static PyObject *fn_grpo_loss(PyObject *s, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"logits", "actions", "old_logp", "advantages", "weights", "ref_logp", "eps_low", "eps_high",
                             "beta", NULL};
    PyObject *o[1], *act, *old, *adv, *wt, *ref = Py_None;
    double el = 0.2, eh = 0.2, beta = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OOOOO|Oddd:grpo_loss", kwlist, &o[0], &act, &old, &adv, &wt, &ref, &el,
                                     &eh, &beta))
        return NULL;
    OpArgs a = {.f = {el, eh, beta}, .i = {ref != Py_None}};
    if (pg_int32_array(act, &a.ids, &a.n_ids)) return NULL;
    int64_t N = a.n_ids;
    a.r = calloc((size_t)(4 * N + 1), sizeof(genc_real));
    if (!a.r) return pg_args_free(&a), PyErr_NoMemory();
    if (append_reals(old, a.r, N, "old_logp") || (ref != Py_None && append_reals(ref, a.r + N, N, "ref_logp")) ||
        append_reals(adv, a.r + 2 * N, N, "advantages") || append_reals(wt, a.r + 3 * N, N, "weights")) {
        pg_args_free(&a);
        return NULL;
    }
    if (beta > 0 && ref == Py_None) {
        pg_args_free(&a);
        return PyErr_Format(PyExc_ValueError, "grpo_loss: beta > 0 needs ref_logp");
    }
    genc_grpo_stats st = {0};
    a.out_aux = &st;
    PyObject *loss = pg_scalar(run("grpo_loss", f_grpo, 1, o, &a, false)); /* a loss is 0-d */
    if (!loss) return NULL;
    if (T(loss)->grad_fn) T(loss)->grad_fn->args.out_aux = NULL;
    return Py_BuildValue("N{sdsdsdsd}", loss, "kl", st.kl, "clip_frac", st.clip_frac, "entropy", st.entropy, "ratio",
                         st.ratio);
}

PyMethodDef pg_op_methods[] = {
    {"matmul", fn_matmul, METH_VARARGS, "a @ b with batch broadcasting"},
    {"exp", fn_exp, METH_O, "e^x"},
    {"log", fn_log, METH_O, "natural log"},
    {"tanh", fn_tanh, METH_O, "tanh"},
    {"sigmoid", fn_sigmoid, METH_O, "sigmoid"},
    {"relu", fn_relu, METH_O, "relu"},
    {"silu", fn_silu, METH_O, "silu"},
    {"gelu", fn_gelu, METH_O, "gelu"},
    {"softplus", fn_softplus, METH_O, "softplus"},
    {"sqrt", fn_sqrt, METH_O, "sqrt"},
    {"softmax", fn_softmax, METH_O, "softmax over the last axis"},
    {"log_softmax", fn_log_softmax, METH_O, "log-softmax over the last axis"},
    {"linear", (PyCFunction)(void (*)(void))fn_linear, METH_VARARGS | METH_KEYWORDS, "x W^T + b (W [out, in])"},
    {"conv2d", (PyCFunction)(void (*)(void))fn_conv2d, METH_VARARGS | METH_KEYWORDS, "NCHW convolution"},
    {"max_pool2x2", fn_maxpool, METH_O, "2x2 max pooling, stride 2"},
    {"avg_pool2x2", fn_avgpool, METH_O, "2x2 average pooling, stride 2"},
    {"rms_norm", (PyCFunction)(void (*)(void))fn_rmsnorm, METH_VARARGS | METH_KEYWORDS, "RMSNorm over the last axis"},
    {"layer_norm", (PyCFunction)(void (*)(void))fn_layernorm, METH_VARARGS | METH_KEYWORDS, "LayerNorm over the last axis"},
    {"embedding", fn_embedding, METH_VARARGS, "rows of table [V, C] at integer ids (any nesting up to 2)"},
    {"cross_entropy", (PyCFunction)(void (*)(void))fn_cross_entropy, METH_VARARGS | METH_KEYWORDS,
     "mean cross-entropy of logits [..., V] against integer targets"},
    {"dropout", (PyCFunction)(void (*)(void))fn_dropout, METH_VARARGS | METH_KEYWORDS, "inverted dropout"},
    {"concat", (PyCFunction)(void (*)(void))fn_concat, METH_VARARGS | METH_KEYWORDS, "concatenate along an axis"},
    {"swiglu", fn_swiglu, METH_VARARGS, "silu(a) * b"},
    {"attention", (PyCFunction)(void (*)(void))fn_attention, METH_VARARGS | METH_KEYWORDS,
     "softmax(scale q k^T) v for q [B, T, H, d]"},
    {"rope", (PyCFunction)(void (*)(void))fn_rope, METH_VARARGS | METH_KEYWORDS, "rotary embedding of x [B, T, H, d]"},
    {"expand", fn_expand, METH_VARARGS, "repeat a size-1 axis n times"},
    {"gather_rows", fn_gather_rows, METH_VARARGS, "rows of x [N, C] at indices"},
    {"take_along", fn_take_along, METH_VARARGS, "x[n, idx[n*K + j]]"},
    {"grpo_loss", (PyCFunction)(void (*)(void))fn_grpo_loss, METH_VARARGS | METH_KEYWORDS,
     "the GRPO policy objective on logits [N, V]; returns (loss, stats)"},
    {NULL},
};
