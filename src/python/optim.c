/* genc._genc optimisers: AdamW and SGD over Python tensors (genc_optim on headers that
 * point at the tensors' memory and gradients), and global-norm gradient clipping. */
#include "python/pygenc.h"
#include "genc/train.h"

#include <string.h>

typedef struct {
    PyObject_HEAD
    PyObject *params; /* tuple of Tensors */
    genc_params set;  /* headers (owned) over their memory */
    genc_optim opt;
    bool ready;
} OptimObject;

static int opt_traverse(OptimObject *o, visitproc visit, void *arg) {
    Py_VISIT(o->params);
    return 0;
}
static int opt_clear(OptimObject *o) {
    Py_CLEAR(o->params);
    return 0;
}
static void opt_dealloc(OptimObject *o) {
    PyObject_GC_UnTrack(o);
    opt_clear(o);
    if (o->ready) genc_optim_free(&o->opt);
    for (int i = 0; i < o->set.n; i++) free(o->set.t[i]);
    genc_params_free(&o->set);
    Py_TYPE(o)->tp_free(o);
}

/* A gradient buffer for every parameter (zeros where backward has not made one yet). */
static int ensure_grad(TensorObject *t) {
    if (t->bound) {
        if (!genc_grad(G.ctx, t->bound)) return pg_raise(genc_ctx_status(G.ctx)), -1;
        return 0;
    }
    if (!t->grad) {
        TensorObject *g = pg_tensor_new(t->t.ndim, t->t.shape);
        if (!g) return -1;
        if (t->scalar) pg_scalar((PyObject *)g); /* .grad has its tensor's shape, () included */
        t->grad = (PyObject *)g;
    }
    return 0;
}

static genc_real *grad_ptr(TensorObject *t) {
    return t->bound ? t->bound->grad : ((TensorObject *)t->grad)->t.data;
}

/* Point the headers at the current memory and gradients, and carry requires_grad over:
 * genc_optim_step leaves a frozen parameter (requires_grad False) untouched, weight decay
 * included. */
static int refresh(OptimObject *o) {
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(o->params); i++) {
        TensorObject *t = (TensorObject *)PyTuple_GET_ITEM(o->params, i);
        if (ensure_grad(t)) return -1;
        o->set.t[i]->data = t->t.data;
        o->set.t[i]->grad = grad_ptr(t);
        o->set.t[i]->requires_grad = t->t.requires_grad;
    }
    return 0;
}

static int opt_setup(OptimObject *o, PyObject *params, genc_optim_config *cfg) {
    PyObject *seq = PySequence_Tuple(params);
    if (!seq) return -1;
    o->params = seq;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(seq); i++) {
        PyObject *p = PyTuple_GET_ITEM(seq, i);
        if (!Tensor_Check(p)) {
            PyErr_Format(PyExc_TypeError, "optimiser: parameter %zd is a %s, expected a genc.Tensor", i, Py_TYPE(p)->tp_name);
            return -1;
        }
        TensorObject *t = (TensorObject *)p;
        if (!genc_is_contiguous(&t->t)) {
            PyErr_Format(PyExc_ValueError, "optimiser: parameter %zd is not contiguous", i);
            return -1;
        }
        if (t->storage->readonly) { /* a step writes every parameter (frozen ones are restored after) */
            PyErr_Format(PyExc_ValueError, "optimiser: parameter %zd is read-only (a checkpoint view or a read-only "
                                           "buffer); optimise a .clone()", i);
            return -1;
        }
        genc_tensor *h = malloc(sizeof *h);
        if (!h) return PyErr_NoMemory(), -1;
        *h = t->t;
        h->persistent = true, h->owns_data = false;
        h->name[0] = 0; /* unnamed: tensors of two models may share a name in one optimiser */
        if (genc_params_add(G.ctx, &o->set, h)) {
            free(h);
            return pg_raise(genc_ctx_status(G.ctx)), -1;
        }
    }
    if (refresh(o)) return -1;
    if (genc_optim_init(G.ctx, &o->opt, &o->set, cfg)) return pg_raise(genc_ctx_status(G.ctx)), -1;
    o->ready = true;
    return 0;
}

static int adamw_init(OptimObject *o, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"params", "lr", "betas", "eps", "weight_decay", NULL};
    PyObject *params;
    genc_optim_config c = genc_optim_defaults(GENC_OPT_ADAMW);
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|d(dd)dd:AdamW", kwlist, &params, &c.lr, &c.beta1, &c.beta2, &c.eps,
                                     &c.weight_decay))
        return -1;
    if (o->params) {
        PyErr_SetString(PyExc_RuntimeError, "optimiser already initialised");
        return -1;
    }
    return opt_setup(o, params, &c);
}

