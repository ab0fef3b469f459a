/* genc._genc autograd: running an op from Python (arena in, persistent storage out, a Node
 * recorded) and backward over the graph of Nodes, using the live arena graph of the last
 * op when it is still there and replaying the op otherwise (see pygenc.h). */
#include "python/pygenc.h"

#include <string.h>

pg_exec G, W;

static _Thread_local bool grad_off; /* zero-initialised: every new thread starts with grad on */
bool pg_grad_enabled(void) { return !grad_off; }
bool pg_set_grad_enabled(bool on) {
    bool old = !grad_off;
    grad_off = !on;
    return old;
}

int pg_exec_init(pg_exec *ex) {
    if (ex->ctx) return 0; /* already made: a second init would leak the first context */
    ex->ctx = genc_ctx_new();
    ex->lock = PyThread_allocate_lock();
    ex->generation = 0;
    ex->live = NULL;
    if (!ex->ctx || !ex->lock) return PyErr_NoMemory(), -1;
    return 0;
}

void pg_exec_free(pg_exec *ex) {
    if (ex->lock) PyThread_free_lock(ex->lock);
    genc_ctx_free(ex->ctx);
    ex->ctx = NULL, ex->lock = NULL;
}

void pg_exec_acquire(pg_exec *ex) {
    if (!ex->lock || PyThread_acquire_lock(ex->lock, NOWAIT_LOCK)) return;
    Py_BEGIN_ALLOW_THREADS
    PyThread_acquire_lock(ex->lock, WAIT_LOCK);
    Py_END_ALLOW_THREADS
}

void pg_exec_release(pg_exec *ex) {
    if (ex->lock) PyThread_release_lock(ex->lock);
}

void pg_exec_reset(pg_exec *ex);
void pg_exec_reset(pg_exec *ex) {
    genc_step_reset(ex->ctx);
    ex->generation++;
    ex->live = NULL;
}

void pg_args_free(OpArgs *a) {
    free(a->ids), free(a->ids2), free(a->r);
    a->ids = a->ids2 = NULL;
    a->r = NULL;
}

#define exec_reset pg_exec_reset
void pg_reset_arena(void) { exec_reset(&G); }

/* ---- Node ---- */

static int node_traverse(NodeObject *n, visitproc visit, void *arg) {
    for (int i = 0; i < n->n_in; i++) Py_VISIT(n->in[i]);
    Py_VISIT(n->watch);
    Py_VISIT(n->extra);
    return 0;
}

static int node_clear(NodeObject *n) {
    for (int i = 0; i < n->n_in; i++) Py_CLEAR(n->in[i]);
    Py_CLEAR(n->watch);
    Py_CLEAR(n->extra);
    if (n->ex && n->ex->live == n) n->ex->live = NULL;
    return 0;
}

static void node_dealloc(NodeObject *n) {
    PyObject_GC_UnTrack(n);
    node_clear(n);
    free(n->in), free(n->versions), free(n->watch_versions), free(n->live_in), free(n->gbuf);
    pg_args_free(&n->args);
    PyObject_GC_Del(n);
}

static PyObject *node_repr(NodeObject *n) { return PyUnicode_FromFormat("<genc.Node %s>", n->name); }
static PyObject *node_name(NodeObject *n, void *c) { return PyUnicode_FromString(n->name); }
static PyObject *node_inputs(NodeObject *n, void *c) {
    PyObject *t = PyTuple_New(n->n_in);
    for (int i = 0; t && i < n->n_in; i++) {
        Py_INCREF(n->in[i]);
        PyTuple_SET_ITEM(t, i, (PyObject *)n->in[i]);
    }
    return t;
}
static PyGetSetDef node_getset[] = {
    {"name", (getter)node_name, NULL, "the op", NULL},
    {"inputs", (getter)node_inputs, NULL, "input tensors", NULL},
    {NULL},
};

PyTypeObject Node_Type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "genc.Node",
    .tp_basicsize = sizeof(NodeObject),
    .tp_dealloc = (destructor)node_dealloc,
    .tp_repr = (reprfunc)node_repr,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "An autograd node: the op that made a tensor, its inputs and what replay needs.",
    .tp_traverse = (traverseproc)node_traverse,
    .tp_clear = (inquiry)node_clear,
    .tp_getset = node_getset,
};

