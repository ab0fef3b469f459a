/* genc._genc: Storage (the memory a tensor views, with its version counter and read-only
 * flag) and Tensor (shape, strides, buffer protocol both ways, tolist, repr, grad). */
#include "python/pygenc.h"

#include <math.h>
#include <string.h>

/* ---- Storage ---- */

static void storage_dealloc(StorageObject *s) {
    PyObject_GC_UnTrack(s);
    if (s->kind == STORAGE_OWN) free(s->data);
    else if (s->kind == STORAGE_BUFFER) PyBuffer_Release(&s->view);
    Py_XDECREF(s->owner);
    PyObject_GC_Del(s);
}

static int storage_traverse(StorageObject *s, visitproc visit, void *arg) {
    Py_VISIT(s->owner);
    if (s->kind == STORAGE_BUFFER) Py_VISIT(s->view.obj);
    return 0;
}

/* Only reached when the storage and every tensor viewing it are unreachable garbage (the
 * collector runs finalizers first), so nothing reads the memory afterwards. */
static int storage_clear(StorageObject *s) {
    if (s->kind == STORAGE_BUFFER) {
        PyBuffer_Release(&s->view);
        s->kind = STORAGE_EXTERNAL;
    }
    Py_CLEAR(s->owner);
    return 0;
}

PyTypeObject Storage_Type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "genc._genc.Storage",
    .tp_basicsize = sizeof(StorageObject),
    .tp_dealloc = (destructor)storage_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_traverse = (traverseproc)storage_traverse,
    .tp_clear = (inquiry)storage_clear,
    .tp_doc = "Memory viewed by tensors: owned, borrowed from a buffer exporter, or a C model's.",
};

StorageObject *pg_storage_new(size_t nbytes) {
    StorageObject *s = PyObject_GC_New(StorageObject, &Storage_Type);
    if (!s) return NULL;
    s->kind = STORAGE_OWN;
    s->owner = NULL;
    s->version = 0;
    s->readonly = s->pinned = false;
    s->nbytes = nbytes;
    s->data = aligned_alloc(64, (nbytes + 63) & ~(size_t)63);
    if (!s->data) {
        s->kind = STORAGE_EXTERNAL;
        Py_DECREF(s);
        return (StorageObject *)PyErr_Format(PyExc_MemoryError, "tensor: cannot allocate %zu bytes", nbytes);
    }
    memset(s->data, 0, nbytes);
    PyObject_GC_Track(s);
    return s;
}

StorageObject *pg_storage_external(void *data, size_t nbytes, PyObject *owner, bool readonly) {
    StorageObject *s = PyObject_GC_New(StorageObject, &Storage_Type);
    if (!s) return NULL;
    s->kind = STORAGE_EXTERNAL;
    s->data = data;
    s->nbytes = nbytes;
    Py_XINCREF(owner);
    s->owner = owner;
    s->version = 0;
    s->readonly = readonly;
    s->pinned = false;
    PyObject_GC_Track(s);
    return s;
}

/* ---- Tensor construction ---- */

static TensorObject *tensor_alloc(PyTypeObject *type) {
    TensorObject *t = (TensorObject *)type->tp_alloc(type, 0);
    return t; /* tp_alloc zero-fills */
}

/* A tensor of `type` (genc.Tensor or a subclass) viewing s. */
static TensorObject *view_typed(PyTypeObject *type, StorageObject *s, int ndim, const int64_t *shape,
                                const int64_t *stride, genc_real *data) {
    TensorObject *t = tensor_alloc(type);
    if (!t) return NULL;
    t->t.ndim = ndim;
    for (int i = 0; i < GENC_MAX_DIMS; i++) {
        t->t.shape[i] = i < ndim ? shape[i] : 1;
        t->t.stride[i] = i < ndim ? stride[i] : 1;
    }
    t->t.data = data;
    t->t.persistent = true;
    Py_INCREF(s);
    t->storage = s;
    return t;
}

TensorObject *pg_tensor_view(StorageObject *s, int ndim, const int64_t *shape, const int64_t *stride,
                             genc_real *data) {
    return view_typed(&Tensor_Type, s, ndim, shape, stride, data);
}

TensorObject *pg_tensor_as(PyTypeObject *type, TensorObject *t) {
    if (!t || type == &Tensor_Type || Py_TYPE(t) == type) return t;
    TensorObject *r = view_typed(type, t->storage, t->t.ndim, t->t.shape, t->t.stride, t->t.data);
    if (r) {
        r->t = t->t;
        r->scalar = t->scalar, r->is_param = t->is_param;
        r->grad_fn = t->grad_fn; /* the node moves to r with the result */
        t->grad_fn = NULL;
    }
    Py_DECREF(t);
    return r;
}

static void contig_strides(int ndim, const int64_t *shape, int64_t *stride) {
    int64_t s = 1;
    for (int i = ndim - 1; i >= 0; i--) stride[i] = s, s *= shape[i];
}

/* The element count of the dims >= 1 of shape (a reshape's -1 is skipped), or -1 with
 * OverflowError when it, or its size in bytes, does not fit in a Py_ssize_t. */
int64_t pg_shape_numel(int ndim, const int64_t *shape) {
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 1) continue;
        if (__builtin_mul_overflow(n, shape[i], &n) || n > PY_SSIZE_T_MAX / (int64_t)sizeof(genc_real)) {
            char dims[160];
            size_t k = 0;
            for (int d = 0; d < ndim && k < sizeof dims; d++)
                k += (size_t)snprintf(dims + k, sizeof dims - k, "%s%lld", d ? ", " : "", (long long)shape[d]);
            PyErr_Format(PyExc_OverflowError, "shape (%s): too many elements (more than 2^63 bytes)", dims);
            return -1;
        }
    }
    return n;
}

TensorObject *pg_tensor_new(int ndim, const int64_t *shape) {
    int64_t n = 1, stride[GENC_MAX_DIMS];
    if (ndim < 1 || ndim > GENC_MAX_DIMS) {
        PyErr_Format(PyExc_ValueError, "genc tensors have 1 to %d dims, found %d", GENC_MAX_DIMS, ndim);
        return NULL;
    }
    for (int i = 0; i < ndim; i++)
        if (shape[i] < 1) {
            PyErr_Format(PyExc_ValueError, "tensor: dim %d is %lld (every dim must be >= 1)", i, (long long)shape[i]);
            return NULL;
        }
    if ((n = pg_shape_numel(ndim, shape)) < 0) return NULL;
    contig_strides(ndim, shape, stride);
    StorageObject *s = pg_storage_new((size_t)n * sizeof(genc_real));
    if (!s) return NULL;
    TensorObject *t = pg_tensor_view(s, ndim, shape, stride, (genc_real *)s->data);
    Py_DECREF(s);
    return t;
}