static int sgd_init(OptimObject *o, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"params", "lr", "momentum", "weight_decay", NULL};
    PyObject *params;
    genc_optim_config c = genc_optim_defaults(GENC_OPT_SGD);
    c.momentum = 0; /* as torch.optim.SGD: plain SGD unless asked */
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|ddd:SGD", kwlist, &params, &c.lr, &c.momentum, &c.weight_decay))
        return -1;
    if (o->params) {
        PyErr_SetString(PyExc_RuntimeError, "optimiser already initialised");
        return -1;
    }
    return opt_setup(o, params, &c);
}

static PyObject *opt_step(OptimObject *o, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"lr", NULL};
    double lr = -1;
    PyObject *lro = Py_None; /* None: the configured lr */
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|O:step", kwlist, &lro)) return NULL;
    if (lro != Py_None && (lr = PyFloat_AsDouble(lro)) == -1 && PyErr_Occurred()) return NULL;
    if (lro != Py_None && !(lr >= 0)) return PyErr_Format(PyExc_ValueError, "step: lr must be >= 0, found %R", lro);
    if (pg_check_init((PyObject *)o, o->ready)) return NULL;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(o->params); i++) {
        TensorObject *t = (TensorObject *)PyTuple_GET_ITEM(o->params, i);
        if (t->t.requires_grad && pg_check_writable(t, "optimiser step")) return NULL;
    }
    if (refresh(o)) return NULL;
    genc_optim_step(&o->opt, lr >= 0 ? lr : o->opt.cfg.lr);
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(o->params); i++) {
        TensorObject *t = (TensorObject *)PyTuple_GET_ITEM(o->params, i);
        if (t->t.requires_grad) pg_bump(t);
    }
    Py_RETURN_NONE;
}

static PyObject *opt_zero_grad(OptimObject *o, PyObject *u) {
    if (pg_check_init((PyObject *)o, o->ready)) return NULL;
    for (Py_ssize_t i = 0; o->params && i < PyTuple_GET_SIZE(o->params); i++) {
        TensorObject *t = (TensorObject *)PyTuple_GET_ITEM(o->params, i);
        if (t->bound && t->bound->grad) memset(t->bound->grad, 0, (size_t)genc_numel(t->bound) * sizeof(genc_real));
        else if (t->grad) {
            TensorObject *g = (TensorObject *)t->grad;
            memset(g->t.data, 0, (size_t)genc_numel(&g->t) * sizeof(genc_real));
        }
    }
    Py_RETURN_NONE;
}

static PyObject *opt_get_lr(OptimObject *o, void *c) {
    return pg_check_init((PyObject *)o, o->ready) ? NULL : PyFloat_FromDouble(o->opt.cfg.lr);
}
static int opt_set_lr(OptimObject *o, PyObject *v, void *c) {
    if (pg_check_init((PyObject *)o, o->ready)) return -1;
    if (!v) return PyErr_SetString(PyExc_TypeError, "lr cannot be deleted"), -1;
    double lr = PyFloat_AsDouble(v);
    if (lr == -1 && PyErr_Occurred()) return -1;
    o->opt.cfg.lr = lr;
    return 0;
}
/* The other hyperparameters, read by every step: genc.AdamW / genc.SGD (python/genc/optim.py)
 * copy each parameter group's values here before stepping its optimiser. */
static double *hyper(OptimObject *o, const char *name) {
    genc_optim_config *c = &o->opt.cfg;
    return !strcmp(name, "weight_decay") ? &c->weight_decay : !strcmp(name, "eps") ? &c->eps
           : !strcmp(name, "momentum") ? &c->momentum : !strcmp(name, "beta1") ? &c->beta1 : &c->beta2;
}
static PyObject *opt_get_hyper(OptimObject *o, void *name) {
    return pg_check_init((PyObject *)o, o->ready) ? NULL : PyFloat_FromDouble(*hyper(o, name));
}
static int opt_set_hyper(OptimObject *o, PyObject *v, void *name) {
    if (pg_check_init((PyObject *)o, o->ready)) return -1;
    if (!v) return PyErr_Format(PyExc_TypeError, "%s cannot be deleted", (const char *)name), -1;
    double x = PyFloat_AsDouble(v);
    if (x == -1 && PyErr_Occurred()) return -1;
    if (!(x >= 0)) return PyErr_Format(PyExc_ValueError, "%s: expected a number >= 0, found %R", (const char *)name, v), -1;
    *hyper(o, name) = x;
    return 0;
}
static PyObject *opt_get_steps(OptimObject *o, void *c) { return PyLong_FromLongLong(o->opt.step); }
static PyObject *opt_get_params(OptimObject *o, void *c) {
    PyObject *p = o->params ? o->params : Py_None;
    Py_INCREF(p);
    return p;
}
static PyObject *opt_repr(OptimObject *o) {
    char lr[32];
    snprintf(lr, sizeof lr, "%g", o->opt.cfg.lr);
    return PyUnicode_FromFormat("%s(%zd tensors, %lld values, lr=%s, steps=%lld)", Py_TYPE(o)->tp_name,
                                o->params ? PyTuple_GET_SIZE(o->params) : 0, (long long)genc_params_numel(&o->set), lr,
                                (long long)o->opt.step);
}