/* Arena headers over the inputs' storage (never copies). */
static genc_tensor **wrap_inputs(genc_ctx *ctx, int n_in, TensorObject **in, bool grad) {
    genc_tensor **w = genc_arena_alloc(ctx, (size_t)(n_in ? n_in : 1) * sizeof *w);
    for (int i = 0; w && i < n_in; i++) {
        if (!in[i]) {
            w[i] = NULL;
            continue;
        }
        w[i] = genc_arena_calloc(ctx, sizeof(genc_tensor));
        if (!w[i]) return NULL;
        *w[i] = in[i]->t;
        w[i]->grad = NULL;
        w[i]->node = NULL;
        w[i]->persistent = w[i]->owns_data = false;
        w[i]->requires_grad = grad && in[i]->t.requires_grad;
    }
    return w;
}

static bool model_needs_grad(PyObject *watch) {
    if (!watch) return false;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(watch); i++)
        if (((TensorObject *)PyTuple_GET_ITEM(watch, i))->t.requires_grad) return true;
    return false;
}

/* A model context follows the global one: random stream, threads. The thread count is
 * OpenMP's setting of the calling OS thread, so it is set in every thread that runs an op
 * (else a Python thread other than the one that called set_threads uses every core). */
void pg_exec_enter(pg_exec *ex) {
    genc_set_threads(ex->ctx, genc_get_threads(G.ctx));
    if (ex == &G) return;
    if (!ex->own_rng) {
        genc_rng_seed(ex->ctx, genc_rng_get_seed(G.ctx));
        genc_rng_set_offset(ex->ctx, genc_rng_offset(G.ctx));
    }
}
void pg_exec_leave(pg_exec *ex) {
    if (ex != &G && !ex->own_rng) genc_rng_set_offset(G.ctx, genc_rng_offset(ex->ctx));
}

/* Whether every input is 0-d (and there is one): then a one-element result is 0-d too
 * (elementwise ops, softmax, ...); ops that reduce to a scalar mark their result themselves. */
static bool all_scalar(int n_in, TensorObject **in) {
    int seen = 0;
    for (int i = 0; i < n_in; i++) {
        if (!in[i]) continue;
        if (!in[i]->scalar) return false;
        seen++;
    }
    return seen > 0;
}

/* The class of an op's result: that of its first input from a subclass of genc.Tensor, else
 * genc.Tensor (PyTorch's default __torch_function__ rule). */
static PyTypeObject *result_type(int n_in, TensorObject **in) {
    for (int i = 0; i < n_in; i++)
        if (in[i] && Py_TYPE(in[i]) != &Tensor_Type) return Py_TYPE(in[i]);
    return &Tensor_Type;
}

