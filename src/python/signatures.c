/* Text signatures for genc._genc's module-level functions, so inspect.signature(genc.zeros)
 * and help() show their parameters. CPython reads a builtin's signature from the start of its
 * docstring ("name(sig)\n--\n\n"); the method tables (module.c, ops.c, optim.c, diffusion.c)
 * keep their short docs, and pg_sign_functions rewrites each listed function's ml_doc once,
 * at import, into that form. The signatures mirror each function's PyArg_Parse* call. */
#include "pygenc.h"

static const struct {
    const char *name, *sig;
} SIGS[] = {
    {"zeros", "(*shape, requires_grad=False)"},
    {"ones", "(*shape, requires_grad=False)"},
    {"full", "(*shape, value, requires_grad=False)"},
    {"randn", "(*shape, std=1.0, requires_grad=False)"},
    {"rand", "(*shape, requires_grad=False)"},
    {"tensor", "(data, requires_grad=False)"},
    {"from_numpy", "(data, requires_grad=False)"},
    {"Parameter", "(data, requires_grad=True)"},
    {"is_grad_enabled", "()"},
    {"set_grad_enabled", "(mode, /)"},
    {"manual_seed", "(seed, /)"},
    {"set_threads", "(n, /)"},
    {"get_threads", "()"},
    {"load", "(path, /)"},
    {"load_metadata", "(path, /)"},
    {"save", "(tensors, path, metadata=None)"},
    {"matmul", "(a, b, /)"},
    {"exp", "(x, /)"},
    {"log", "(x, /)"},
    {"tanh", "(x, /)"},
    {"sigmoid", "(x, /)"},
    {"relu", "(x, /)"},
    {"silu", "(x, /)"},
    {"gelu", "(x, /)"},
    {"softplus", "(x, /)"},
    {"sqrt", "(x, /)"},
    {"softmax", "(x, /)"},
    {"log_softmax", "(x, /)"},
    {"linear", "(x, weight, bias=None)"},
    {"conv2d", "(x, weight, bias=None, stride=1, padding=0)"},
    {"max_pool2x2", "(x, /)"},
    {"avg_pool2x2", "(x, /)"},
    {"rms_norm", "(x, weight, eps=1e-06)"},
    {"layer_norm", "(x, weight, bias=None, eps=1e-05)"},
    {"embedding", "(table, ids, /)"},
    {"cross_entropy", "(logits, targets, ignore_index=-100)"},
    {"dropout", "(x, p=0.5, training=True)"},
    {"concat", "(tensors, axis=0)"},
    {"swiglu", "(a, b, /)"},
    {"attention", "(q, k, v, scale=None, causal=False)"},
    {"rope", "(x, positions, theta=10000.0)"},
    {"expand", "(x, axis, n, /)"},
    {"gather_rows", "(x, indices, /)"},
    {"take_along", "(x, indices, k, /)"},
    {"grpo_loss", "(logits, actions, old_logp, advantages, weights, ref_logp=None, eps_low=0.2, eps_high=0.2, beta=0.0)"},
    {"clip_grad_norm", "(params, max_norm, /)"},
    {"rflow_training_pair", "(x1, z, t, /)"},
};

/* genc.Tensor's C methods that take arguments beyond METH_NOARGS / METH_O. */
static const struct {
    const char *name, *sig;
} TENSOR_SIGS[] = {
    {"backward", "($self, gradient=None)"},
    {"size", "($self, dim=None, /)"},
    {"reshape", "($self, *shape)"},
    {"view", "($self, *shape)"},
    {"transpose", "($self, d0=-2, d1=-1, /)"},
};

/* "name(sig)\n--\n\n" + the old doc, for one method definition; left as is when signed. */
static int sign_def(PyMethodDef *d, const char *sig) {
    const char *doc = d->ml_doc ? d->ml_doc : "";
    if (strstr(doc, "\n--\n\n")) return 0;
    size_t n = strlen(d->ml_name) + strlen(sig) + strlen(doc) + 8;
    char *s = malloc(n); /* lives as long as the process, as the static tables do */
    if (!s) {
        PyErr_NoMemory();
        return -1;
    }
    snprintf(s, n, "%s%s\n--\n\n%s", d->ml_name, sig, doc);
    d->ml_doc = s;
    return 0;
}

/* Tensor methods: ($self, /) for no arguments, ($self, value, /) for one, else the table. */
static int sign_tensor_methods(void) {
    for (PyMethodDef *d = Tensor_Type.tp_methods; d && d->ml_name; d++) {
        const char *sig = d->ml_flags & METH_NOARGS ? "($self, /)" : d->ml_flags & METH_O ? "($self, value, /)" : NULL;
        for (size_t i = 0; !sig && i < sizeof TENSOR_SIGS / sizeof TENSOR_SIGS[0]; i++)
            if (!strcmp(d->ml_name, TENSOR_SIGS[i].name)) sig = TENSOR_SIGS[i].sig;
        if (sig && sign_def(d, sig) < 0) return -1;
    }
    return 0;
}

int pg_sign_functions(PyObject *m) {
    for (size_t i = 0; i < sizeof SIGS / sizeof SIGS[0]; i++) {
        PyObject *f = PyObject_GetAttrString(m, SIGS[i].name);
        if (!f) {
            PyErr_Clear(); /* a family left out of this build */
            continue;
        }
        int r = PyCFunction_Check(f) ? sign_def(((PyCFunctionObject *)f)->m_ml, SIGS[i].sig) : 0;
        Py_DECREF(f);
        if (r < 0) return -1;
    }
    return sign_tensor_methods();
}