/* (steps, m, v): the update count and each parameter's buffers as bytes (float32, the
 * parameter's element count; None where the optimiser keeps none: v for SGD). */
static PyObject *opt_get_state(OptimObject *o, PyObject *unused) {
    (void)unused;
    if (pg_check_init((PyObject *)o, o->ready)) return NULL;
    int n = o->set.n;
    PyObject *m = PyTuple_New(n), *v = PyTuple_New(n);
    for (int i = 0; m && v && i < n; i++) {
        Py_ssize_t bytes = (Py_ssize_t)(genc_numel(o->set.t[i]) * (int64_t)sizeof(genc_real));
        PyObject *a = o->opt.m[i] ? PyBytes_FromStringAndSize((const char *)o->opt.m[i], bytes) : Py_NewRef(Py_None);
        PyObject *b = o->opt.v[i] ? PyBytes_FromStringAndSize((const char *)o->opt.v[i], bytes) : Py_NewRef(Py_None);
        if (!a || !b) {
            Py_XDECREF(a);
            Py_XDECREF(b);
            Py_CLEAR(m);
            break;
        }
        PyTuple_SET_ITEM(m, i, a), PyTuple_SET_ITEM(v, i, b);
    }
    if (!m || !v) {
        Py_XDECREF(m);
        Py_XDECREF(v);
        return NULL;
    }
    return Py_BuildValue("(LNN)", (long long)o->opt.step, m, v);
}

/* One buffer back: bytes of exactly the parameter's size, or None where the optimiser
 * keeps none; anything else is refused before a byte is written. */
static int check_buffer(PyObject *x, genc_real *dst, int64_t numel, int i, const char *what) {
    if (x == Py_None && !dst) return 0;
    if (!PyBytes_Check(x) || !dst || PyBytes_GET_SIZE(x) != (Py_ssize_t)(numel * (int64_t)sizeof(genc_real))) {
        PyErr_Format(PyExc_ValueError, "optimiser state: %s[%d]: expected %s, found %.80R", what, i,
                     dst ? "bytes of the parameter's float32 size" : "None", x);
        return -1;
    }
    return 0;
}

static PyObject *opt_set_state(OptimObject *o, PyObject *args) {
    long long steps;
    PyObject *m, *v;
    if (pg_check_init((PyObject *)o, o->ready)) return NULL;
    if (!PyArg_ParseTuple(args, "LO!O!:_set_state", &steps, &PyTuple_Type, &m, &PyTuple_Type, &v)) return NULL;
    int n = o->set.n;
    if (steps < 0 || PyTuple_GET_SIZE(m) != n || PyTuple_GET_SIZE(v) != n)
        return PyErr_Format(PyExc_ValueError, "optimiser state: expected steps >= 0 and %d buffers of each kind, found "
                            "steps %lld, %zd and %zd", n, steps, PyTuple_GET_SIZE(m), PyTuple_GET_SIZE(v));
    for (int i = 0; i < n; i++) {
        int64_t numel = genc_numel(o->set.t[i]);
        if (check_buffer(PyTuple_GET_ITEM(m, i), o->opt.m[i], numel, i, "m") ||
            check_buffer(PyTuple_GET_ITEM(v, i), o->opt.v[i], numel, i, "v"))
            return NULL;
    }
    for (int i = 0; i < n; i++) {
        size_t bytes = (size_t)genc_numel(o->set.t[i]) * sizeof(genc_real);
        if (o->opt.m[i]) memcpy(o->opt.m[i], PyBytes_AS_STRING(PyTuple_GET_ITEM(m, i)), bytes);
        if (o->opt.v[i]) memcpy(o->opt.v[i], PyBytes_AS_STRING(PyTuple_GET_ITEM(v, i)), bytes);
    }
    o->opt.step = steps;
    Py_RETURN_NONE;
}