TensorObject *pg_tensor_from_genc(const genc_tensor *g) {
    TensorObject *t = pg_tensor_new(g->ndim, g->shape);
    if (!t) return NULL;
    genc_copy(G.ctx, &t->t, g);
    return t;
}

TensorObject *pg_tensor_bound(genc_tensor *p, PyObject *owner) {
    StorageObject *s = pg_storage_external(p->data, (size_t)genc_numel(p) * sizeof(genc_real), owner, false);
    if (!s) return NULL;
    TensorObject *t = pg_tensor_view(s, p->ndim, p->shape, p->stride, p->data);
    Py_DECREF(s);
    if (!t) return NULL;
    t->bound = p;
    t->is_param = true;
    t->t.requires_grad = p->requires_grad;
    snprintf(t->t.name, sizeof t->t.name, "%s", p->name);
    return t;
}

int pg_check_writable(TensorObject *t, const char *what) {
    if (t->storage->readonly) {
        PyErr_Format(PyExc_ValueError, "%s: the tensor is read-only (a frozen parameter, a checkpoint view or a "
                                       "read-only buffer)", what);
        return -1;
    }
    return 0;
}

void pg_bump(TensorObject *t) { t->storage->version++; }

PyObject *pg_scalar(PyObject *r) {
    if (r && Tensor_Check(r) && genc_numel(&((TensorObject *)r)->t) == 1) {
        TensorObject *t = (TensorObject *)r; /* data points at the one element: any strides do */
        t->t.ndim = 1;
        for (int i = 0; i < GENC_MAX_DIMS; i++) t->t.shape[i] = 1, t->t.stride[i] = 1;
        t->scalar = true;
    }
    return r;
}

/* ---- conversion from Python objects ---- */

static int nested_shape(PyObject *o, int depth, int *ndim, int64_t *shape) {
    if (PyList_Check(o) || PyTuple_Check(o)) {
        if (depth >= GENC_MAX_DIMS) {
            PyErr_Format(PyExc_ValueError, "genc tensors have at most %d dims", GENC_MAX_DIMS);
            return -1;
        }
        Py_ssize_t n = PySequence_Fast_GET_SIZE(o);
        if (n == 0) {
            PyErr_SetString(PyExc_ValueError, "tensor: empty sequences are not supported (every dim must be >= 1)");
            return -1;
        }
        if (depth >= *ndim) *ndim = depth + 1, shape[depth] = n;
        return nested_shape(PySequence_Fast_GET_ITEM(o, 0), depth + 1, ndim, shape);
    }
    return 0;
}

static int nested_fill(PyObject *o, int depth, int ndim, const int64_t *shape, genc_real **dst) {
    if (depth == ndim) {
        double v = PyFloat_AsDouble(o);
        if (v == -1.0 && PyErr_Occurred()) {
            PyErr_Format(PyExc_TypeError, "tensor: expected numbers, found %s", Py_TYPE(o)->tp_name);
            return -1;
        }
        *(*dst)++ = (genc_real)v;
        return 0;
    }
    if (!(PyList_Check(o) || PyTuple_Check(o)) || PySequence_Fast_GET_SIZE(o) != shape[depth]) {
        PyErr_Format(PyExc_ValueError, "tensor: ragged nested sequence (expected length %lld at depth %d)",
                     (long long)shape[depth], depth);
        return -1;
    }
    for (int64_t i = 0; i < shape[depth]; i++)
        if (nested_fill(PySequence_Fast_GET_ITEM(o, i), depth + 1, ndim, shape, dst)) return -1;
    return 0;
}

/* One element of a buffer of format fmt as a double; -1 for an unsupported format. */
static int buffer_kind(const char *fmt) {
    if (!fmt) return 'B';
    if (*fmt == '<' || *fmt == '=' || *fmt == '@') fmt++;
    if (strlen(fmt) != 1 || !strchr("fdbBhHiIlLqQ?", *fmt)) return -1;
    return *fmt;
}

static double buffer_get(const char *p, int kind) {
    switch (kind) {
    case 'f': return *(const float *)p;
    case 'd': return *(const double *)p;
    case 'b': return *(const signed char *)p;
    case 'B': case '?': return *(const unsigned char *)p;
    case 'h': return *(const short *)p;
    case 'H': return *(const unsigned short *)p;
    case 'i': return *(const int *)p;
    case 'I': return *(const unsigned int *)p;
    case 'l': return (double)*(const long *)p;
    case 'L': return (double)*(const unsigned long *)p;
    case 'q': return (double)*(const long long *)p;
    case 'Q': return (double)*(const unsigned long long *)p;
    }
    return 0;
}

static void buffer_copy(const Py_buffer *v, int kind, int d, const char *src, genc_real **dst) {
    for (Py_ssize_t i = 0; i < v->shape[d]; i++) {
        const char *p = src + i * v->strides[d];
        if (d == v->ndim - 1) *(*dst)++ = (genc_real)buffer_get(p, kind);
        else buffer_copy(v, kind, d + 1, p, dst);
    }
}

/* From any buffer exporter: float32 memory is viewed without a copy (the tensor keeps
 * the exporter alive and follows its read-only flag); other formats are converted. */
