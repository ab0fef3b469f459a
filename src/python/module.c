/* genc._genc: the extension module itself. The one genc context, errors as Python
 * exceptions, grad mode (no_grad / enable_grad context managers; per thread), tensor creation, the
 * Module base type, safetensors save/load (loaded tensors are read-only views of the file). */
#include "python/pygenc.h"

#include <string.h>

/* ---- errors ---- */

PyObject *pg_raise_msg(genc_status s, const char *msg) {
    PyObject *type = PyExc_RuntimeError;
    switch (s) {
    case GENC_EINVAL: type = PyExc_ValueError; break;
    case GENC_EIO: type = PyExc_OSError; break;
    case GENC_EFORMAT: type = PyExc_ValueError; break;
    case GENC_ENOMEM: type = PyExc_MemoryError; break;
    case GENC_EINTR: type = PyExc_KeyboardInterrupt; break;
    default: break;
    }
    PyErr_SetString(type, msg && *msg ? msg : genc_status_name(s));
    return NULL;
}

PyObject *pg_raise_ctx(genc_ctx *ctx, genc_status s) {
    char msg[600];
    if (!s) s = genc_ctx_status(ctx);
    snprintf(msg, sizeof msg, "%s", genc_last_error(ctx));
    genc_clear_error(ctx);
    return pg_raise_msg(s ? s : GENC_ESTATE, msg);
}

PyObject *pg_raise(genc_status s) { return pg_raise_ctx(G.ctx, s); }

/* throw(type[, value[, traceback]]) of the generator-like objects, checked as Python's own
 * generators check it (TypeError), then raised. */
int pg_check_throw(PyObject *type, PyObject *val, PyObject *tb) {
    if (tb && tb != Py_None && !PyTraceBack_Check(tb)) {
        PyErr_SetString(PyExc_TypeError, "throw() third argument must be a traceback object");
        return -1;
    }
    if (PyExceptionClass_Check(type)) return 0;
    if (PyExceptionInstance_Check(type)) {
        if (val && val != Py_None) {
            PyErr_SetString(PyExc_TypeError, "instance exception may not have a separate value");
            return -1;
        }
        return 0;
    }
    PyErr_Format(PyExc_TypeError, "exceptions must be classes or instances deriving from BaseException, not %s",
                 Py_TYPE(type)->tp_name);
    return -1;
}

int pg_check_init(PyObject *self, bool ready) {
    if (ready) return 0;
    PyErr_Format(PyExc_RuntimeError, "%s not initialised (made with __new__ without __init__)", Py_TYPE(self)->tp_name);
    return -1;
}

PyObject *pg_raise_thrown(PyObject *type, PyObject *val, PyObject *tb) {
    if (PyExceptionInstance_Check(type)) PyErr_SetObject((PyObject *)Py_TYPE(type), type);
    else PyErr_SetObject(type, val ? val : Py_None);
    if (tb && tb != Py_None) {
        PyObject *t, *v, *b;
        PyErr_Fetch(&t, &v, &b);
        PyErr_NormalizeException(&t, &v, &b);
        Py_XDECREF(b);
        Py_INCREF(tb);
        PyErr_Restore(t, v, tb);
    }
    return NULL;
}

/* ---- grad mode ---- */

typedef struct {
    PyObject_HEAD
    int enable;
    PyObject *prev; /* list used as a stack, for nesting the same object */
} GradModeObject;

static int gm_traverse(GradModeObject *g, visitproc visit, void *arg) {
    Py_VISIT(g->prev);
    return 0;
}
static void gm_dealloc(GradModeObject *g) {
    PyObject_GC_UnTrack(g);
    Py_CLEAR(g->prev);
    Py_TYPE(g)->tp_free(g);
}
static PyObject *gm_enter(GradModeObject *g, PyObject *u) {
    bool old = pg_set_grad_enabled(g->enable);
    if (!g->prev && !(g->prev = PyList_New(0))) return NULL;
    PyObject *b = PyBool_FromLong(old);
    PyList_Append(g->prev, b);
    Py_DECREF(b);
    Py_INCREF(g);
    return (PyObject *)g;
}
static PyObject *gm_exit(GradModeObject *g, PyObject *args) {
    Py_ssize_t n = g->prev ? PyList_GET_SIZE(g->prev) : 0;
    bool old = true;
    if (n) {
        old = PyList_GET_ITEM(g->prev, n - 1) == Py_True;
        PySequence_DelItem(g->prev, n - 1);
    }
    pg_set_grad_enabled(old);
    Py_RETURN_FALSE;
}
/* Used as a decorator: @genc.no_grad() wraps a function (or method) to run in this mode. */
typedef struct {
    PyObject_HEAD
    PyObject *func;
    int enable;
    PyObject *dict;
} GradFnObject;

