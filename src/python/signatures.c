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
    {"sample", "(unet, n=4, method='ddim', steps=50, schedule=None, eta=0.0, prediction='epsilon', clip=False, seed=0, "
               "labels=None, ode='euler', spacing='uniform', x=None)"},
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

/* The other genc types' methods: METH_NOARGS ones get ($self, /) and METH_O ones
 * ($self, value, /) unless listed here; those with more arguments mirror their parsers. */
static const struct {
    const char *type, *name, *sig;
} METHOD_SIGS[] = {
    {"Tokenizer", "train", "($type, text, vocab_size=512, pretokenizer='qwen2', tags='special')"},
    {"Tokenizer", "encode", "($self, text, allow_special=True)"},
    {"Tokenizer", "decode", "($self, ids, /)"},
    {"Tokenizer", "save", "($self, path, /)"},
    {"Tokenizer", "special", "($self, name, /)"},
    {"Generation", "throw", "($self, type, value=None, traceback=None, /)"},
    {"LMCore", "loss", "($self, tokens, /)"},
    {"LMCore", "logits", "($self, tokens, /)"},
    {"LMCore", "set_precision", "($self, precision, promote=None, /)"},
    {"LMCore", "save", "($self, path, /)"},
    {"LMCore", "load", "($type, path, /)"},
    {"LMCore", "fit",
     "($self, tokens, steps=100, batch=16, seq=128, lr=0.003, min_lr=0.0003, warmup=10, weight_decay=0.1, beta2=0.95, "
     "clip=1.0, checkpoint=None, save_every=0, seed=1, threads=0, resume=False, callback=None)"},
    {"LMCore", "generate", "($self, prompt, max_new_tokens=64, temperature=1.0, top_k=0, top_p=1.0, eos=-2, max_len=0)"},
    {"LMCore", "grpo_rollout",
     "($self, task='arith', prompts=8, group=8, max_new=64, temperature=1.0, seed=1, index=0, eps_low=0.2, eps_high=0.2, "
     "agg='grpo', scale_std=True, a_digits=2, b_digits=2, template='r1', ops='+', numbers=3, max_number=25, "
     "target_max=100, heldout=200, heldout_seed=777)"},
    {"PrefixCore", "loss", "($self, tokens, /)"},
    {"PrefixCore", "logits", "($self, tokens, /)"},
    {"PrefixCore", "generate", "($self, prompt, max_new_tokens=32, temperature=0.0, top_k=0, top_p=1.0)"},
    {"PrefixCore", "save", "($self, path, /)"},
    {"NICECore", "log_prob", "($self, x, /)"},
    {"NICECore", "inverse", "($self, h, /)"},
    {"NICECore", "sample", "($self, n=16, temperature=1.0, seed=1)"},
    {"ClassifierCore", "forward", "($self, x, training=True, /)"},
    {"UNetCore", "forward", "($self, x, t, labels=None)"},
    {"UNetCore", "save", "($self, path, /)"},
    {"DDPMSchedule", "training_pair", "($self, x0, eps, t, prediction='epsilon')"},
    {"Sampler", "throw", "($self, type, value=None, traceback=None, /)"},
    {"AdamW", "step", "($self, lr=None)"},
    {"SGD", "step", "($self, lr=None)"},
    {"Module", "forward", "($self, *args)"},
    {"no_grad", "__exit__", "($self, *exc_info)"},
    {"enable_grad", "__exit__", "($self, *exc_info)"},
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

/* One genc type's methods (its short name is what follows the last '.' of tp_name). */
static int sign_type_methods(PyTypeObject *tp) {
    const char *dot = strrchr(tp->tp_name, '.'), *short_name = dot ? dot + 1 : tp->tp_name;
    for (PyMethodDef *d = tp->tp_methods; d && d->ml_name; d++) {
        const char *sig = NULL;
        for (size_t i = 0; !sig && i < sizeof METHOD_SIGS / sizeof METHOD_SIGS[0]; i++)
            if (!strcmp(short_name, METHOD_SIGS[i].type) && !strcmp(d->ml_name, METHOD_SIGS[i].name)) sig = METHOD_SIGS[i].sig;
        if (!sig) sig = d->ml_flags & METH_NOARGS ? "($self, /)" : d->ml_flags & METH_O ? "($self, value, /)" : NULL;
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
    if (sign_tensor_methods() < 0) return -1;
    PyObject *k, *v, *d = PyModule_GetDict(m);
    Py_ssize_t pos = 0;
    while (PyDict_Next(d, &pos, &k, &v)) /* the module's own types (Tensor's done above) */
        if (PyType_Check(v) && !strncmp(((PyTypeObject *)v)->tp_name, "genc.", 5) &&
            sign_type_methods((PyTypeObject *)v) < 0)
            return -1;
    return 0;
}