static PyObject *tensor_from_buffer(PyObject *o) {
    Py_buffer v;
    bool readonly = false;
    if (PyObject_GetBuffer(o, &v, PyBUF_RECORDS) < 0) {
        PyErr_Clear();
        if (PyObject_GetBuffer(o, &v, PyBUF_RECORDS_RO) < 0) return NULL;
        readonly = true;
    }
    int kind = buffer_kind(v.format);
    if (kind < 0 || v.ndim > GENC_MAX_DIMS) {
        PyErr_Format(PyExc_TypeError, "tensor: unsupported buffer (format '%s', %d dims); genc holds float32 with 1 to %d dims",
                     v.format ? v.format : "B", v.ndim, GENC_MAX_DIMS);
        PyBuffer_Release(&v);
        return NULL;
    }
    int ndim = v.ndim ? v.ndim : 1;
    bool v0 = v.ndim == 0; /* a 0-d array gives a 0-d tensor */
    int64_t shape[GENC_MAX_DIMS], stride[GENC_MAX_DIMS];
    bool aligned = kind == 'f' && ((uintptr_t)v.buf % sizeof(float)) == 0;
    for (int i = 0; i < ndim; i++) {
        shape[i] = v.ndim ? v.shape[i] : 1;
        stride[i] = v.ndim ? v.strides[i] / (Py_ssize_t)sizeof(float) : 1;
        if (shape[i] < 1) {
            PyErr_Format(PyExc_ValueError, "tensor: dim %d is %lld (every dim must be >= 1)", i, (long long)shape[i]);
            PyBuffer_Release(&v);
            return NULL;
        }
        if (v.ndim && (v.strides[i] % (Py_ssize_t)sizeof(float) != 0 || v.strides[i] < 0)) aligned = false;
    }
    if (aligned) {
        StorageObject *s = PyObject_GC_New(StorageObject, &Storage_Type);
        if (!s) {
            PyBuffer_Release(&v);
            return NULL;
        }
        s->kind = STORAGE_BUFFER;
        s->view = v;
        s->data = v.buf;
        s->nbytes = (size_t)v.len;
        s->owner = NULL;
        s->version = 0;
        s->readonly = s->pinned = readonly;
        PyObject_GC_Track(s);
        TensorObject *t = pg_tensor_view(s, ndim, shape, stride, (genc_real *)v.buf);
        Py_DECREF(s);
        return v0 ? pg_scalar((PyObject *)t) : (PyObject *)t;
    }
    TensorObject *t = pg_tensor_new(ndim, shape);
    if (t) {
        genc_real *dst = t->t.data;
        if (v.ndim == 0) *dst = (genc_real)buffer_get(v.buf, kind);
        else buffer_copy(&v, kind, 0, v.buf, &dst);
    }
    PyBuffer_Release(&v);
    return v0 ? pg_scalar((PyObject *)t) : (PyObject *)t;
}

PyObject *pg_as_tensor(PyObject *o) {
    if (Tensor_Check(o)) {
        Py_INCREF(o);
        return o;
    }
    if (PyObject_CheckBuffer(o)) return tensor_from_buffer(o);
    if (PyFloat_Check(o) || PyLong_Check(o)) {
        int64_t one = 1;
        TensorObject *t = pg_tensor_new(1, &one);
        if (t) t->t.data[0] = (genc_real)PyFloat_AsDouble(o);
        return pg_scalar((PyObject *)t); /* a number is 0-d, as torch.tensor(2.0) */
    }
    if (PyList_Check(o) || PyTuple_Check(o)) {
        int ndim = 0;
        int64_t shape[GENC_MAX_DIMS];
        if (nested_shape(o, 0, &ndim, shape)) return NULL;
        TensorObject *t = pg_tensor_new(ndim, shape);
        if (!t) return NULL;
        genc_real *dst = t->t.data;
        if (nested_fill(o, 0, ndim, shape, &dst)) {
            Py_DECREF(t);
            return NULL;
        }
        return (PyObject *)t;
    }
    return PyErr_Format(PyExc_TypeError, "expected a genc.Tensor, a number, a nested list or a buffer (numpy array), found %s",
                        Py_TYPE(o)->tp_name);
}

/* Shape from f(2, 3) or f((2, 3)); f() and f(()) only when allow0 (then *ndim = 0). */
static int parse_shape(PyObject *args, int *ndim, int64_t *shape, bool allow0) {
    if (PyTuple_GET_SIZE(args) == 1 && (PyTuple_Check(PyTuple_GET_ITEM(args, 0)) || PyList_Check(PyTuple_GET_ITEM(args, 0))))
        args = PyTuple_GET_ITEM(args, 0);
    PyObject *seq = PySequence_Fast(args, "shape: expected integers");
    if (!seq) return -1;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    if ((n < 1 && !allow0) || n > GENC_MAX_DIMS) {
        Py_DECREF(seq);
        PyErr_Format(PyExc_ValueError, "shape: genc tensors have 1 to %d dims, found %zd", GENC_MAX_DIMS, n);
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *it = PySequence_Fast_GET_ITEM(seq, i);
        if (!PyLong_Check(it)) {
            Py_DECREF(seq);
            PyErr_Format(PyExc_TypeError, "shape: expected integers, found %s", Py_TYPE(it)->tp_name);
            return -1;
        }
        shape[i] = PyLong_AsLongLong(it);
        if (shape[i] == -1 && PyErr_Occurred()) {
            Py_DECREF(seq);
            return -1;
        }
    }
    *ndim = (int)n;
    Py_DECREF(seq);
    return pg_shape_numel(*ndim, shape) < 0 ? -1 : 0;
}
int pg_parse_shape(PyObject *args, int *ndim, int64_t *shape) { return parse_shape(args, ndim, shape, false); }
int pg_parse_shape0(PyObject *args, int *ndim, int64_t *shape) { return parse_shape(args, ndim, shape, true); }