static int gf_traverse(GradFnObject *f, visitproc visit, void *arg) {
    Py_VISIT(f->func);
    Py_VISIT(f->dict);
    return 0;
}
static int gf_clear(GradFnObject *f) {
    Py_CLEAR(f->func);
    Py_CLEAR(f->dict);
    return 0;
}
static void gf_dealloc(GradFnObject *f) {
    PyObject_GC_UnTrack(f);
    gf_clear(f);
    Py_TYPE(f)->tp_free(f);
}
static PyObject *gf_call(GradFnObject *f, PyObject *args, PyObject *kw) {
    bool old = pg_set_grad_enabled(f->enable);
    PyObject *r = PyObject_Call(f->func, args, kw);
    pg_set_grad_enabled(old);
    return r;
}
static PyObject *gf_get(PyObject *self, PyObject *obj, PyObject *type) {
    if (!obj || obj == Py_None) {
        Py_INCREF(self);
        return self;
    }
    return PyMethod_New(self, obj);
}
static PyGetSetDef gf_getset[] = {{"__dict__", PyObject_GenericGetDict, PyObject_GenericSetDict, NULL, NULL}, {NULL}};
static PyTypeObject GradFn_Type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "genc.grad_mode_function",
    .tp_basicsize = sizeof(GradFnObject),
    .tp_dealloc = (destructor)gf_dealloc,
    .tp_call = (ternaryfunc)gf_call,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_traverse = (traverseproc)gf_traverse,
    .tp_clear = (inquiry)gf_clear,
    .tp_descr_get = gf_get,
    .tp_dictoffset = offsetof(GradFnObject, dict),
    .tp_getset = gf_getset,
};

static PyObject *gm_call(GradModeObject *g, PyObject *args, PyObject *kw) {
    PyObject *fn;
    if (!PyArg_ParseTuple(args, "O:decorate", &fn)) return NULL;
    if (!PyCallable_Check(fn)) return PyErr_Format(PyExc_TypeError, "no_grad()/enable_grad() decorate callables");
    GradFnObject *f = PyObject_GC_New(GradFnObject, &GradFn_Type);
    if (!f) return NULL;
    Py_INCREF(fn);
    f->func = fn;
    f->enable = g->enable;
    f->dict = NULL;
    PyObject_GC_Track(f);
    PyObject *ft = PyImport_ImportModule("functools"); /* copy __name__, __doc__, __wrapped__ */
    PyObject *r = ft ? PyObject_CallMethod(ft, "update_wrapper", "OO", f, fn) : NULL;
    Py_XDECREF(ft);
    Py_XDECREF(r);
    PyErr_Clear();
    return (PyObject *)f;
}

static PyMethodDef gm_methods[] = {
    {"__enter__", (PyCFunction)gm_enter, METH_NOARGS, NULL},
    {"__exit__", (PyCFunction)gm_exit, METH_VARARGS, NULL},
    {NULL},
};
/* no_grad() / enable_grad(): the context manager. no_grad(fn) (the decorator written without
 * parentheses, `@genc.no_grad`) gives the wrapped function, as PyTorch does; any other
 * argument is a TypeError (it used to be ignored, silently replacing the function). */