static PyObject *run_op(pg_exec *ex, const char *name, op_fwd fwd, int n_in, TensorObject **in, OpArgs *args,
                        PyObject *extra, PyObject *watch, bool view) {
    bool nogil = ex != &G;
    pg_exec_acquire(ex);
    pg_exec_enter(ex);
    exec_reset(ex);
    genc_ctx *ctx = ex->ctx;
    bool grad = pg_grad_enabled(), any = false;
    for (int i = 0; i < n_in; i++) any |= in[i] && in[i]->t.requires_grad;
    any = grad && (any || model_needs_grad(watch));
    uint64_t off = genc_rng_offset(ctx);
    genc_tensor **w = wrap_inputs(ctx, n_in, in, any);
    genc_tensor *out = NULL;
    if (w) {
        bool old = genc_set_grad_enabled(ctx, any);
        if (nogil) {
            Py_BEGIN_ALLOW_THREADS
            out = fwd(ctx, w, n_in, args);
            Py_END_ALLOW_THREADS
        } else {
            out = fwd(ctx, w, n_in, args);
        }
        genc_set_grad_enabled(ctx, old);
    }
    pg_exec_leave(ex);
    if (!out || genc_ctx_status(ctx)) {
        pg_args_free(args);
        genc_status st = genc_ctx_status(ctx);
        PyObject *r = PyErr_Occurred() ? NULL : pg_raise_ctx(ctx, st ? st : GENC_ESTATE);
        exec_reset(ex);
        pg_exec_release(ex);
        return r;
    }
    TensorObject *r;
    if (view) { /* shares the first input's storage */
        r = pg_tensor_view(in[0]->storage, out->ndim, out->shape, out->stride, out->data);
    } else {
        r = pg_tensor_new(out->ndim, out->shape);
        if (r) genc_copy(ctx, &r->t, out);
    }
    if (r && all_scalar(n_in, in) && out->ndim == 1 && out->shape[0] == 1) pg_scalar((PyObject *)r); /* 0-d in, 0-d out */
    r = pg_tensor_as(result_type(n_in, in), r); /* a subclass input gives a subclass result */
    NodeObject *n = NULL;
    if (r && any && out->requires_grad) n = PyObject_GC_New(NodeObject, &Node_Type);
    if (!r || !n) {
        pg_args_free(args);
        exec_reset(ex);
        pg_exec_release(ex);
        if (r && any && out->requires_grad) Py_CLEAR(r); /* the node allocation failed */
        return (PyObject *)r;
    }
    n->name = name;
    n->fwd = fwd;
    n->n_in = n_in;
    n->in = calloc((size_t)(n_in ? n_in : 1), sizeof *n->in);
    n->versions = calloc((size_t)(n_in ? n_in : 1), sizeof *n->versions);
    n->live_in = malloc((size_t)(n_in ? n_in : 1) * sizeof *n->live_in);
    n->watch = watch;
    Py_XINCREF(watch);
    Py_ssize_t nw = watch ? PyTuple_GET_SIZE(watch) : 0;
    n->watch_versions = calloc((size_t)(nw ? nw : 1), sizeof *n->watch_versions);
    for (Py_ssize_t i = 0; i < nw; i++)
        n->watch_versions[i] = ((TensorObject *)PyTuple_GET_ITEM(watch, i))->storage->version;
    n->extra = extra;
    Py_XINCREF(extra);
    n->args = *args;
    memset(args, 0, sizeof *args);
    n->rng_offset = off;
    n->ex = ex;
    n->generation = ex->generation;
    n->live_out = out;
    n->gbuf = NULL;
    n->out_numel = genc_numel(out);
    n->out_ndim = out->ndim;
    memcpy(n->out_shape, out->shape, sizeof n->out_shape);
    for (int i = 0; i < n_in; i++) {
        n->in[i] = in[i];
        Py_XINCREF(in[i]);
        n->versions[i] = in[i] ? in[i]->storage->version : 0;
        n->live_in[i] = w[i];
    }
    PyObject_GC_Track(n);
    ex->live = n;
    r->grad_fn = n;
    r->t.requires_grad = true;
    pg_exec_release(ex);
    return (PyObject *)r;
}

PyObject *pg_run_op(const char *name, op_fwd fwd, int n_in, TensorObject **in, OpArgs *args, PyObject *extra,
                    PyObject *watch, bool view) {
    return run_op(&G, name, fwd, n_in, in, args, extra, watch, view);
}

PyObject *pg_run_long_op(const char *name, op_fwd fwd, int n_in, TensorObject **in, OpArgs *args) {
    return run_op(&W, name, fwd, n_in, in, args, NULL, NULL, false);
}

PyObject *pg_run_model_op(pg_exec *ex, const char *name, op_fwd fwd, int n_in, TensorObject **in, OpArgs *args,
                          PyObject *extra, PyObject *watch) {
    return run_op(ex, name, fwd, n_in, in, args, extra, watch, false);
}

/* ---- backward ---- */

static int check_versions(NodeObject *n) {
    for (int i = 0; i < n->n_in; i++)
        if (n->in[i] && n->in[i]->storage->version != n->versions[i]) {
            PyErr_Format(PyExc_RuntimeError,
                         "backward: input %d of '%s' was modified in place after the op used it (version %llu, "
                         "saved %llu); backward needs its original value (use .clone() before writing)",
                         i, n->name, (unsigned long long)n->in[i]->storage->version,
                         (unsigned long long)n->versions[i]);
            return -1;
        }
    Py_ssize_t nw = n->watch ? PyTuple_GET_SIZE(n->watch) : 0;
    for (Py_ssize_t i = 0; i < nw; i++) {
        TensorObject *t = (TensorObject *)PyTuple_GET_ITEM(n->watch, i);
        if (t->storage->version != n->watch_versions[i]) {
            PyErr_Format(PyExc_RuntimeError,
                         "backward: parameter '%s' used by '%s' was modified in place (e.g. by an optimiser step) "
                         "after the forward; run backward before updating", t->t.name, n->name);
            return -1;
        }
    }
    return 0;
}