int pg_int32_array(PyObject *o, int32_t **out, int64_t *n) {
    if (Tensor_Check(o)) {
        TensorObject *t = (TensorObject *)o;
        *n = genc_numel(&t->t);
        *out = malloc((size_t)*n * sizeof(int32_t) + 4);
        if (!*out) return PyErr_NoMemory(), -1;
        int64_t sh[4], st[4], k = 0;
        for (int i = 0; i < 4; i++) sh[i] = i < t->t.ndim ? t->t.shape[i] : 1, st[i] = i < t->t.ndim ? t->t.stride[i] : 0;
        for (int64_t a = 0; a < sh[0]; a++)
            for (int64_t b = 0; b < sh[1]; b++)
                for (int64_t c = 0; c < sh[2]; c++)
                    for (int64_t d = 0; d < sh[3]; d++)
                        (*out)[k++] = (int32_t)t->t.data[a * st[0] + b * st[1] + c * st[2] + d * st[3]];
        return 0;
    }
    if (PyObject_CheckBuffer(o)) {
        Py_buffer v;
        if (PyObject_GetBuffer(o, &v, PyBUF_RECORDS_RO) < 0) return -1;
        int kind = buffer_kind(v.format);
        if (kind < 0 || kind == 'f' || kind == 'd') {
            PyBuffer_Release(&v);
            PyErr_Format(PyExc_TypeError, "expected integer ids, found a buffer of format '%s'", v.format ? v.format : "B");
            return -1;
        }
        int64_t total = 1;
        for (int i = 0; i < v.ndim; i++) total *= v.shape[i];
        *n = total;
        *out = malloc((size_t)total * sizeof(int32_t) + 4);
        genc_real *tmp = malloc((size_t)total * sizeof(genc_real) + 4);
        if (!*out || !tmp) {
            free(*out), free(tmp);
            PyBuffer_Release(&v);
            return PyErr_NoMemory(), -1;
        }
        if (kind == 'i' && PyBuffer_IsContiguous(&v, 'C')) memcpy(*out, v.buf, (size_t)total * 4);
        else if (v.ndim == 0) (*out)[0] = (int32_t)buffer_get(v.buf, kind);
        else {
            /* convert through doubles, element by element */
            int64_t k = 0;
            int64_t idx[8] = {0};
            for (k = 0; k < total; k++) {
                const char *p = v.buf;
                int64_t r = k;
                for (int d = v.ndim - 1; d >= 0; d--) idx[d] = r % v.shape[d], r /= v.shape[d];
                for (int d = 0; d < v.ndim; d++) p += idx[d] * v.strides[d];
                (*out)[k] = (int32_t)buffer_get(p, kind);
            }
        }
        free(tmp);
        PyBuffer_Release(&v);
        return 0;
    }
    PyObject *seq = PySequence_Fast(o, "expected a sequence of integer ids");
    if (!seq) return -1;
    /* a flat sequence of ids, or rows of ids of one length (a batch), flattened row by row;
     * ragged rows and deeper nesting are refused, never silently flattened */
    Py_ssize_t rows = PySequence_Fast_GET_SIZE(seq), width = -1;
    bool nested = rows > 0 && (PyList_Check(PySequence_Fast_GET_ITEM(seq, 0)) || PyTuple_Check(PySequence_Fast_GET_ITEM(seq, 0)));
    for (Py_ssize_t i = 0; i < rows; i++) {
        PyObject *it = PySequence_Fast_GET_ITEM(seq, i);
        bool is_row = PyList_Check(it) || PyTuple_Check(it);
        if (is_row != nested || (is_row && width >= 0 && PySequence_Fast_GET_SIZE(it) != width)) {
            Py_DECREF(seq);
            if (is_row && nested)
                PyErr_Format(PyExc_ValueError, "ids: ragged nested sequence (row %zd has %zd ids, row 0 has %zd)", i,
                             PySequence_Fast_GET_SIZE(it), width);
            else
                PyErr_Format(PyExc_ValueError, "ids: ragged nested sequence (item %zd is %s, item 0 %s)", i,
                             is_row ? "a row" : "an id", nested ? "a row" : "an id");
            return -1;
        }
        if (is_row) width = PySequence_Fast_GET_SIZE(it);
    }
    int64_t total = nested ? (int64_t)rows * width : rows;
    *out = malloc((size_t)total * sizeof(int32_t) + 4);
    if (!*out) {
        Py_DECREF(seq);
        return PyErr_NoMemory(), -1;
    }
    int64_t k = 0;
    for (Py_ssize_t i = 0; i < rows; i++) {
        PyObject *it = PySequence_Fast_GET_ITEM(seq, i);
        Py_ssize_t m = nested ? width : 1;
        for (Py_ssize_t j = 0; j < m; j++) {
            PyObject *x = nested ? PySequence_Fast_GET_ITEM(it, j) : it;
            if (PyList_Check(x) || PyTuple_Check(x)) {
                PyErr_SetString(PyExc_ValueError, "ids: nested more than two levels deep (expected ids or rows of ids)");
                goto bad;
            }
            long long v = PyLong_AsLongLong(x);
            if (v == -1 && PyErr_Occurred()) {
                if (PyErr_ExceptionMatches(PyExc_TypeError)) {
                    PyErr_Clear();
                    PyErr_Format(PyExc_TypeError, "expected integer ids, found %s", Py_TYPE(x)->tp_name);
                }
                goto bad;
            }
            if (v < INT32_MIN || v > INT32_MAX) {
                PyErr_Format(PyExc_ValueError, "id %lld does not fit in 32 bits", v);
                goto bad;
            }
            (*out)[k++] = (int32_t)v;
        }
    }
    *n = total;
    Py_DECREF(seq);
    return 0;
bad:
    free(*out);
    *out = NULL;
    Py_DECREF(seq);
    return -1;
}

int pg_real_array(PyObject *o, genc_real **out, int64_t *n) {
    PyObject *t = pg_as_tensor(o);
    if (!t) return -1;
    TensorObject *tt = (TensorObject *)t;
    *n = genc_numel(&tt->t);
    *out = malloc((size_t)*n * sizeof(genc_real) + 4);
    if (!*out) {
        Py_DECREF(t);
        return PyErr_NoMemory(), -1;
    }
    genc_tensor dst = tt->t;
    dst.data = *out;
    contig_strides(dst.ndim, dst.shape, dst.stride);
    genc_copy(G.ctx, &dst, &tt->t);
    Py_DECREF(t);
    return 0;
}

/* ---- Tensor type ---- */

static int tensor_traverse(TensorObject *t, visitproc visit, void *arg) {
    Py_VISIT(t->storage);
    Py_VISIT(t->grad);
    Py_VISIT(t->grad_fn);
    Py_VISIT(t->dict);
    return 0;
}

static int tensor_clear(TensorObject *t) {
    Py_CLEAR(t->grad);
    Py_CLEAR(t->grad_fn);
    Py_CLEAR(t->dict);
    /* the storage stays until dealloc: the header's data pointer lives in it */
    return 0;
}

static void tensor_dealloc(TensorObject *t) {
    PyObject_GC_UnTrack(t);
    if (t->weakreflist) PyObject_ClearWeakRefs((PyObject *)t);
    tensor_clear(t);
    Py_CLEAR(t->storage);
    Py_TYPE(t)->tp_free((PyObject *)t);
}

static PyObject *tensor_new_py(PyTypeObject *type, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"data", "requires_grad", NULL};
    PyObject *data;
    int rg = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|p:Tensor", kwlist, &data, &rg)) return NULL;
    TensorObject *src = (TensorObject *)pg_as_tensor(data);
    if (!src) return NULL;
    TensorObject *t = src;
    /* genc.Tensor(t): a new leaf viewing the same storage; a subclass (class T(genc.Tensor))
     * gets an instance of its own type over the converted data, and its __init__ runs */
    if (Tensor_Check(data) || type != &Tensor_Type) {
        t = view_typed(type, src->storage, src->t.ndim, src->t.shape, src->t.stride, src->t.data);
        if (t) t->scalar = src->scalar;
        Py_DECREF(src);
        if (!t) return NULL;
    }
    t->t.requires_grad = rg;
    return (PyObject *)t;
}