static PyObject *grad_mode_new(PyTypeObject *type, PyObject *a, PyObject *k, int enable) {
    if (PyTuple_GET_SIZE(a) == 1 && PyTuple_GET_ITEM(a, 0) == Py_None) a = PyTuple_GetSlice(a, 0, 0);
    else Py_INCREF(a);
    if (!a) return NULL;
    if ((k && PyDict_GET_SIZE(k)) || PyTuple_GET_SIZE(a) > 1 ||
        (PyTuple_GET_SIZE(a) == 1 && !PyCallable_Check(PyTuple_GET_ITEM(a, 0)))) {
        Py_DECREF(a);
        return PyErr_Format(PyExc_TypeError, "%s() takes no arguments (or, as a decorator, one callable)", type->tp_name);
    }
    GradModeObject *g = (GradModeObject *)type->tp_alloc(type, 0);
    PyObject *r = (PyObject *)g;
    if (g) g->enable = enable;
    if (g && PyTuple_GET_SIZE(a) == 1) {
        r = gm_call(g, a, NULL);
        Py_DECREF(g);
    }
    Py_DECREF(a);
    return r;
}
static PyObject *no_grad_new(PyTypeObject *type, PyObject *a, PyObject *k) { return grad_mode_new(type, a, k, 0); }
static PyObject *enable_grad_new(PyTypeObject *type, PyObject *a, PyObject *k) { return grad_mode_new(type, a, k, 1); }
static PyTypeObject NoGrad_Type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "genc.no_grad",
    .tp_basicsize = sizeof(GradModeObject),
    .tp_dealloc = (destructor)gm_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_traverse = (traverseproc)gm_traverse,
    .tp_doc = "no_grad(func=None, /)\n--\n\nContext manager (or decorator, with or without parentheses): ops inside record no autograd nodes.",
    .tp_call = (ternaryfunc)gm_call,
    .tp_methods = gm_methods,
    .tp_new = no_grad_new,
};
static PyTypeObject EnableGrad_Type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "genc.enable_grad",
    .tp_basicsize = sizeof(GradModeObject),
    .tp_dealloc = (destructor)gm_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_traverse = (traverseproc)gm_traverse,
    .tp_doc = "enable_grad(func=None, /)\n--\n\nContext manager (or decorator, with or without parentheses): ops inside record autograd nodes.",
    .tp_call = (ternaryfunc)gm_call,
    .tp_methods = gm_methods,
    .tp_new = enable_grad_new,
};

static PyObject *fn_is_grad_enabled(PyObject *s, PyObject *u) { return PyBool_FromLong(pg_grad_enabled()); }
static PyObject *fn_set_grad_enabled(PyObject *s, PyObject *v) {
    int b = PyObject_IsTrue(v);
    if (b < 0) return NULL;
    return PyBool_FromLong(pg_set_grad_enabled(b));
}

/* ---- creation ---- */

/* zeros, ones, full, randn, rand: (*shape, requires_grad=False), with full's value= and randn's
 * std=; any other keyword is refused (TypeError, as Python refuses it). */
static PyObject *make(PyObject *args, PyObject *kw, int kind) {
    static const char *const names[] = {"zeros", "ones", "full", "randn", "rand"};
    const char *extra = kind == 2 ? "value" : kind == 3 ? "std" : NULL;
    int ndim;
    int64_t shape[GENC_MAX_DIMS];
    double v = kind == 1 ? 1 : 0, std = 1;
    int rg = 0;
    PyObject *key, *val, *o = NULL;
    Py_ssize_t pos = 0;
    while (kw && PyDict_Next(kw, &pos, &key, &val)) {
        if (PyUnicode_Check(key) && !PyUnicode_CompareWithASCIIString(key, "requires_grad")) {
            if ((rg = PyObject_IsTrue(val)) < 0) return NULL;
        } else if (PyUnicode_Check(key) && extra && !PyUnicode_CompareWithASCIIString(key, extra)) {
            o = val;
        } else {
            return PyErr_Format(PyExc_TypeError, "%s() got an unexpected keyword argument '%S'", names[kind], key);
        }
    }
    if (kind == 2 && !o) return PyErr_Format(PyExc_TypeError, "full() missing required keyword argument 'value'");
    if (o && ((kind == 3 ? (std = PyFloat_AsDouble(o)) : (v = PyFloat_AsDouble(o))) == -1.0) && PyErr_Occurred()) return NULL;
    if (pg_parse_shape0(args, &ndim, shape)) return NULL;
    bool zero_d = ndim == 0; /* zeros(()): a 0-d tensor */
    if (zero_d) ndim = 1, shape[0] = 1;
    TensorObject *t = pg_tensor_new(ndim, shape);
    if (!t) return NULL;
    if (zero_d) pg_scalar((PyObject *)t);
    if (kind == 3) genc_fill_normal(G.ctx, &t->t, 0, std);
    else if (kind == 4) genc_fill_uniform(G.ctx, &t->t, 0, 1);
    else if (v != 0) genc_fill(&t->t, (genc_real)v);
    t->t.requires_grad = rg;
    return (PyObject *)t;
}
static PyObject *fn_zeros(PyObject *s, PyObject *a, PyObject *k) { return make(a, k, 0); }
static PyObject *fn_ones(PyObject *s, PyObject *a, PyObject *k) { return make(a, k, 1); }
static PyObject *fn_full(PyObject *s, PyObject *a, PyObject *k) { return make(a, k, 2); }
static PyObject *fn_randn(PyObject *s, PyObject *a, PyObject *k) { return make(a, k, 3); }
static PyObject *fn_rand(PyObject *s, PyObject *a, PyObject *k) { return make(a, k, 4); }