static int collect(NodeObject *n, PyObject *seen, PyObject *order) {
    /* iterative post-order DFS (deep graphs must not overflow the C stack) */
    PyObject *stack = PyList_New(0);
    if (!stack) return -1;
    PyObject *key = PyLong_FromVoidPtr(n);
    PySet_Add(seen, key);
    Py_DECREF(key);
    PyObject *pair = Py_BuildValue("(Oi)", n, 0);
    PyList_Append(stack, pair);
    Py_DECREF(pair);
    while (PyList_GET_SIZE(stack)) {
        Py_ssize_t top = PyList_GET_SIZE(stack) - 1;
        PyObject *p = PyList_GET_ITEM(stack, top);
        NodeObject *cur = (NodeObject *)PyTuple_GET_ITEM(p, 0);
        int i = (int)PyLong_AsLong(PyTuple_GET_ITEM(p, 1));
        if (i < cur->n_in) {
            PyObject *np = Py_BuildValue("(Oi)", cur, i + 1);
            PyList_SetItem(stack, top, np);
            TensorObject *t = cur->in[i];
            if (t && t->grad_fn) {
                PyObject *k = PyLong_FromVoidPtr(t->grad_fn);
                int has = PySet_Contains(seen, k);
                if (!has) {
                    PySet_Add(seen, k);
                    PyObject *q = Py_BuildValue("(Oi)", t->grad_fn, 0);
                    PyList_Append(stack, q);
                    Py_DECREF(q);
                }
                Py_DECREF(k);
            }
        } else {
            PyList_Append(order, (PyObject *)cur);
            PySequence_DelItem(stack, top);
        }
    }
    Py_DECREF(stack);
    return PyErr_Occurred() ? -1 : 0;
}

static genc_real *zeros_like_node(NodeObject *n) {
    genc_real *g = calloc((size_t)n->out_numel, sizeof(genc_real));
    if (!g) PyErr_NoMemory();
    return g;
}

/* dst (contiguous, t's shape) += src (contiguous) */
static void add_into(genc_real *dst, const genc_real *src, int64_t n) {
    for (int64_t i = 0; i < n; i++) dst[i] += src[i];
}

static int accumulate_leaf(TensorObject *t, const genc_real *g) {
    if (t->bound) { /* a C model's parameter: its own gradient buffer */
        genc_real *pg = genc_grad(G.ctx, t->bound);
        if (!pg) return pg_raise(genc_ctx_status(G.ctx)), -1;
        add_into(pg, g, genc_numel(&t->t));
        return 0;
    }
    if (!t->grad) {
        TensorObject *gt = pg_tensor_new(t->t.ndim, t->t.shape);
        if (!gt) return -1;
        if (t->scalar) pg_scalar((PyObject *)gt); /* .grad has its tensor's shape, () included */
        t->grad = (PyObject *)gt;
    }
    TensorObject *gt = (TensorObject *)t->grad;
    if (!genc_is_contiguous(&gt->t)) {
        PyErr_SetString(PyExc_RuntimeError, "backward: .grad must be contiguous");
        return -1;
    }
    add_into(gt->t.data, g, genc_numel(&t->t));
    gt->storage->version++;
    return 0;
}

/* The C part of one node's backward: replay if its graph is gone, then genc's backward.
 * Runs without the GIL on a model's context. */
static genc_status node_backward(NodeObject *n, pg_exec *ex, genc_tensor ***w_out) {
    genc_ctx *ctx = ex->ctx;
    genc_tensor *out, **w;
    if (ex->live == n && n->generation == ex->generation) {
        out = n->live_out;
        w = n->live_in;
    } else { /* replay the op with the random offset and grad mode it ran with */
        exec_reset(ex);
        uint64_t off = genc_rng_offset(ctx);
        genc_rng_set_offset(ctx, n->rng_offset);
        w = wrap_inputs(ctx, n->n_in, n->in, true);
        bool old = genc_set_grad_enabled(ctx, true);
        out = w ? n->fwd(ctx, w, n->n_in, &n->args) : NULL;
        genc_set_grad_enabled(ctx, old);
        genc_rng_set_offset(ctx, off);
        if (!out) return genc_ctx_status(ctx) ? genc_ctx_status(ctx) : genc_error(ctx, GENC_ESTATE, "replay failed");
    }
    *w_out = w;
    if (out->requires_grad) return genc_backward_with(ctx, out, n->gbuf);
    return GENC_OK;
}