static PyObject *tensor_shape(TensorObject *t, void *c) {
    PyObject *r = PyTuple_New(pg_ndim(t));
    for (int i = 0; r && i < pg_ndim(t); i++) PyTuple_SET_ITEM(r, i, PyLong_FromLongLong(t->t.shape[i]));
    return r;
}
static PyObject *tensor_strides(TensorObject *t, void *c) {
    PyObject *r = PyTuple_New(pg_ndim(t));
    for (int i = 0; r && i < pg_ndim(t); i++) PyTuple_SET_ITEM(r, i, PyLong_FromLongLong(t->t.stride[i]));
    return r;
}
static PyObject *tensor_ndim(TensorObject *t, void *c) { return PyLong_FromLong(pg_ndim(t)); }
static PyObject *tensor_dtype(TensorObject *t, void *c) { return PyUnicode_FromString("float32"); }
static PyObject *tensor_version(TensorObject *t, void *c) { return PyLong_FromUnsignedLongLong(t->storage->version); }
static PyObject *tensor_data_ptr(TensorObject *t, void *c) { return PyLong_FromVoidPtr(t->t.data); }
static PyObject *tensor_is_leaf(TensorObject *t, void *c) { return PyBool_FromLong(t->grad_fn == NULL); }
static PyObject *tensor_is_param(TensorObject *t, void *c) { return PyBool_FromLong(t->is_param); }
static PyObject *tensor_name(TensorObject *t, void *c) { return PyUnicode_FromString(t->t.name); }
static PyObject *tensor_contig(TensorObject *t, void *c) { return PyBool_FromLong(genc_is_contiguous(&t->t)); }

static PyObject *tensor_get_rg(TensorObject *t, void *c) { return PyBool_FromLong(t->t.requires_grad); }
/* del t.requires_grad, del t.readonly: TypeError, as for a built-in attribute */
static int no_delete(PyObject *v, const char *name) {
    if (v) return 0;
    PyErr_Format(PyExc_TypeError, "cannot delete the attribute '%s'", name);
    return -1;
}

static int tensor_set_rg(TensorObject *t, PyObject *v, void *c) {
    if (no_delete(v, "requires_grad")) return -1;
    int b = PyObject_IsTrue(v);
    if (b < 0) return -1;
    if (t->grad_fn && !b) {
        PyErr_SetString(PyExc_RuntimeError, "requires_grad can only be changed on leaf tensors (use .detach())");
        return -1;
    }
    t->t.requires_grad = b;
    if (t->bound) t->bound->requires_grad = b;
    return 0;
}

static PyObject *tensor_get_ro(TensorObject *t, void *c) { return PyBool_FromLong(t->storage->readonly); }
static int tensor_set_ro(TensorObject *t, PyObject *v, void *c) {
    if (no_delete(v, "readonly")) return -1;
    int b = PyObject_IsTrue(v);
    if (b < 0) return -1;
    if (!b && t->storage->pinned) {
        PyErr_SetString(PyExc_ValueError, "readonly: the tensor views a checkpoint or a read-only buffer; copy it with "
                                          ".clone() to write");
        return -1;
    }
    t->storage->readonly = b;
    return 0;
}

static PyObject *tensor_get_grad(TensorObject *t, void *c) {
    PyObject *g = t->grad ? t->grad : Py_None;
    Py_INCREF(g);
    return g;
}
static int tensor_set_grad(TensorObject *t, PyObject *v, void *c) {
    if (v && v != Py_None) {
        if (!Tensor_Check(v) || !genc_same_shape(&((TensorObject *)v)->t, &t->t) || ((TensorObject *)v)->scalar != t->scalar) {
            PyErr_SetString(PyExc_TypeError, "grad: expected None or a Tensor of the same shape");
            return -1;
        }
        if (t->bound) { /* a C model's gradient buffer is fixed: copy into it */
            TensorObject *g = (TensorObject *)t->grad;
            if (g) genc_copy(G.ctx, &g->t, &((TensorObject *)v)->t);
            return 0;
        }
        Py_INCREF(v);
        Py_XSETREF(t->grad, v);
        return 0;
    }
    if (t->bound) { /* zero it: the model's buffer stays */
        if (t->bound->grad) memset(t->bound->grad, 0, (size_t)genc_numel(t->bound) * sizeof(genc_real));
        return 0;
    }
    Py_CLEAR(t->grad);
    return 0;
}

static PyObject *tensor_get_grad_fn(TensorObject *t, void *c) {
    PyObject *g = t->grad_fn ? (PyObject *)t->grad_fn : Py_None;
    Py_INCREF(g);
    return g;
}

static PyObject *tensor_T(TensorObject *t, void *c) { return PyObject_CallMethod((PyObject *)t, "t", NULL); }

static PyGetSetDef tensor_getset[] = {
    {"T", (getter)tensor_T, NULL, "the last two dims swapped (a view)", NULL},
    {"shape", (getter)tensor_shape, NULL, "the shape, a tuple", NULL},
    {"strides", (getter)tensor_strides, NULL, "strides in elements", NULL},
    {"ndim", (getter)tensor_ndim, NULL, "number of dims", NULL},
    {"dtype", (getter)tensor_dtype, NULL, "always 'float32'", NULL},
    {"_version", (getter)tensor_version, NULL, "the storage's version counter (in-place writes bump it)", NULL},
    {"data_ptr", (getter)tensor_data_ptr, NULL, "address of element [0, ...]", NULL},
    {"is_leaf", (getter)tensor_is_leaf, NULL, "no grad_fn", NULL},
    {"is_parameter", (getter)tensor_is_param, NULL, "made by genc.Parameter or a model", NULL},
    {"name", (getter)tensor_name, NULL, "checkpoint name of a model parameter", NULL},
    {"is_contiguous", (getter)tensor_contig, NULL, "row-major without gaps", NULL},
    {"requires_grad", (getter)tensor_get_rg, (setter)tensor_set_rg, "whether backward computes its gradient", NULL},
    {"readonly", (getter)tensor_get_ro, (setter)tensor_set_ro, "writes raise ValueError", NULL},
    {"grad", (getter)tensor_get_grad, (setter)tensor_set_grad, "accumulated gradient (leaves)", NULL},
    {"grad_fn", (getter)tensor_get_grad_fn, NULL, "the node that made it", NULL},
    {"__dict__", PyObject_GenericGetDict, PyObject_GenericSetDict, NULL, NULL},
    {NULL},
};

/* ---- buffer protocol (export) ---- */