static PyObject *fn_tensor(PyObject *s, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"data", "requires_grad", NULL};
    PyObject *data;
    int rg = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|p:tensor", kwlist, &data, &rg)) return NULL;
    PyObject *t = pg_as_tensor(data);
    if (t && Tensor_Check(data)) { /* a new leaf over the same memory */
        TensorObject *src = (TensorObject *)t;
        PyObject *r = (PyObject *)pg_tensor_view(src->storage, src->t.ndim, src->t.shape, src->t.stride, src->t.data);
        if (r && src->scalar) pg_scalar(r);
        Py_DECREF(t);
        t = r;
    }
    if (t) ((TensorObject *)t)->t.requires_grad = rg;
    return t;
}

static PyObject *fn_parameter(PyObject *s, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"data", "requires_grad", NULL};
    PyObject *data;
    int rg = 1;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|p:Parameter", kwlist, &data, &rg)) return NULL;
    PyObject *t = pg_as_tensor(data);
    if (!t) return NULL;
    TensorObject *src = (TensorObject *)t;
    TensorObject *p = pg_tensor_view(src->storage, src->t.ndim, src->t.shape, src->t.stride, src->t.data);
    if (p && src->scalar) pg_scalar((PyObject *)p);
    Py_DECREF(t);
    if (!p) return NULL;
    p->t.requires_grad = rg;
    p->is_param = true;
    return (PyObject *)p;
}

static PyObject *fn_manual_seed(PyObject *s, PyObject *v) {
    unsigned long long seed = PyLong_AsUnsignedLongLong(v);
    if (PyErr_Occurred()) return NULL;
    genc_rng_seed(G.ctx, seed);
    Py_RETURN_NONE;
}

static PyObject *fn_set_threads(PyObject *s, PyObject *v) {
    long n = PyLong_AsLong(v);
    if (n == -1 && PyErr_Occurred()) return NULL;
    genc_set_threads(G.ctx, (int)n);
    Py_RETURN_NONE;
}
static PyObject *fn_get_threads(PyObject *s, PyObject *u) { return PyLong_FromLong(genc_get_threads(G.ctx)); }

static PyObject *fn_arena_used(PyObject *s, PyObject *u) { return PyLong_FromSize_t(genc_arena_used(G.ctx)); }

/* ---- safetensors ---- */

typedef struct {
    PyObject_HEAD
    genc_st *st;
} StFileObject;
static void stfile_dealloc(StFileObject *f) {
    genc_st_close(f->st);
    Py_TYPE(f)->tp_free(f);
}
static PyTypeObject StFile_Type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "genc._genc.SafetensorsFile",
    .tp_basicsize = sizeof(StFileObject),
    .tp_dealloc = (destructor)stfile_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A parsed safetensors file held in memory; loaded tensors view it.",
};

