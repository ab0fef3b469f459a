/* Elementwise comparisons for genc.Tensor (== != < <= > >=), as in PyTorch: the result is a
 * new tensor of the broadcast shape holding 1.0 where the comparison holds and 0.0 elsewhere
 * (float32, genc's only dtype), outside the autograd graph (comparisons have no gradient).
 * The other operand is a Tensor, a number, a nested list or a buffer (numpy array); for ==
 * and != any other object gives NotImplemented, so `t == None` is False as in PyTorch.
 * Hashing stays by identity (PyTorch's rule), so tensors remain usable as dict keys and in
 * sets, while `t in [tensors]` follows elementwise == as in PyTorch. */
#include "pygenc.h"

/* Right-aligned broadcasting: the output shape and each operand's strides over it (0 where a
 * dim of size 1 is repeated). -1 with ValueError when the shapes do not broadcast. */
static int broadcast(const genc_tensor *a, const genc_tensor *b, int *ndim, int64_t *shape, int64_t *sa,
                     int64_t *sb) {
    int n = a->ndim > b->ndim ? a->ndim : b->ndim;
    for (int i = 0; i < n; i++) {
        int ia = a->ndim - n + i, ib = b->ndim - n + i;
        int64_t da = ia >= 0 ? a->shape[ia] : 1, db = ib >= 0 ? b->shape[ib] : 1;
        if (da != db && da != 1 && db != 1) {
            PyErr_Format(PyExc_ValueError, "comparison: shapes do not broadcast (dim %d is %lld against %lld)", i,
                         (long long)da, (long long)db);
            return -1;
        }
        shape[i] = da > db ? da : db;
        sa[i] = (ia >= 0 && da != 1) ? a->stride[ia] : 0;
        sb[i] = (ib >= 0 && db != 1) ? b->stride[ib] : 0;
    }
    *ndim = n;
    return 0;
}

static int holds(double x, double y, int op) {
    switch (op) {
    case Py_EQ: return x == y;
    case Py_NE: return x != y;
    case Py_LT: return x < y;
    case Py_LE: return x <= y;
    case Py_GT: return x > y;
    default: return x >= y;
    }
}

/* out[i] = a[i] op b[i] over the broadcast index space (row-major walk with a counter). */
static void compare_fill(const genc_tensor *a, const genc_tensor *b, int ndim, const int64_t *shape,
                         const int64_t *sa, const int64_t *sb, int op, genc_real *out) {
    int64_t idx[GENC_MAX_DIMS] = {0}, total = pg_shape_numel(ndim, shape);
    const genc_real *pa = a->data, *pb = b->data;
    for (int64_t k = 0; k < total; k++) {
        out[k] = holds(*pa, *pb, op) ? 1.0f : 0.0f;
        for (int d = ndim - 1; d >= 0; d--) {
            pa += sa[d];
            pb += sb[d];
            if (++idx[d] < shape[d]) break;
            pa -= sa[d] * shape[d];
            pb -= sb[d] * shape[d];
            idx[d] = 0;
        }
    }
}

static bool comparable(PyObject *o) {
    return Tensor_Check(o) || PyFloat_Check(o) || PyLong_Check(o) || PyList_Check(o) || PyTuple_Check(o) ||
           PyObject_CheckBuffer(o);
}


PyObject *pg_richcompare(PyObject *self, PyObject *other, int op) {
    if (!Tensor_Check(self) || !comparable(other)) Py_RETURN_NOTIMPLEMENTED;
    PyObject *o = pg_as_tensor(other);
    if (!o) return NULL;
    const genc_tensor *a = &((TensorObject *)self)->t, *b = &((TensorObject *)o)->t;
    int ndim;
    int64_t shape[GENC_MAX_DIMS], sa[GENC_MAX_DIMS], sb[GENC_MAX_DIMS];
    TensorObject *r = NULL;
    if (broadcast(a, b, &ndim, shape, sa, sb) == 0 && (r = pg_tensor_new(ndim, shape)))
        compare_fill(a, b, ndim, shape, sa, sb, op, r->t.data);
    if (r && ((TensorObject *)self)->scalar && ((TensorObject *)o)->scalar) pg_scalar((PyObject *)r); /* 0-d with 0-d */
    TensorObject *in[2] = {(TensorObject *)self, (TensorObject *)o};
    r = pg_tensor_as(Py_TYPE(in[0]) != &Tensor_Type ? Py_TYPE(in[0]) : Py_TYPE(in[1]), r); /* a subclass stays one */
    Py_DECREF(o);
    return (PyObject *)r;
}

/* Identity hash, as object's (and PyTorch's): defining comparisons must not make tensors
 * unhashable. */

Py_hash_t pg_tensor_hash(PyObject *self) {
    uintptr_t p = (uintptr_t)self;
    Py_hash_t h = (Py_hash_t)((p >> 4) | (p << (8 * sizeof(p) - 4)));
    return h == -1 ? -2 : h;
}