static int tensor_getbuffer(TensorObject *t, Py_buffer *v, int flags) {
    if ((flags & PyBUF_WRITABLE) && t->storage->readonly) {
        PyErr_SetString(PyExc_BufferError, "the genc tensor is read-only");
        return -1;
    }
    Py_ssize_t *meta = PyMem_Malloc(2 * GENC_MAX_DIMS * sizeof(Py_ssize_t));
    if (!meta) return PyErr_NoMemory(), -1;
    int64_t n = genc_numel(&t->t);
    for (int i = 0; i < t->t.ndim; i++) {
        meta[i] = t->t.shape[i];
        meta[GENC_MAX_DIMS + i] = t->t.stride[i] * (Py_ssize_t)sizeof(genc_real);
    }
    if (!(flags & PyBUF_STRIDES) && !genc_is_contiguous(&t->t)) {
        PyMem_Free(meta);
        PyErr_SetString(PyExc_BufferError, "the genc tensor is not contiguous; ask for a strided buffer");
        return -1;
    }
    v->buf = t->t.data;
    v->obj = (PyObject *)t;
    Py_INCREF(t);
    v->len = n * (Py_ssize_t)sizeof(genc_real);
    v->readonly = t->storage->readonly;
    v->itemsize = sizeof(genc_real);
    v->format = (flags & PyBUF_FORMAT) ? (sizeof(genc_real) == 4 ? "f" : "d") : NULL;
    v->ndim = pg_ndim(t); /* 0-d: no shape, no strides (the buffer protocol's scalar) */
    v->shape = (flags & PyBUF_ND) && !t->scalar ? meta : NULL;
    v->strides = (flags & PyBUF_STRIDES) && !t->scalar ? meta + GENC_MAX_DIMS : NULL;
    v->suboffsets = NULL;
    v->internal = meta;
    return 0;
}

static void tensor_releasebuffer(TensorObject *t, Py_buffer *v) { PyMem_Free(v->internal); }

static PyBufferProcs tensor_buffer = {(getbufferproc)tensor_getbuffer, (releasebufferproc)tensor_releasebuffer};

/* ---- tolist, repr ---- */

static PyObject *tolist_rec(const genc_tensor *t, int d, const genc_real *p) {
    if (d >= t->ndim || d >= GENC_MAX_DIMS) return PyFloat_FromDouble(*p);
    PyObject *l = PyList_New(t->shape[d]);
    for (int64_t i = 0; l && i < t->shape[d]; i++) {
        PyObject *x = tolist_rec(t, d + 1, p + i * t->stride[d]);
        if (!x) {
            Py_DECREF(l);
            return NULL;
        }
        PyList_SET_ITEM(l, i, x);
    }
    return l;
}

static PyObject *tensor_tolist(TensorObject *t, PyObject *u) {
    return t->scalar ? PyFloat_FromDouble(t->t.data[0]) : tolist_rec(&t->t, 0, t->t.data);
}

/* item(), float(t), int(t): one-element tensors only, as in PyTorch (RuntimeError otherwise). */
static PyObject *tensor_item(TensorObject *t, PyObject *u) {
    if (genc_numel(&t->t) != 1)
        return PyErr_Format(PyExc_RuntimeError, "a Tensor with %lld elements cannot be converted to a Python number "
                            "(item(), float() and int() need exactly one element)", (long long)genc_numel(&t->t));
    return PyFloat_FromDouble(t->t.data[0]);
}

static PyObject *tensor_int(TensorObject *t) {
    PyObject *f = tensor_item(t, NULL);
    PyObject *r = f ? PyNumber_Long(f) : NULL; /* truncates; ValueError for nan, OverflowError for inf */
    Py_XDECREF(f);
    return r;
}

/* format(t, spec): a one-element tensor formats as its float (f"{loss:.4f}"); any tensor
 * takes the empty spec (str(t)); a spec on a bigger tensor is a TypeError, as in PyTorch. */
static PyObject *tensor_format(TensorObject *t, PyObject *spec) {
    if (!PyUnicode_Check(spec)) return PyErr_Format(PyExc_TypeError, "__format__: the spec must be a str");
    if (genc_numel(&t->t) == 1) {
        PyObject *f = PyFloat_FromDouble(t->t.data[0]);
        PyObject *r = f ? PyObject_Format(f, spec) : NULL;
        Py_XDECREF(f);
        return r;
    }
    if (PyUnicode_GetLength(spec) == 0) return PyObject_Str((PyObject *)t);
    return PyErr_Format(PyExc_TypeError, "unsupported format string passed to genc.Tensor.__format__: "
                        "only one-element tensors take a spec (this one has %lld elements)", (long long)genc_numel(&t->t));
}

static void append(char *buf, size_t cap, size_t *k, const char *fmt, ...) {
    if (*k >= cap) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + *k, cap - *k, fmt, ap);
    va_end(ap);
    if (n > 0) *k += (size_t)n;
}

/* Values of a small tensor, nested brackets; at most 6 per row with "..." between. */
static void repr_values(const genc_tensor *t, int d, const genc_real *p, char *buf, size_t cap, size_t *k) {
    if (d >= t->ndim || d >= GENC_MAX_DIMS) {
        append(buf, cap, k, "%.4g", (double)*p);
        return;
    }
    append(buf, cap, k, "[");
    int64_t n = t->shape[d];
    for (int64_t i = 0; i < n; i++) {
        if (n > 6 && i == 3) {
            append(buf, cap, k, d + 1 < t->ndim ? "...,\n%*s" : "..., ", d + 1 < t->ndim ? 7 + d + 1 : 0, "");
            i = n - 3;
        }
        repr_values(t, d + 1, p + i * t->stride[d], buf, cap, k);
        if (i + 1 < n) append(buf, cap, k, d + 1 < t->ndim ? ",\n%*s" : ", ", d + 1 < t->ndim ? 7 + d + 1 : 0, "");
    }
    append(buf, cap, k, "]");
}