static PyObject *fn_load(PyObject *s, PyObject *args) {
    PyObject *path;
    if (!PyArg_ParseTuple(args, "O&:load", PyUnicode_FSConverter, &path)) return NULL;
    genc_st *st = NULL;
    genc_status rc = genc_st_open(G.ctx, PyBytes_AS_STRING(path), &st);
    Py_DECREF(path);
    if (rc) return pg_raise(rc);
    StFileObject *f = PyObject_New(StFileObject, &StFile_Type);
    if (!f) return genc_st_close(st), NULL;
    f->st = st;
    PyObject *d = PyDict_New();
    for (int i = 0; d && i < genc_st_count(st); i++) {
        const genc_st_entry *e = genc_st_at(st, i);
        int nd = e->ndim ? e->ndim : 1;
        int64_t shape[GENC_MAX_DIMS], stride[GENC_MAX_DIMS], n = 1;
        if (nd > GENC_MAX_DIMS) continue; /* genc tensors have at most 4 dims */
        for (int k = 0; k < nd; k++) shape[k] = e->ndim ? e->shape[k] : 1, n *= shape[k];
        if (n == 0) continue;
        for (int k = nd - 1, st_ = 1; k >= 0; k--) stride[k] = st_, st_ *= (int)shape[k];
        const void *data = genc_st_data(st, e);
        TensorObject *t;
        if (e->dtype == GENC_DT_F32 && ((uintptr_t)data % 4) == 0) { /* no copy: a read-only view of the file */
            StorageObject *so = pg_storage_external((void *)data, (size_t)n * 4, (PyObject *)f, true);
            if (so) so->pinned = true;
            t = so ? pg_tensor_view(so, nd, shape, stride, (genc_real *)data) : NULL;
            Py_XDECREF(so);
        } else {
            t = pg_tensor_new(nd, shape);
            if (t && genc_st_read_f32(G.ctx, st, e->name, t->t.data, e->ndim, e->shape)) {
                Py_DECREF(t);
                Py_DECREF(d);
                Py_DECREF(f);
                return pg_raise(genc_ctx_status(G.ctx));
            }
            if (t) t->storage->readonly = true;
        }
        if (t && e->ndim == 0) pg_scalar((PyObject *)t); /* a 0-d tensor in the file */
        if (!t || PyDict_SetItemString(d, e->name, (PyObject *)t) < 0) {
            Py_XDECREF(t);
            Py_CLEAR(d);
            break;
        }
        Py_DECREF(t);
    }
    Py_DECREF(f);
    return d;
}

static PyObject *fn_load_metadata(PyObject *s, PyObject *args) {
    PyObject *path;
    if (!PyArg_ParseTuple(args, "O&:load_metadata", PyUnicode_FSConverter, &path)) return NULL;
    genc_st *st = NULL;
    genc_status rc = genc_st_open(G.ctx, PyBytes_AS_STRING(path), &st);
    Py_DECREF(path);
    if (rc) return pg_raise(rc);
    PyObject *d = PyDict_New();
    const char *k, *v;
    for (int i = 0; d && genc_st_meta_at(st, i, &k, &v); i++) {
        PyObject *x = PyUnicode_FromString(v);
        if (!x || PyDict_SetItemString(d, k, x) < 0) Py_CLEAR(d);
        Py_XDECREF(x);
    }
    genc_st_close(st);
    return d;
}

/* The tensors and metadata are gathered with the GIL held (references kept), then copied,
 * encoded and written without it, on a private context. */