static PyMethodDef opt_methods[] = {
    {"_state", (PyCFunction)opt_get_state, METH_NOARGS, "(steps, m, v): the moments as bytes, for state_dict"},
    {"_set_state", (PyCFunction)opt_set_state, METH_VARARGS, "_set_state(steps, m, v): the inverse of _state"},
    {"step", (PyCFunction)(void (*)(void))opt_step, METH_VARARGS | METH_KEYWORDS,
     "one update from the current gradients (lr overrides the configured one)"},
    {"zero_grad", (PyCFunction)opt_zero_grad, METH_NOARGS, "zero every parameter's gradient"},
    {NULL},
};
static PyGetSetDef opt_getset[] = {
    {"lr", (getter)opt_get_lr, (setter)opt_set_lr, "learning rate", NULL},
    {"steps", (getter)opt_get_steps, NULL, "updates done", NULL},
    {"params", (getter)opt_get_params, NULL, "the parameters", NULL},
    {"weight_decay", (getter)opt_get_hyper, (setter)opt_set_hyper, "decoupled weight decay (AdamW) / L2 (SGD)", "weight_decay"},
    {"eps", (getter)opt_get_hyper, (setter)opt_set_hyper, "AdamW's epsilon", "eps"},
    {"momentum", (getter)opt_get_hyper, (setter)opt_set_hyper, "SGD's momentum", "momentum"},
    {"beta1", (getter)opt_get_hyper, (setter)opt_set_hyper, "AdamW's first-moment decay", "beta1"},
    {"beta2", (getter)opt_get_hyper, (setter)opt_set_hyper, "AdamW's second-moment decay", "beta2"},
    {NULL},
};

static PyTypeObject AdamW_Type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "genc._genc.AdamW",
    .tp_basicsize = sizeof(OptimObject),
    .tp_dealloc = (destructor)opt_dealloc,
    .tp_repr = (reprfunc)opt_repr,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_BASETYPE,
    .tp_doc = "AdamW(params, lr=0.001, betas=(0.9, 0.999), eps=1e-08, weight_decay=0.01)\n--\n\n"
               "AdamW; weight decay on ndim >= 2 only.",
    .tp_traverse = (traverseproc)opt_traverse,
    .tp_clear = (inquiry)opt_clear,
    .tp_methods = opt_methods,
    .tp_getset = opt_getset,
    .tp_init = (initproc)adamw_init,
    .tp_new = PyType_GenericNew,
};
static PyTypeObject SGD_Type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "genc._genc.SGD",
    .tp_basicsize = sizeof(OptimObject),
    .tp_dealloc = (destructor)opt_dealloc,
    .tp_repr = (reprfunc)opt_repr,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_BASETYPE,
    .tp_doc = "SGD(params, lr=0.001, momentum=0.0, weight_decay=0.0)\n--\n\nStochastic gradient descent, with momentum when asked.",
    .tp_traverse = (traverseproc)opt_traverse,
    .tp_clear = (inquiry)opt_clear,
    .tp_methods = opt_methods,
    .tp_getset = opt_getset,
    .tp_init = (initproc)sgd_init,
    .tp_new = PyType_GenericNew,
};

static PyObject *fn_clip(PyObject *s, PyObject *args) {
    PyObject *params;
    double max_norm;
    if (!PyArg_ParseTuple(args, "Od:clip_grad_norm", &params, &max_norm)) return NULL;
    PyObject *seq = PySequence_Tuple(params);
    if (!seq) return NULL;
    genc_params set = {0};
    genc_tensor *hs = calloc((size_t)PyTuple_GET_SIZE(seq) + 1, sizeof *hs);
    for (Py_ssize_t i = 0; hs && i < PyTuple_GET_SIZE(seq); i++) {
        PyObject *p = PyTuple_GET_ITEM(seq, i);
        if (!Tensor_Check(p)) continue;
        TensorObject *t = (TensorObject *)p;
        hs[i] = t->t;
        hs[i].name[0] = 0;
        hs[i].grad = t->bound ? t->bound->grad : t->grad ? ((TensorObject *)t->grad)->t.data : NULL;
        genc_params_add(G.ctx, &set, &hs[i]);
    }
    double norm = genc_clip_grad_norm(&set, max_norm);
    genc_params_free(&set);
    free(hs);
    Py_DECREF(seq);
    return PyFloat_FromDouble(norm);
}

static PyMethodDef optim_fns[] = {
    {"clip_grad_norm", fn_clip, METH_VARARGS, "clip_grad_norm(params, max_norm) -> the norm before clipping"},
    {NULL},
};

int pg_optim_init_types(PyObject *m) {
    if (PyType_Ready(&AdamW_Type) < 0 || PyType_Ready(&SGD_Type) < 0) return -1;
    Py_INCREF(&AdamW_Type);
    PyModule_AddObject(m, "AdamW", (PyObject *)&AdamW_Type);
    Py_INCREF(&SGD_Type);
    PyModule_AddObject(m, "SGD", (PyObject *)&SGD_Type);
    PyObject *f = PyCFunction_NewEx(optim_fns, NULL, NULL);
    return PyModule_AddObject(m, "clip_grad_norm", f);
}