static int run_node(NodeObject *n) {
    if (check_versions(n)) return -1;
    pg_exec *ex = n->ex ? n->ex : &G;
    pg_exec_acquire(ex);
    genc_set_threads(ex->ctx, genc_get_threads(G.ctx));
    if (ex != &G && !ex->own_rng) genc_rng_seed(ex->ctx, genc_rng_get_seed(G.ctx));
    genc_tensor **w = NULL;
    genc_status s;
    if (ex != &G) {
        Py_BEGIN_ALLOW_THREADS
        s = node_backward(n, ex, &w);
        Py_END_ALLOW_THREADS
    } else {
        s = node_backward(n, ex, &w);
    }
    if (s || PyErr_Occurred()) {
        PyObject *r = PyErr_Occurred() ? NULL : pg_raise_ctx(ex->ctx, s);
        (void)r;
        exec_reset(ex);
        pg_exec_release(ex);
        return -1;
    }
    int err = 0;
    for (int i = 0; !err && i < n->n_in; i++) {
        TensorObject *t = n->in[i];
        if (!t || !t->t.requires_grad || !w[i] || !w[i]->grad) continue;
        if (t->grad_fn) {
            NodeObject *p = t->grad_fn;
            if (!p->gbuf && !(p->gbuf = zeros_like_node(p))) err = -1;
            else add_into(p->gbuf, w[i]->grad, p->out_numel);
        } else {
            err = accumulate_leaf(t, w[i]->grad);
        }
    }
    exec_reset(ex);
    pg_exec_release(ex);
    return err;
}

PyObject *pg_backward(TensorObject *root, PyObject *gradient) {
    if (!root->t.requires_grad)
        return PyErr_Format(PyExc_RuntimeError, "backward: the tensor does not require a gradient (no input or "
                                                "parameter it depends on requires one, or it was made under no_grad)");
    int64_t numel = genc_numel(&root->t);
    genc_real *seed = NULL;
    int64_t nseed = 0;
    if (gradient) {
        if (pg_real_array(gradient, &seed, &nseed)) return NULL;
        if (nseed != numel) {
            free(seed);
            return PyErr_Format(PyExc_ValueError, "backward: gradient has %lld elements, the tensor %lld",
                                (long long)nseed, (long long)numel);
        }
    } else if (numel != 1) {
        return PyErr_Format(PyExc_ValueError, "backward: expected a scalar (1 element) or a gradient argument, found "
                                              "%lld elements", (long long)numel);
    }
    if (!root->grad_fn) { /* a leaf: d(self)/d(self) */
        genc_real one = 1;
        int r = accumulate_leaf(root, seed ? seed : &one);
        free(seed);
        if (r) return NULL;
        Py_RETURN_NONE;
    }
    PyObject *seen = PySet_New(NULL), *order = PyList_New(0);
    if (!seen || !order || collect(root->grad_fn, seen, order)) {
        Py_XDECREF(seen), Py_XDECREF(order), free(seed);
        return NULL;
    }
    NodeObject *top = root->grad_fn;
    free(top->gbuf);
    top->gbuf = zeros_like_node(top);
    int err = top->gbuf ? 0 : -1;
    for (int64_t i = 0; !err && i < numel; i++) top->gbuf[i] = seed ? seed[i] : 1;
    free(seed);
    for (Py_ssize_t i = PyList_GET_SIZE(order) - 1; i >= 0; i--) {
        NodeObject *n = (NodeObject *)PyList_GET_ITEM(order, i);
        if (!err && n->gbuf) err = run_node(n);
        free(n->gbuf);
        n->gbuf = NULL;
        if (!err && PyErr_CheckSignals()) err = -1;
    }
    Py_DECREF(seen);
    Py_DECREF(order);
    if (err) return NULL;
    Py_RETURN_NONE;
}