static PyObject *fn_save(PyObject *s, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"tensors", "path", "metadata", NULL};
    PyObject *tensors, *path, *meta = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OO&|O:save", kwlist, &tensors, PyUnicode_FSConverter, &path, &meta))
        return NULL;
    PyObject *items = PyMapping_Items(tensors), *mi = NULL, *held = PyList_New(0);
    Py_ssize_t n = items ? PyList_GET_SIZE(items) : 0, nm = 0;
    const char **names = calloc((size_t)n + 1, sizeof *names), **mk = NULL, **mv = NULL;
    genc_tensor *ts = calloc((size_t)n + 1, sizeof *ts);
    bool *zero_d = calloc((size_t)n + 1, sizeof *zero_d); /* 0-d tensors are written with shape [] */
    bool ok = items && held && names && ts && zero_d;
    if (items && (!names || !ts || !zero_d)) PyErr_NoMemory();
    for (Py_ssize_t i = 0; ok && i < n; i++) {
        PyObject *pair = PyList_GET_ITEM(items, i);
        PyObject *k = PyTuple_Check(pair) && PyTuple_GET_SIZE(pair) == 2 ? PyTuple_GET_ITEM(pair, 0) : NULL;
        if (!k || !PyUnicode_Check(k)) {
            PyErr_Format(PyExc_TypeError, "save: tensor names must be str, found %s", k ? Py_TYPE(k)->tp_name : "?");
            ok = false;
            break;
        }
        PyObject *t = (names[i] = PyUnicode_AsUTF8(k)) ? pg_as_tensor(PyTuple_GET_ITEM(pair, 1)) : NULL;
        ok = t && PyList_Append(held, t) == 0;
        if (ok) ts[i] = ((TensorObject *)t)->t, zero_d[i] = ((TensorObject *)t)->scalar;
        Py_XDECREF(t);
    }
    if (ok && meta != Py_None) {
        mi = PyMapping_Items(meta);
        nm = mi ? PyList_GET_SIZE(mi) : 0;
        mk = calloc((size_t)nm + 1, sizeof *mk), mv = calloc((size_t)nm + 1, sizeof *mv);
        ok = mi && mk && mv;
        if (mi && (!mk || !mv)) PyErr_NoMemory();
        for (Py_ssize_t i = 0; ok && i < nm; i++) {
            PyObject *pair = PyList_GET_ITEM(mi, i);
            if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2 || !PyUnicode_Check(PyTuple_GET_ITEM(pair, 0)) ||
                !PyUnicode_Check(PyTuple_GET_ITEM(pair, 1))) {
                PyErr_SetString(PyExc_TypeError, "save: metadata keys and values must be str");
                ok = false;
                break;
            }
            mk[i] = PyUnicode_AsUTF8(PyTuple_GET_ITEM(pair, 0));
            mv[i] = mk[i] ? PyUnicode_AsUTF8(PyTuple_GET_ITEM(pair, 1)) : NULL;
            ok = mk[i] && mv[i];
        }
    }
    genc_status rc = GENC_OK;
    genc_ctx *ctx = NULL;
    if (ok) {
        Py_BEGIN_ALLOW_THREADS
        ctx = genc_ctx_new();
        genc_st_writer *w = ctx ? genc_st_writer_new(ctx) : NULL;
        rc = w ? GENC_OK : GENC_ENOMEM;
        for (Py_ssize_t i = 0; !rc && i < n; i++) {
            genc_tensor dst = ts[i];
            dst.data = malloc((size_t)genc_numel(&ts[i]) * sizeof(float) + 4);
            if (!dst.data) {
                rc = genc_error(ctx, GENC_ENOMEM, "save: out of memory for tensor '%s'", names[i]);
                break;
            }
            int64_t st_ = 1;
            for (int d = dst.ndim - 1; d >= 0; d--) dst.stride[d] = st_, st_ *= dst.shape[d];
            genc_copy(ctx, &dst, &ts[i]);
            rc = genc_st_writer_add_f32(w, names[i], GENC_DT_F32, zero_d[i] ? 0 : dst.ndim, dst.shape, dst.data);
            free(dst.data);
        }
        for (Py_ssize_t i = 0; !rc && i < nm; i++) rc = genc_st_writer_meta(w, mk[i], mv[i]);
        if (!rc) rc = genc_st_writer_save(w, PyBytes_AS_STRING(path));
        genc_st_writer_free(w);
        Py_END_ALLOW_THREADS
    }
    free(names), free(ts), free(zero_d), free(mk), free(mv);
    Py_XDECREF(items), Py_XDECREF(mi), Py_XDECREF(held);
    Py_DECREF(path);
    PyObject *r = NULL;
    if (!ok) r = NULL;
    else if (!ctx) r = PyErr_NoMemory();
    else if (rc) r = pg_raise_ctx(ctx, rc);
    else r = (Py_INCREF(Py_None), Py_None);
    genc_ctx_free(ctx);
    return r;
}

/* ---- Module base type ---- */

typedef struct {
    PyObject_HEAD
    PyObject *dict;
    PyObject *weakreflist;
    int training;
} ModuleObject;