static PyObject *tensor_repr(TensorObject *t) {
    char buf[4096];
    size_t k = 0;
    int64_t n = genc_numel(&t->t);
    append(buf, sizeof buf, &k, "tensor(");
    genc_tensor shown = t->t;
    shown.ndim = pg_ndim(t);
    repr_values(&shown, 0, t->t.data, buf, sizeof buf, &k);
    append(buf, sizeof buf, &k, ", shape=(");
    for (int i = 0; i < shown.ndim; i++) append(buf, sizeof buf, &k, "%s%lld", i ? ", " : "", (long long)t->t.shape[i]);
    append(buf, sizeof buf, &k, shown.ndim == 1 ? ",)" : ")");
    append(buf, sizeof buf, &k, ", dtype=float32");
    if (n > 36) { /* a summary of every value */
        double mn = INFINITY, mx = -INFINITY, s = 0, ss = 0;
        genc_tensor c = t->t;
        int64_t sh[4], st[4];
        for (int i = 0; i < 4; i++) sh[i] = i < c.ndim ? c.shape[i] : 1, st[i] = i < c.ndim ? c.stride[i] : 0;
        for (int64_t a = 0; a < sh[0]; a++)
            for (int64_t b = 0; b < sh[1]; b++)
                for (int64_t e = 0; e < sh[2]; e++)
                    for (int64_t f = 0; f < sh[3]; f++) {
                        double x = c.data[a * st[0] + b * st[1] + e * st[2] + f * st[3]];
                        mn = x < mn ? x : mn, mx = x > mx ? x : mx, s += x, ss += x * x;
                    }
        double mean = s / (double)n, var = ss / (double)n - mean * mean;
        append(buf, sizeof buf, &k, ", min=%.4g, max=%.4g, mean=%.4g, std=%.4g", mn, mx, mean, sqrt(var > 0 ? var : 0));
    }
    if (t->t.name[0]) append(buf, sizeof buf, &k, ", name='%s'", t->t.name);
    if (t->grad_fn) append(buf, sizeof buf, &k, ", grad_fn=<%s>", t->grad_fn->name);
    else if (t->t.requires_grad) append(buf, sizeof buf, &k, ", requires_grad=True");
    if (t->storage->readonly) append(buf, sizeof buf, &k, ", readonly=True");
    append(buf, sizeof buf, &k, ")");
    return PyUnicode_FromString(buf);
}

static Py_ssize_t tensor_len(TensorObject *t) {
    if (t->scalar) return PyErr_SetString(PyExc_TypeError, "len() of a 0-d tensor"), -1;
    return (Py_ssize_t)t->t.shape[0];
}

static PyObject *tensor_subscript(TensorObject *t, PyObject *key) { return pg_getitem(t, key); }

/* Iteration over the first dim (t[0], t[1], ...), as for a sequence. */
static PyObject *tensor_item_at(TensorObject *t, Py_ssize_t i) {
    if (t->scalar) return PyErr_Format(PyExc_TypeError, "iteration over a 0-d tensor");
    if (i < 0 || i >= t->t.shape[0]) return PyErr_Format(PyExc_IndexError, "index %zd out of range", i);
    PyObject *k = PyLong_FromSsize_t(i);
    PyObject *r = k ? pg_getitem(t, k) : NULL;
    Py_XDECREF(k);
    return r;
}
static PySequenceMethods tensor_sequence = {.sq_length = (lenfunc)NULL, .sq_item = (ssizeargfunc)tensor_item_at};

static int tensor_bool(TensorObject *t) {
    if (genc_numel(&t->t) != 1) {
        PyErr_SetString(PyExc_ValueError, "the truth value of a tensor with more than one element is ambiguous");
        return -1;
    }
    return t->t.data[0] != 0;
}
static int tensor_ass_subscript(TensorObject *t, PyObject *key, PyObject *v) {
    if (!v) {
        PyErr_SetString(PyExc_TypeError, "genc tensors do not support item deletion");
        return -1;
    }
    return pg_setitem(t, key, v);
}
static PyMappingMethods tensor_mapping = {(lenfunc)tensor_len, (binaryfunc)tensor_subscript,
                                          (objobjargproc)tensor_ass_subscript};

static PyObject *tensor_backward(TensorObject *t, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"gradient", NULL};
    PyObject *g = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|O:backward", kwlist, &g)) return NULL;
    return pg_backward(t, g == Py_None ? NULL : g);
}

static PyObject *tensor_numpy(TensorObject *t, PyObject *u) {
    PyObject *np = PyImport_ImportModule("numpy");
    if (!np) return NULL;
    PyObject *r = PyObject_CallMethod(np, "asarray", "O", t);
    Py_DECREF(np);
    return r;
}

/* detach() and clone() give the caller's class (a subclass stays one, as in PyTorch). */
static PyObject *tensor_detach(TensorObject *t, PyObject *u) {
    TensorObject *r = pg_tensor_view(t->storage, t->t.ndim, t->t.shape, t->t.stride, t->t.data);
    if (r && t->scalar) pg_scalar((PyObject *)r);
    return (PyObject *)pg_tensor_as(Py_TYPE(t), r);
}

static PyObject *tensor_clone(TensorObject *t, PyObject *u) {
    PyObject *r = (PyObject *)pg_tensor_from_genc(&t->t);
    if (r && t->scalar) pg_scalar(r);
    return (PyObject *)pg_tensor_as(Py_TYPE(t), (TensorObject *)r);
}

static PyObject *tensor_numel(TensorObject *t, PyObject *u) { return PyLong_FromLongLong(genc_numel(&t->t)); }

static PyObject *tensor_size(TensorObject *t, PyObject *args) {
    int d = INT32_MIN;
    if (!PyArg_ParseTuple(args, "|i:size", &d)) return NULL;
    if (d == INT32_MIN) return tensor_shape(t, NULL);
    if (d < 0) d += pg_ndim(t);
    if (d < 0 || d >= pg_ndim(t)) return PyErr_Format(PyExc_IndexError, "size: dim out of range for %d dims", pg_ndim(t));
    return PyLong_FromLongLong(t->t.shape[d]);
}

static PyObject *tensor_float(TensorObject *t) { return tensor_item(t, NULL); }

/* copy.deepcopy: a contiguous copy that keeps requires_grad and the parameter mark. */
static PyObject *tensor_deepcopy(TensorObject *t, PyObject *memo) {
    TensorObject *c = pg_tensor_from_genc(&t->t);
    if (c) {
        c->t.requires_grad = t->t.requires_grad && !t->grad_fn;
        c->is_param = t->is_param;
        c->scalar = t->scalar;
        snprintf(c->t.name, sizeof c->t.name, "%s", t->t.name);
    }
    return (PyObject *)c;
}

/* pickle: (genc._genc._from_bytes, (raw float32 bytes, shape, requires_grad, is_parameter)). */
static PyObject *tensor_reduce(TensorObject *t, PyObject *u) {
    TensorObject *c = pg_tensor_from_genc(&t->t);
    if (!c) return NULL;
    PyObject *raw = PyBytes_FromStringAndSize((const char *)c->t.data, (Py_ssize_t)(genc_numel(&c->t) * sizeof(genc_real)));
    Py_DECREF(c);
    PyObject *mod = PyImport_ImportModule("genc._genc");
    PyObject *fn = mod ? PyObject_GetAttrString(mod, "_from_bytes") : NULL;
    Py_XDECREF(mod);
    PyObject *shape = tensor_shape(t, NULL);
    if (!raw || !fn || !shape) {
        Py_XDECREF(raw), Py_XDECREF(fn), Py_XDECREF(shape);
        return NULL;
    }
    return Py_BuildValue("N(NNOO)", fn, raw, shape, t->t.requires_grad && !t->grad_fn ? Py_True : Py_False,
                         t->is_param ? Py_True : Py_False);
}