static int mod_traverse(ModuleObject *m, visitproc visit, void *arg) {
    Py_VISIT(m->dict);
    return 0;
}
static int mod_clear(ModuleObject *m) {
    Py_CLEAR(m->dict);
    return 0;
}
static void mod_dealloc(ModuleObject *m) {
    PyObject_GC_UnTrack(m);
    if (m->weakreflist) PyObject_ClearWeakRefs((PyObject *)m);
    mod_clear(m);
    Py_TYPE(m)->tp_free((PyObject *)m);
}
static PyObject *mod_new(PyTypeObject *type, PyObject *args, PyObject *kw) {
    ModuleObject *m = (ModuleObject *)type->tp_alloc(type, 0);
    if (m) m->training = 1;
    return (PyObject *)m;
}
/* The end of every cooperative __init__ chain: like object.__init__, no arguments left. */
static int mod_init(PyObject *self, PyObject *args, PyObject *kw) {
    if (PyTuple_GET_SIZE(args) || (kw && PyDict_GET_SIZE(kw))) {
        PyErr_Format(PyExc_TypeError, "genc.Module.__init__() takes no arguments (%zd positional, %zd keyword left "
                                      "over by the subclasses' __init__ chain)",
                     PyTuple_GET_SIZE(args), kw ? PyDict_GET_SIZE(kw) : 0);
        return -1;
    }
    return 0;
}
static PyObject *mod_call(PyObject *self, PyObject *args, PyObject *kw) {
    PyObject *f = PyObject_GetAttrString(self, "forward");
    if (!f) return NULL;
    PyObject *r = PyObject_Call(f, args, kw);
    Py_DECREF(f);
    return r;
}
static PyObject *mod_forward(PyObject *self, PyObject *args) {
    return PyErr_Format(PyExc_NotImplementedError, "%s.forward is not defined", Py_TYPE(self)->tp_name);
}
static PyObject *mod_get_training(ModuleObject *m, void *c) { return PyBool_FromLong(m->training); }
static int mod_set_training(ModuleObject *m, PyObject *v, void *c) {
    if (!v) return PyErr_SetString(PyExc_TypeError, "cannot delete the attribute 'training'"), -1;
    int b = PyObject_IsTrue(v);
    if (b < 0) return -1;
    m->training = b;
    return 0;
}
static PyGetSetDef mod_getset[] = {
    {"training", (getter)mod_get_training, (setter)mod_set_training, "training mode (dropout on)", NULL},
    {"__dict__", PyObject_GenericGetDict, PyObject_GenericSetDict, NULL, NULL},
    {NULL},
};
static PyMethodDef mod_methods[] = {
    {"forward", mod_forward, METH_VARARGS, "the computation; subclasses define it"},
    {NULL},
};

PyTypeObject Module_Type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "genc._genc.Module",
    .tp_basicsize = sizeof(ModuleObject),
    .tp_dealloc = (destructor)mod_dealloc,
    .tp_call = mod_call,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_BASETYPE,
    .tp_doc = "Module()\n--\n\nBase type of genc modules: calling one calls forward; parameters live in attributes.",
    .tp_traverse = (traverseproc)mod_traverse,
    .tp_clear = (inquiry)mod_clear,
    .tp_weaklistoffset = offsetof(ModuleObject, weakreflist),
    .tp_dictoffset = offsetof(ModuleObject, dict),
    .tp_methods = mod_methods,
    .tp_getset = mod_getset,
    .tp_init = mod_init,
    .tp_new = mod_new,
};

/* ---- the module ---- */

PyObject *pg_from_bytes(PyObject *self, PyObject *args);

static PyMethodDef base_methods[] = {
    {"_from_bytes", pg_from_bytes, METH_VARARGS, "unpickle a tensor"},
    {"zeros", (PyCFunction)(void (*)(void))fn_zeros, METH_VARARGS | METH_KEYWORDS, "zeros(*shape, requires_grad=False)"},
    {"ones", (PyCFunction)(void (*)(void))fn_ones, METH_VARARGS | METH_KEYWORDS, "ones(*shape, requires_grad=False)"},
    {"full", (PyCFunction)(void (*)(void))fn_full, METH_VARARGS | METH_KEYWORDS, "full(*shape, value=v)"},
    {"randn", (PyCFunction)(void (*)(void))fn_randn, METH_VARARGS | METH_KEYWORDS,
     "randn(*shape, std=1, requires_grad=False): Philox normal draws"},
    {"rand", (PyCFunction)(void (*)(void))fn_rand, METH_VARARGS | METH_KEYWORDS, "rand(*shape): uniform [0, 1)"},
    {"tensor", (PyCFunction)(void (*)(void))fn_tensor, METH_VARARGS | METH_KEYWORDS,
     "tensor(data, requires_grad=False): float32 buffers are viewed without a copy, others converted"},
    {"from_numpy", (PyCFunction)(void (*)(void))fn_tensor, METH_VARARGS | METH_KEYWORDS,
     "a tensor viewing a float32 numpy array's memory (no copy)"},
    {"Parameter", (PyCFunction)(void (*)(void))fn_parameter, METH_VARARGS | METH_KEYWORDS,
     "a leaf tensor marked as a module parameter (requires_grad=True)"},
    {"is_grad_enabled", fn_is_grad_enabled, METH_NOARGS, "whether ops record autograd nodes"},
    {"set_grad_enabled", fn_set_grad_enabled, METH_O, "set grad mode; returns the previous one"},
    {"manual_seed", fn_manual_seed, METH_O, "seed the Philox stream (randn, dropout, sampling)"},
    {"set_threads", fn_set_threads, METH_O, "threads for genc's loops and BLAS (0: all cores)"},
    {"get_threads", fn_get_threads, METH_NOARGS, "the thread count"},
    {"_arena_used", fn_arena_used, METH_NOARGS, "bytes live in the step arena (tests)"},
    {"load", fn_load, METH_VARARGS, "load(path) -> {name: Tensor}; float32 tensors are read-only views of the file"},
    {"load_metadata", fn_load_metadata, METH_VARARGS, "load_metadata(path) -> {key: str}"},
    {"save", (PyCFunction)(void (*)(void))fn_save, METH_VARARGS | METH_KEYWORDS,
     "save({name: Tensor}, path, metadata=None): atomic safetensors write"},
    {NULL},
};

static void free_ctx(void *m) {
    if (G.ctx) genc_ctx_free(G.ctx);
    G.ctx = NULL;
    pg_exec_free(&W);
}

static struct PyModuleDef moddef = {
    PyModuleDef_HEAD_INIT, "_genc", "genc: tensors, autograd and generative models in C (the CPython extension).",
    -1, NULL, NULL, NULL, NULL, free_ctx,
};

static int add_methods(PyObject *m, PyMethodDef *defs) {
    PyObject *name = PyModule_GetNameObject(m);
    for (PyMethodDef *d = defs; d->ml_name; d++) {
        PyObject *f = PyCFunction_NewEx(d, NULL, name);
        if (!f || PyModule_AddObject(m, d->ml_name, f) < 0) {
            Py_XDECREF(name);
            return -1;
        }
    }
    Py_XDECREF(name);
    return 0;
}

PyMODINIT_FUNC PyInit__genc(void) {
    G.ctx = genc_ctx_new();
    if (!G.ctx) return PyErr_NoMemory();
    if (pg_exec_init(&W) < 0) return NULL;
    W.own_rng = true;
    PyObject *m = PyModule_Create(&moddef);
    if (!m) return NULL;
    if (PyType_Ready(&Node_Type) < 0 || PyType_Ready(&NoGrad_Type) < 0 || PyType_Ready(&GradFn_Type) < 0 || PyType_Ready(&EnableGrad_Type) < 0 ||
        PyType_Ready(&StFile_Type) < 0 || PyType_Ready(&Module_Type) < 0)
        return NULL;
    if (pg_tensor_init_types(m) < 0 || add_methods(m, base_methods) < 0 || add_methods(m, pg_op_methods) < 0) return NULL;
    Py_INCREF(&Node_Type);
    PyModule_AddObject(m, "Node", (PyObject *)&Node_Type);
    Py_INCREF(&NoGrad_Type);
    PyModule_AddObject(m, "no_grad", (PyObject *)&NoGrad_Type);
    Py_INCREF(&EnableGrad_Type);
    PyModule_AddObject(m, "enable_grad", (PyObject *)&EnableGrad_Type);
    Py_INCREF(&Module_Type);
    PyModule_AddObject(m, "Module", (PyObject *)&Module_Type);
    PyModule_AddStringConstant(m, "__version__", GENC_VERSION);
    if (pg_optim_init_types(m) < 0 || pg_lm_init_types(m) < 0 || pg_models_init_types(m) < 0 ||
        pg_diffusion_init_types(m) < 0 || pg_sign_functions(m) < 0)
        return NULL;
    return m;
}