PyObject *pg_from_bytes(PyObject *self, PyObject *args);
PyObject *pg_from_bytes(PyObject *self, PyObject *args) {
    Py_buffer raw;
    PyObject *shape;
    int rg = 0, param = 0;
    if (!PyArg_ParseTuple(args, "y*O|pp:_from_bytes", &raw, &shape, &rg, &param)) return NULL;
    int nd;
    int64_t sh[GENC_MAX_DIMS];
    PyObject *tup = PyTuple_Pack(1, shape);
    int bad = !tup || pg_parse_shape0(tup, &nd, sh);
    Py_XDECREF(tup);
    bool zero_d = !bad && nd == 0;
    if (zero_d) nd = 1, sh[0] = 1;
    TensorObject *t = bad ? NULL : pg_tensor_new(nd, sh);
    if (t && zero_d) pg_scalar((PyObject *)t);
    if (t && (size_t)raw.len != (size_t)genc_numel(&t->t) * sizeof(genc_real)) {
        Py_CLEAR(t);
        PyErr_SetString(PyExc_ValueError, "_from_bytes: the data does not match the shape");
    }
    if (t) {
        memcpy(t->t.data, raw.buf, (size_t)raw.len);
        t->t.requires_grad = rg;
        t->is_param = param;
    }
    PyBuffer_Release(&raw);
    return (PyObject *)t;
}

static PyObject *tensor_retain(TensorObject *t, PyObject *u) {
    PyErr_SetString(PyExc_NotImplementedError, "retain_grad: only leaf tensors keep .grad in genc");
    return NULL;
}

static PyMethodDef tensor_methods[] = {
    {"tolist", (PyCFunction)tensor_tolist, METH_NOARGS, "nested lists of floats"},
    {"item", (PyCFunction)tensor_item, METH_NOARGS, "item($self, /)\n--\n\nthe value of a one-element tensor as a float (RuntimeError otherwise)"},
    {"__format__", (PyCFunction)tensor_format, METH_O, "__format__($self, spec, /)\n--\n\nformat(t, spec): one-element tensors format as their float"},
    {"backward", (PyCFunction)(void (*)(void))tensor_backward, METH_VARARGS | METH_KEYWORDS,
     "accumulate d(self)/d(leaf) into every leaf's .grad (gradient: seed for non-scalars)"},
    {"numpy", (PyCFunction)tensor_numpy, METH_NOARGS, "a numpy array viewing the same memory (no copy)"},
    {"detach", (PyCFunction)tensor_detach, METH_NOARGS, "a leaf viewing the same memory, outside the graph"},
    {"clone", (PyCFunction)tensor_clone, METH_NOARGS, "a contiguous, writable copy (no graph)"},
    {"numel", (PyCFunction)tensor_numel, METH_NOARGS, "number of elements"},
    {"size", (PyCFunction)tensor_size, METH_VARARGS, "the shape, or one dim"},
    {"retain_grad", (PyCFunction)tensor_retain, METH_NOARGS, "not supported"},
    {"__deepcopy__", (PyCFunction)tensor_deepcopy, METH_O, "a contiguous copy"},
    {"__reduce__", (PyCFunction)tensor_reduce, METH_NOARGS, "pickle support"},
    {NULL},
};

PyTypeObject Tensor_Type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "genc.Tensor",
    .tp_basicsize = sizeof(TensorObject),
    .tp_dealloc = (destructor)tensor_dealloc,
    .tp_repr = (reprfunc)tensor_repr,
    .tp_as_mapping = &tensor_mapping,
    .tp_as_sequence = &tensor_sequence,
    .tp_as_buffer = &tensor_buffer,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_BASETYPE,
    .tp_doc = "Tensor(data, requires_grad=False)\n--\n\nA float32 tensor (0 to 4 dims; a 0-d one is a [1] header shown as shape ()) that views a Storage; ops on it record "
               "autograd nodes. Subclasses (class T(genc.Tensor)) construct as T (their __init__ runs; pickle and "
               "copy.deepcopy keep the class and attributes); ops give the class of their first subclass input "
               "(without running __init__ or copying attributes), as PyTorch's default __torch_function__.",
    .tp_traverse = (traverseproc)tensor_traverse,
    .tp_clear = (inquiry)tensor_clear,
    .tp_weaklistoffset = offsetof(TensorObject, weakreflist),
    .tp_dictoffset = offsetof(TensorObject, dict),
    .tp_getset = tensor_getset,
    .tp_new = tensor_new_py,
};

int pg_tensor_init_types(PyObject *m) {
    /* methods: the generic ones above, then the ops (ops.c) */
    static PyMethodDef all[96];
    int k = 0;
    for (PyMethodDef *d = tensor_methods; d->ml_name; d++) all[k++] = *d;
    for (PyMethodDef *d = pg_tensor_op_methods; d->ml_name; d++) all[k++] = *d;
    all[k].ml_name = NULL;
    Tensor_Type.tp_methods = all;
    pg_tensor_number.nb_float = (unaryfunc)tensor_float;
    pg_tensor_number.nb_bool = (inquiry)tensor_bool;
    pg_tensor_number.nb_int = (unaryfunc)tensor_int;
    Tensor_Type.tp_richcompare = pg_richcompare;
    Tensor_Type.tp_hash = pg_tensor_hash;
    tensor_sequence.sq_length = (lenfunc)tensor_len;
    Tensor_Type.tp_as_number = &pg_tensor_number;
    if (PyType_Ready(&Storage_Type) < 0 || PyType_Ready(&Tensor_Type) < 0) return -1;
    /* numpy's binary operators defer to ours (array * tensor gives a tensor, with autograd) until
     * genc/_tensor_ext.py installs the real __array_ufunc__ */
    if (PyDict_SetItemString(Tensor_Type.tp_dict, "__array_ufunc__", Py_None) < 0) return -1;
    PyType_Modified(&Tensor_Type);
    if (pg_tensor_ext_init(m) < 0) return -1;
    Py_INCREF(&Tensor_Type);
    return PyModule_AddObject(m, "Tensor", (PyObject *)&Tensor_Type);
}
