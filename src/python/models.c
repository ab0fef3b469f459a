/* genc._genc model families: the byte-level BPE Tokenizer, the DeepSeek-V3 language model
 * core (losses with autograd, a training loop that releases the GIL and stops cleanly on
 * Ctrl-C, token generators with send/close), the NICE flow and the image classifier, and
 * a DataLoader iterator over the named image data sets. Each core owns its C model; its
 * parameters are Tensors viewing the model's memory, so Python optimisers, .grad and
 * numpy see the same numbers the C forward uses. */
#include "python/pygenc.h"
#include "genc/data.h"

#include <signal.h>
#include <string.h>

PyObject *pg_bind_params(const genc_params *p, PyObject *owner) {
    PyObject *r = PyTuple_New(p->n);
    for (int i = 0; r && i < p->n; i++) {
        TensorObject *t = pg_tensor_bound(p->t[i], owner);
        if (!t) {
            Py_CLEAR(r);
            break;
        }
        if (p->t[i]->grad) {
            StorageObject *gs = pg_storage_external(p->t[i]->grad, (size_t)genc_numel(p->t[i]) * sizeof(genc_real), owner,
                                                    false);
            t->grad = gs ? (PyObject *)pg_tensor_view(gs, p->t[i]->ndim, p->t[i]->shape, p->t[i]->stride, p->t[i]->grad) : NULL;
            Py_XDECREF(gs);
        }
        PyTuple_SET_ITEM(r, i, Py_BuildValue("(sN)", p->t[i]->name, (PyObject *)t));
    }
    return r;
}

PyObject *pg_watch_of(PyObject *named) {
    Py_ssize_t n = named ? PyTuple_GET_SIZE(named) : 0;
    PyObject *w = PyTuple_New(n);
    for (Py_ssize_t i = 0; w && i < n; i++) {
        PyObject *t = PyTuple_GET_ITEM(PyTuple_GET_ITEM(named, i), 1);
        Py_INCREF(t);
        PyTuple_SET_ITEM(w, i, t);
    }
    return w;
}

static void bump_all(PyObject *named) {
    for (Py_ssize_t i = 0; named && i < PyTuple_GET_SIZE(named); i++)
        pg_bump((TensorObject *)PyTuple_GET_ITEM(PyTuple_GET_ITEM(named, i), 1));
}

/* ======================= Tokenizer ======================= */

typedef struct {
    PyObject_HEAD
    genc_tokenizer *tok;
} TokObject;

static void tok_dealloc(TokObject *t) {
    genc_tokenizer_free(t->tok);
    Py_TYPE(t)->tp_free(t);
}

static PyTypeObject Tok_Type;

static PyObject *tok_wrap(genc_tokenizer *tk) {
    TokObject *t = PyObject_New(TokObject, &Tok_Type);
    if (!t) return genc_tokenizer_free(tk), NULL;
    t->tok = tk;
    return (PyObject *)t;
}

static int tok_init(TokObject *t, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"path", NULL};
    PyObject *path;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O&:Tokenizer", kwlist, PyUnicode_FSConverter, &path)) return -1;
    genc_tokenizer *tk = NULL;
    genc_status s = genc_tokenizer_load(G.ctx, PyBytes_AS_STRING(path), &tk);
    Py_DECREF(path);
    if (s) return pg_raise(s), -1;
    genc_tokenizer_free(t->tok);
    t->tok = tk;
    return 0;
}

static PyObject *tok_train(PyObject *cls, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"text", "vocab_size", "pretokenizer", "tags", NULL};
    Py_buffer text;
    int vocab = 512;
    const char *pre = genc_pretokenizer_name(GENC_PRETOK_DEFAULT), *tags_s = "special";
    if (!PyArg_ParseTupleAndKeywords(args, kw, "s*|iss:train", kwlist, &text, &vocab, &pre, &tags_s)) return NULL;
    genc_pretokenizer p;
    if (!genc_pretokenizer_parse(pre, &p)) {
        PyBuffer_Release(&text);
        return PyErr_Format(PyExc_ValueError, "pretokenizer: expected \"qwen2\", \"genc-v1\" or \"gpt2\", found \"%s\"",
                            pre);
    }
    if (strcmp(tags_s, "special") && strcmp(tags_s, "text")) {
        PyBuffer_Release(&text);
        return PyErr_Format(PyExc_ValueError, "Tokenizer.train: tags: expected 'special' or 'text', found '%s'", tags_s);
    }
    genc_tags tags = strcmp(tags_s, "text") ? GENC_TAGS_SPECIAL : GENC_TAGS_TEXT;
    genc_tokenizer *tk = NULL;
    genc_status s;
    char msg[600] = ""; /* G is only touched with the GIL held: the error comes back here */
    Py_BEGIN_ALLOW_THREADS
    genc_ctx *c = genc_ctx_new();
    s = c ? genc_tokenizer_train_memory_with(c, text.buf, (size_t)text.len, vocab, p, tags, &tk) : GENC_ENOMEM;
    if (s && c) snprintf(msg, sizeof msg, "%s", genc_last_error(c));
    genc_ctx_free(c);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&text);
    if (s) return pg_raise_msg(s, msg);
    return tok_wrap(tk);
}

#define TOK_READY(t, fail) \
    if (pg_check_init((PyObject *)(t), (t)->tok != NULL)) return fail

static PyObject *tok_encode(TokObject *t, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"text", "allow_special", NULL};
    Py_buffer text;
    int special = 1;
    TOK_READY(t, NULL);
    if (!PyArg_ParseTupleAndKeywords(args, kw, "s*|p:encode", kwlist, &text, &special)) return NULL;
    int32_t *ids = NULL;
    size_t n = 0;
    genc_status s = genc_tokenizer_encode(t->tok, G.ctx, text.buf, (size_t)text.len, special, &ids, &n);
    PyBuffer_Release(&text);
    if (s) return pg_raise(s);
    PyObject *l = PyList_New((Py_ssize_t)n);
    for (size_t i = 0; l && i < n; i++) PyList_SET_ITEM(l, (Py_ssize_t)i, PyLong_FromLong(ids[i]));
    free(ids);
    return l;
}

static PyObject *tok_decode(TokObject *t, PyObject *ids_obj) {
    int32_t *ids;
    int64_t n;
    TOK_READY(t, NULL);
    if (pg_int32_array(ids_obj, &ids, &n)) return NULL;
    uint8_t *bytes = NULL;
    size_t nb = 0;
    genc_status s = genc_tokenizer_decode(t->tok, G.ctx, ids, (size_t)n, &bytes, &nb);
    free(ids);
    if (s) return pg_raise(s);
    PyObject *r = PyUnicode_DecodeUTF8((const char *)bytes, (Py_ssize_t)nb, "replace");
    free(bytes);
    return r;
}

static PyObject *tok_save(TokObject *t, PyObject *args) {
    PyObject *path;
    TOK_READY(t, NULL);
    if (!PyArg_ParseTuple(args, "O&:save", PyUnicode_FSConverter, &path)) return NULL;
    genc_status s = genc_tokenizer_save(t->tok, G.ctx, PyBytes_AS_STRING(path));
    Py_DECREF(path);
    if (s) return pg_raise(s);
    Py_RETURN_NONE;
}

static PyObject *tok_special(TokObject *t, PyObject *name) {
    TOK_READY(t, NULL);
    const char *s = PyUnicode_AsUTF8(name);
    if (!s) return NULL;
    return PyLong_FromLong(genc_tokenizer_special(t->tok, s));
}

static PyObject *tok_vocab(TokObject *t, void *c) {
    TOK_READY(t, NULL);
    return PyLong_FromLong(genc_tokenizer_vocab_size(t->tok));
}
static PyObject *tok_repr(TokObject *t) {
    if (!t->tok) return PyUnicode_FromString("genc.Tokenizer(not initialised)");
    return PyUnicode_FromFormat("genc.Tokenizer(byte-level BPE, %d tokens, %d merges)", genc_tokenizer_vocab_size(t->tok),
                                genc_tokenizer_n_merges(t->tok));
}

static PyMethodDef tok_methods[] = {
    {"train", (PyCFunction)(void (*)(void))tok_train, METH_VARARGS | METH_KEYWORDS | METH_CLASS,
     "Tokenizer.train(text, vocab_size=512, pretokenizer='qwen2', tags='special'): train byte-level BPE on a str "
     "or bytes ('qwen2': Qwen2's regex split, digits single, as llama.cpp and HF split it; 'genc-v1': genc's first "
     "split; 'gpt2': GPT-2's regex split; tags='text' reads <think> </think> <answer> </answer> as ordinary text)"},
    {"encode", (PyCFunction)(void (*)(void))tok_encode, METH_VARARGS | METH_KEYWORDS, "text -> list of ids"},
    {"decode", (PyCFunction)tok_decode, METH_O, "ids -> text (invalid UTF-8 replaced)"},
    {"save", (PyCFunction)tok_save, METH_VARARGS, "write a safetensors tokenizer file"},
    {"special", (PyCFunction)tok_special, METH_O, "id of a special token such as '<|eos|>'"},
    {NULL},
};
static PyObject *tok_pretok(TokObject *t, void *c) {
    (void)c;
    TOK_READY(t, NULL);
    return PyUnicode_FromString(genc_pretokenizer_name(genc_tokenizer_pretokenizer(t->tok)));
}
static PyObject *tok_tags(TokObject *t, void *c) {
    (void)c;
    TOK_READY(t, NULL);
    return PyUnicode_FromString(genc_tokenizer_tags(t->tok) == GENC_TAGS_TEXT ? "text" : "special");
}

static PyGetSetDef tok_getset[] = {{"vocab_size", (getter)tok_vocab, NULL, "tokens", NULL},
                                   {"pretokenizer", (getter)tok_pretok, NULL, "'qwen2', 'genc-v1' or 'gpt2'", NULL},
                                   {"tags", (getter)tok_tags, NULL, "'special' or 'text': how the four tags encode", NULL},
                                   {NULL}};

static PyTypeObject Tok_Type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "genc.Tokenizer",
    .tp_basicsize = sizeof(TokObject),
    .tp_dealloc = (destructor)tok_dealloc,
    .tp_repr = (reprfunc)tok_repr,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Tokenizer(path)\n--\n\ngenc's byte-level BPE tokenizer; Tokenizer.train(text, vocab_size) makes one.",
    .tp_methods = tok_methods,
    .tp_getset = tok_getset,
    .tp_init = (initproc)tok_init,
    .tp_new = PyType_GenericNew,
};

/* ======================= language model ======================= */

typedef struct {
    PyObject_HEAD
    genc_lm m;
    bool built;
    int busy;         /* a fit() holds the model (GIL released) */
    PyObject *named;  /* tuple of (name, Tensor) */
    PyObject *watch;  /* tuple of Tensors */
    PyObject *tok;    /* Tokenizer or NULL */
    PyObject *weakreflist;
    pg_exec ex;       /* its own context: forward/backward run without the GIL */
} LMObject;

static int lm_traverse(LMObject *l, visitproc visit, void *arg) {
    Py_VISIT(l->named);
    Py_VISIT(l->watch);
    Py_VISIT(l->tok);
    return 0;
}
static int lm_clear(LMObject *l) {
    Py_CLEAR(l->named);
    Py_CLEAR(l->watch);
    Py_CLEAR(l->tok);
    return 0;
}
static void lm_dealloc(LMObject *l) {
    PyObject_GC_UnTrack(l);
    if (l->weakreflist) PyObject_ClearWeakRefs((PyObject *)l);
    lm_clear(l);
    if (l->built) genc_lm_free(&l->m);
    pg_exec_free(&l->ex);
    Py_TYPE(l)->tp_free(l);
}

static int lm_busy(LMObject *l) {
    if (pg_check_init((PyObject *)l, l->built)) return -1;
    if (l->busy) return PyErr_SetString(PyExc_RuntimeError, "the language model is training in another thread"), -1;
    return 0;
}

static int lm_bind(LMObject *l) {
    if (!l->ex.ctx && pg_exec_init(&l->ex)) return -1;
    l->named = pg_bind_params(&l->m.params, (PyObject *)l);
    l->watch = l->named ? pg_watch_of(l->named) : NULL;
    return l->watch ? 0 : -1;
}

/* LMCore(preset="tiny", config=None (a JSON string of Hugging Face fields), init_std=0.02, **overrides) */
static int lm_init(LMObject *l, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"preset", "config_json", "init_std", NULL};
    const char *preset = "tiny", *json = NULL;
    double std = 0.02;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|szd:LMCore", kwlist, &preset, &json, &std)) return -1;
    if (l->built) return PyErr_SetString(PyExc_RuntimeError, "LMCore already built"), -1;
    genc_lm_config c;
    genc_status s = json ? genc_lm_config_parse(G.ctx, json, "config", &c) : genc_lm_preset(G.ctx, preset, &c);
    if (!s) s = genc_lm_config_check(G.ctx, &c);
    if (!s) s = genc_lm_init(G.ctx, &l->m, &c, std);
    if (s) return pg_raise(s), -1;
    l->built = true;
    return lm_bind(l);
}

static PyObject *lm_config_json(LMObject *l, void *c) {
    if (!l->built) Py_RETURN_NONE;
    char *j = genc_lm_config_json(&l->m.cfg);
    PyObject *r = PyUnicode_FromString(j ? j : "{}");
    free(j);
    return r;
}
static PyObject *lm_named(LMObject *l, void *c) {
    PyObject *r = l->named ? l->named : Py_None;
    Py_INCREF(r);
    return r;
}
static PyObject *lm_get_tok(LMObject *l, void *c) {
    PyObject *r = l->tok ? l->tok : Py_None;
    Py_INCREF(r);
    return r;
}
static int lm_set_tok(LMObject *l, PyObject *v, void *c) {
    if (v && v != Py_None && !PyObject_TypeCheck(v, &Tok_Type))
        return PyErr_SetString(PyExc_TypeError, "tokenizer: expected a genc.Tokenizer"), -1;
    if (v && v != Py_None && pg_check_init(v, ((TokObject *)v)->tok != NULL)) return -1;
    if (v && v != Py_None && l->built && genc_tokenizer_vocab_size(((TokObject *)v)->tok) > l->m.cfg.vocab_size)
        return PyErr_Format(PyExc_ValueError, "tokenizer: %d tokens, but the model's vocabulary is %d",
                            genc_tokenizer_vocab_size(((TokObject *)v)->tok), l->m.cfg.vocab_size), -1;
    Py_XINCREF(v == Py_None ? NULL : v);
    Py_XSETREF(l->tok, v == Py_None ? NULL : v);
    return 0;
}

/* tokens [B, T + 1] in ids; i[0] = B, i[1] = T; out_aux: double[10] (main, balance, mtp...) */
static genc_tensor *f_lm_loss(genc_ctx *c, genc_tensor **in, int n, OpArgs *a) {
    genc_lm_losses L;
    if (genc_lm_forward_train(c, a->model, a->ids, a->i[0], a->i[1], &L)) return NULL;
    double *aux = a->out_aux;
    if (aux) {
        genc_lm *m = a->model;
        aux[0] = L.main ? L.main->data[0] : 0;
        aux[1] = L.balance ? L.balance->data[0] : 0;
        for (int k = 0; k < m->cfg.mtp_depth && k < 8; k++) aux[2 + k] = L.mtp[k] ? L.mtp[k]->data[0] : 0;
    }
    return L.total;
}

static genc_tensor *f_lm_logits(genc_ctx *c, genc_tensor **in, int n, OpArgs *a) {
    return genc_lm_logits(c, a->model, a->ids, a->i[0], a->i[1]);
}

/* ids from a [B, T] nested list / 2-d buffer / 1-d sequence (B = 1). */
static int token_batch(PyObject *o, int32_t **ids, int64_t *B, int64_t *T) {
    int64_t n;
    if (pg_int32_array(o, ids, &n)) return -1;
    *B = 1;
    if (PyObject_CheckBuffer(o)) {
        Py_buffer v;
        if (PyObject_GetBuffer(o, &v, PyBUF_RECORDS_RO) == 0) {
            if (v.ndim == 2) *B = v.shape[0];
            PyBuffer_Release(&v);
        }
    } else if ((PyList_Check(o) || PyTuple_Check(o)) && PySequence_Size(o) > 0) {
        PyObject *f = PySequence_GetItem(o, 0);
        if (f && (PyList_Check(f) || PyTuple_Check(f))) *B = PySequence_Size(o);
        Py_XDECREF(f);
    }
    if (*B < 1 || n % *B) {
        free(*ids);
        PyErr_SetString(PyExc_ValueError, "tokens: rows of different lengths");
        return -1;
    }
    *T = n / *B;
    return 0;
}

static PyObject *lm_loss(LMObject *l, PyObject *tokens) {
    if (lm_busy(l)) return NULL;
    OpArgs a = {0};
    int64_t B, T1;
    if (token_batch(tokens, &a.ids, &B, &T1)) return NULL;
    a.n_ids = B * T1;
    if (T1 < 2) {
        pg_args_free(&a);
        return PyErr_Format(PyExc_ValueError, "loss: each row needs at least 2 tokens (inputs and a target), found %lld",
                            (long long)T1);
    }
    a.i[0] = B, a.i[1] = T1 - 1;
    a.model = &l->m;
    double aux[10] = {0};
    a.out_aux = aux;
    PyObject *r = pg_scalar(pg_run_model_op(&l->ex, "lm_loss", f_lm_loss, 0, NULL, &a, (PyObject *)l, l->watch)); /* 0-d */
    if (!r) return NULL;
    if (((TensorObject *)r)->grad_fn) ((TensorObject *)r)->grad_fn->args.out_aux = NULL;
    PyObject *mtp = PyList_New(0);
    for (int k = 0; k < l->m.cfg.mtp_depth && k < 8; k++) {
        PyObject *x = PyFloat_FromDouble(aux[2 + k]);
        PyList_Append(mtp, x);
        Py_DECREF(x);
    }
    return Py_BuildValue("N{sdsdsN}", r, "main", aux[0], "balance", aux[1], "mtp", mtp);
}

static PyObject *lm_logits(LMObject *l, PyObject *tokens) {
    if (lm_busy(l)) return NULL;
    OpArgs a = {0};
    int64_t B, T;
    if (token_batch(tokens, &a.ids, &B, &T)) return NULL;
    a.n_ids = B * T;
    a.i[0] = B, a.i[1] = T;
    a.model = &l->m;
    return pg_run_model_op(&l->ex, "lm_logits", f_lm_logits, 0, NULL, &a, (PyObject *)l, l->watch);
}

static PyObject *lm_update_bias(LMObject *l, PyObject *u) {
    if (lm_busy(l)) return NULL;
    genc_lm_update_bias(&l->m);
    Py_RETURN_NONE;
}

static PyObject *lm_set_precision(LMObject *l, PyObject *args) {
    const char *prec, *promote = NULL;
    if (lm_busy(l) || !PyArg_ParseTuple(args, "s|z:set_precision", &prec, &promote)) return NULL;
    genc_status s = genc_lm_set_precision(G.ctx, &l->m, prec, promote);
    if (s) return pg_raise(s);
    Py_RETURN_NONE;
}

static PyObject *lm_maxvio(LMObject *l, PyObject *u) {
    PyObject *r = PyList_New(0);
    for (int b = 0; r && l->built && b < l->m.cfg.n_layers; b++)
        if (l->m.blocks[b].router) {
            PyObject *x = PyFloat_FromDouble(genc_lm_maxvio(&l->m, b));
            PyList_Append(r, x);
            Py_DECREF(x);
        }
    return r;
}

static PyObject *lm_save(LMObject *l, PyObject *args) {
    PyObject *path;
    if (lm_busy(l) || !PyArg_ParseTuple(args, "O&:save", PyUnicode_FSConverter, &path)) return NULL;
    genc_train_state st = {0}; /* recorded as it always was: step 0 */
    genc_status s = genc_lm_save(G.ctx, PyBytes_AS_STRING(path), &l->m, l->tok ? ((TokObject *)l->tok)->tok : NULL, &st);
    Py_DECREF(path);
    if (s) return pg_raise(s);
    Py_RETURN_NONE;
}

static PyTypeObject LM_Type;

static PyObject *lm_load(PyObject *cls, PyObject *args) {
    PyObject *path;
    if (!PyArg_ParseTuple(args, "O&:load", PyUnicode_FSConverter, &path)) return NULL;
    const char *p = PyBytes_AS_STRING(path);
    LMObject *l = (LMObject *)LM_Type.tp_alloc(&LM_Type, 0);
    genc_tokenizer *tk = NULL;
    genc_status s = l ? genc_lm_load(G.ctx, p, false, &l->m, &tk) : GENC_ENOMEM;
    if (!s) l->built = true;
    if (!s && tk) l->tok = tok_wrap(tk);
    Py_DECREF(path);
    if (s) {
        Py_XDECREF(l);
        return pg_raise(s);
    }
    if (lm_bind(l)) {
        Py_DECREF(l);
        return NULL;
    }
    return (PyObject *)l;
}

/* ---- fit: genc's training loop with the GIL released ---- */

typedef struct {
    genc_lm_corpus corpus;
    volatile int stop;
    PyObject *exc_type, *exc_value, *exc_tb; /* the exception a signal handler raised */
    PyObject *callback;
    double last_loss;
} fit_job;

/* After each step (the family has updated the balancing bias): Python's signal handlers (with
 * the GIL for a moment, so Ctrl-C raises KeyboardInterrupt; the loop then saves and stops) and
 * the callback. */
static genc_status fit_on_step(void *user, int64_t step, double loss) {
    fit_job *j = user;
    j->last_loss = loss;
    PyGILState_STATE g = PyGILState_Ensure();
    int err = PyErr_CheckSignals();
    if (!err && j->callback) {
        PyObject *r = PyObject_CallFunction(j->callback, "Ld", (long long)step, j->last_loss);
        if (!r) err = -1;
        else if (r == Py_False) j->stop = 1;
        Py_XDECREF(r);
    }
    if (err) {
        PyErr_Fetch(&j->exc_type, &j->exc_value, &j->exc_tb);
        j->stop = 1;
    }
    PyGILState_Release(g);
    return GENC_OK;
}

static PyObject *lm_fit(LMObject *l, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"tokens", "steps", "batch", "seq", "lr", "min_lr", "warmup", "weight_decay", "beta2", "clip",
                             "checkpoint", "save_every", "seed", "threads", "resume", "callback", NULL};
    PyObject *tokens, *ckpt_obj = Py_None, *cb = Py_None;
    genc_lm_train_config d = genc_lm_train_defaults(); /* Python's quick fit: 100 steps, 10 warm-up */
    long long steps = 100, B = d.batch, T = d.seq, warmup = 10, save_every = 0, seed = (long long)d.seed;
    double lr = d.lr, min_lr = d.min_lr, wd = d.weight_decay, beta2 = d.beta2, clip = d.clip;
    int threads = 0, resume = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|LLLddLdddOLLipO:fit", kwlist, &tokens, &steps, &B, &T, &lr, &min_lr,
                                     &warmup, &wd, &beta2, &clip, &ckpt_obj, &save_every, &seed, &threads, &resume, &cb))
        return NULL;
    if (lm_busy(l)) return NULL;
    if (B < 1 || T < 1) return PyErr_Format(PyExc_ValueError, "fit: batch and seq must be >= 1, found %lld and %lld", B, T);
    if (T > l->m.cfg.max_seq) return PyErr_Format(PyExc_ValueError, "fit: seq %lld exceeds max_position_embeddings %d", T, l->m.cfg.max_seq);
    int64_t win[2] = {B, T + 1}; /* the batch buffer: B windows of T + 1 ids */
    if (pg_shape_numel(2, win) < 0) return NULL;
    PyObject *ckpt = NULL;
    if (ckpt_obj != Py_None && !PyUnicode_FSConverter(ckpt_obj, &ckpt)) return NULL;
    fit_job j = {.callback = cb == Py_None ? NULL : cb};
    int64_t n;
    if (pg_int32_array(tokens, &j.corpus.tokens, &n)) {
        Py_XDECREF(ckpt);
        return NULL;
    }
    j.corpus.n = j.corpus.n_train = n;
    if (n < T + 2) {
        free(j.corpus.tokens);
        Py_XDECREF(ckpt);
        return PyErr_Format(PyExc_ValueError, "fit: %lld tokens, fewer than seq %lld + 2", (long long)n, T);
    }
    for (int64_t i = 0; i < n; i++)
        if (j.corpus.tokens[i] < 0 || j.corpus.tokens[i] >= l->m.cfg.vocab_size) {
            long long bad = j.corpus.tokens[i];
            free(j.corpus.tokens);
            Py_XDECREF(ckpt);
            return PyErr_Format(PyExc_ValueError, "fit: token %lld at position %lld is outside the vocabulary [0, %d)",
                                bad, (long long)i, l->m.cfg.vocab_size);
        }
    genc_ctx *ctx = genc_ctx_new();
    genc_lm_train_config tc = genc_lm_train_defaults();
    tc.steps = steps, tc.batch = B, tc.seq = T, tc.lr = lr, tc.min_lr = min_lr, tc.warmup = warmup;
    tc.weight_decay = wd, tc.beta2 = beta2, tc.clip = clip, tc.validate = false, tc.save_every = save_every;
    tc.seed = (uint64_t)seed, tc.resume = resume, tc.checkpoint = ckpt ? PyBytes_AS_STRING(ckpt) : NULL;
    tc.stop = &j.stop, tc.on_step = fit_on_step, tc.user = &j;
    genc_train_state st = {0};
    genc_status s = !ctx ? GENC_ENOMEM : GENC_OK;
    if (!s) {
        genc_set_threads(ctx, threads);
        genc_rng_seed(ctx, (uint64_t)seed);
    }
    l->busy = 1;
    if (!s) {
        const genc_tokenizer *tk = l->tok ? ((TokObject *)l->tok)->tok : NULL;
        Py_BEGIN_ALLOW_THREADS
        s = genc_lm_train(ctx, &l->m, &j.corpus, tk, &tc, &st);
        Py_END_ALLOW_THREADS
    }
    l->busy = 0;
    bump_all(l->named);
    char msg[600] = "";
    if (s && ctx) snprintf(msg, sizeof msg, "%s", genc_last_error(ctx));
    genc_ctx_free(ctx);
    free(j.corpus.tokens);
    Py_XDECREF(ckpt);
    if (j.exc_type) { /* Ctrl-C (or the callback raised): the checkpoint is written; re-raise */
        PyErr_Restore(j.exc_type, j.exc_value, j.exc_tb);
        return NULL;
    }
    if (s && s != GENC_EINTR) return pg_raise_msg(s, msg);
    return Py_BuildValue("{sLsdsO}", "steps", (long long)st.step, "loss", j.last_loss, "stopped", s == GENC_EINTR ? Py_True : Py_False);
}

static PyObject *lm_numel(LMObject *l, void *c) { return PyLong_FromLongLong(l->built ? genc_params_numel(&l->m.params) : 0); }
static PyObject *lm_vocab(LMObject *l, void *c) { return PyLong_FromLong(l->built ? l->m.cfg.vocab_size : 0); }
static PyObject *lm_maxseq(LMObject *l, void *c) { return PyLong_FromLong(l->built ? l->m.cfg.max_seq : 0); }

/* ---- Generation: a generator object over the latent-cache decoder ---- */

typedef struct {
    PyObject_HEAD
    PyObject *lm;          /* LMObject */
    PyObject *tok;         /* Tokenizer or NULL */
    genc_lm_cache *cache;
    genc_sampler s;
    int64_t max_new, produced;
    int32_t *pending;      /* tokens to feed next (the prompt first, then the last sampled one + sent text) */
    int64_t n_pending, cap;
    genc_real *logits;
    int32_t eos;
    int state;             /* 0 fresh, 1 running, 2 finished */
    bool executing;        /* a send/next is inside (it releases the GIL while decoding) */
    PyObject *ids;         /* list of generated ids */
    PyObject *weakreflist; /* weakref.ref(generation) works, as for a Python generator */
} GenObject;

/* Like a Python generator, a generation runs one call at a time: another thread's next(),
 * send(), close() or throw() meanwhile raises instead of freeing the cache under the
 * decoder or dropping the tokens it sends. */
static int gen_busy(GenObject *g) {
    if (!g->executing) return 0;
    PyErr_SetString(PyExc_ValueError, "generator already executing");
    return -1;
}

static int gen_traverse(GenObject *g, visitproc visit, void *arg) {
    Py_VISIT(g->lm);
    Py_VISIT(g->tok);
    Py_VISIT(g->ids);
    return 0;
}
static void gen_release(GenObject *g) {
    genc_lm_cache_free(g->cache);
    g->cache = NULL;
    free(g->pending), free(g->logits);
    g->pending = NULL, g->logits = NULL;
    g->state = 2;
}
static int gen_clear(GenObject *g) {
    gen_release(g);
    Py_CLEAR(g->lm);
    Py_CLEAR(g->tok);
    Py_CLEAR(g->ids);
    return 0;
}
static void gen_dealloc(GenObject *g) {
    PyObject_GC_UnTrack(g);
    if (g->weakreflist) PyObject_ClearWeakRefs((PyObject *)g);
    gen_clear(g);
    Py_TYPE(g)->tp_free(g);
}

static int gen_push(GenObject *g, const int32_t *ids, int64_t n) {
    if (g->n_pending + n > g->cap) {
        int64_t cap = 2 * (g->n_pending + n) + 8;
        int32_t *p = realloc(g->pending, (size_t)cap * sizeof *p);
        if (!p) return PyErr_NoMemory(), -1;
        g->pending = p, g->cap = cap;
    }
    memcpy(g->pending + g->n_pending, ids, (size_t)n * sizeof *ids);
    g->n_pending += n;
    return 0;
}

static PyObject *gen_stop(GenObject *g) {
    gen_release(g);
    PyErr_SetNone(PyExc_StopIteration);
    return NULL;
}

/* Feed the pending tokens, sample the next one. */
static PyObject *gen_advance(GenObject *g) {
    LMObject *l = (LMObject *)g->lm;
    if (lm_busy(l)) return NULL;
    if (g->produced >= g->max_new) return gen_stop(g);
    if (genc_lm_cache_len(g->cache) + g->n_pending > g->cache->max_len) return gen_stop(g); /* context full */
    genc_status s;
    pg_exec_acquire(&l->ex);
    genc_set_threads(l->ex.ctx, genc_get_threads(G.ctx));
    Py_BEGIN_ALLOW_THREADS
    s = genc_lm_decode(l->ex.ctx, &l->m, g->cache, g->pending, g->n_pending, g->logits, false, NULL);
    Py_END_ALLOW_THREADS
    if (s) pg_raise_ctx(l->ex.ctx, s);
    pg_exec_release(&l->ex);
    if (s) {
        gen_release(g);
        return NULL;
    }
    g->n_pending = 0;
    int32_t id = genc_sample(G.ctx, &g->s, g->logits, l->m.cfg.vocab_size, NULL);
    if (id < 0) {
        gen_release(g);
        return pg_raise(genc_ctx_status(G.ctx));
    }
    g->produced++;
    if (id == g->eos) return gen_stop(g);
    PyObject *x = PyLong_FromLong(id);
    PyList_Append(g->ids, x);
    if (gen_push(g, &id, 1)) {
        Py_DECREF(x);
        return NULL;
    }
    return x;
}

static PyObject *gen_send_run(GenObject *g, PyObject *value) {
    if (g->state == 2) {
        PyErr_SetNone(PyExc_StopIteration);
        return NULL;
    }
    if (g->state == 0) {
        if (value != Py_None) return PyErr_Format(PyExc_TypeError, "can't send non-None value to a just-started generator");
        g->state = 1;
        return gen_advance(g);
    }
    if (value != Py_None) { /* append text (or ids) to the context */
        int32_t *ids = NULL;
        int64_t n = 0;
        if (PyUnicode_Check(value)) {
            if (!g->tok) return PyErr_Format(PyExc_TypeError, "send(text) needs a tokenizer; send a list of ids instead");
            Py_ssize_t len;
            const char *u = PyUnicode_AsUTF8AndSize(value, &len);
            size_t nn = 0;
            if (!u) return NULL;
            genc_status s = genc_tokenizer_encode(((TokObject *)g->tok)->tok, G.ctx, (const uint8_t *)u, (size_t)len, true, &ids, &nn);
            if (s) return pg_raise(s);
            n = (int64_t)nn;
        } else if (pg_int32_array(value, &ids, &n)) {
            return NULL;
        }
        LMObject *l = (LMObject *)g->lm;
        for (int64_t i = 0; i < n; i++)
            if (ids[i] < 0 || ids[i] >= l->m.cfg.vocab_size) {
                int bad = ids[i];
                free(ids);
                return PyErr_Format(PyExc_ValueError, "send: id %d is outside the vocabulary [0, %d)", bad,
                                    l->m.cfg.vocab_size);
            }
        int r = gen_push(g, ids, n);
        free(ids);
        if (r) return NULL;
    }
    return gen_advance(g);
}

static PyObject *gen_send(GenObject *g, PyObject *value) {
    if (gen_busy(g)) return NULL;
    g->executing = true;
    PyObject *r = gen_send_run(g, value);
    g->executing = false;
    return r;
}

static PyObject *gen_next(GenObject *g) { return gen_send(g, Py_None); }

static PyObject *gen_close(GenObject *g, PyObject *u) {
    if (gen_busy(g)) return NULL;
    gen_release(g);
    Py_RETURN_NONE;
}

static PyObject *gen_throw(GenObject *g, PyObject *args) {
    PyObject *type, *val = NULL, *tb = NULL;
    if (!PyArg_ParseTuple(args, "O|OO:throw", &type, &val, &tb) || pg_check_throw(type, val, tb) || gen_busy(g))
        return NULL;
    gen_release(g);
    return pg_raise_thrown(type, val, tb);
}

static PyObject *gen_iter(PyObject *g) {
    Py_INCREF(g);
    return g;
}

static PyObject *gen_text(GenObject *g, void *c) {
    if (!g->tok) Py_RETURN_NONE;
    return tok_decode((TokObject *)g->tok, g->ids);
}
static PyObject *gen_cache(GenObject *g, void *c) { return PyBool_FromLong(g->cache != NULL); }
static PyObject *gen_tokens(GenObject *g, void *c) { return PyList_GetSlice(g->ids, 0, PY_SSIZE_T_MAX); }
static PyObject *gen_len(GenObject *g, void *c) { return PyLong_FromLongLong(g->cache ? genc_lm_cache_len(g->cache) : 0); }

static PyMethodDef gen_methods[] = {
    {"send", (PyCFunction)gen_send, METH_O, "append text (or ids) to the context, then yield the next token"},
    {"close", (PyCFunction)gen_close, METH_NOARGS, "stop and free the KV cache now"},
    {"throw", (PyCFunction)gen_throw, METH_VARARGS, "stop (freeing the cache) and raise the exception"},
    {NULL},
};
static PyGetSetDef gen_getset[] = {
    {"text", (getter)gen_text, NULL, "the generated tokens decoded", NULL},
    {"tokens", (getter)gen_tokens, NULL, "the generated ids", NULL},
    {"cache_allocated", (getter)gen_cache, NULL, "whether the latent KV cache is still held", NULL},
    {"context_length", (getter)gen_len, NULL, "tokens in the cache", NULL},
    {NULL},
};

static PyTypeObject Gen_Type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "genc.Generation",
    .tp_basicsize = sizeof(GenObject),
    .tp_dealloc = (destructor)gen_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "A generator of token ids from a language model (send(text) extends the context; close() frees the cache).",
    .tp_traverse = (traverseproc)gen_traverse,
    .tp_clear = (inquiry)gen_clear,
    .tp_iter = gen_iter,
    .tp_iternext = (iternextfunc)gen_next,
    .tp_methods = gen_methods,
    .tp_getset = gen_getset,
    .tp_weaklistoffset = offsetof(GenObject, weakreflist),
};

static PyObject *lm_generate(LMObject *l, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"prompt", "max_new_tokens", "temperature", "top_k", "top_p", "eos", "max_len", NULL};
    PyObject *prompt;
    long long max_new = 64, top_k = 0, max_len = 0;
    double temp = 1.0, top_p = 1.0;
    int eos = -2;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|LdLdiL:generate", kwlist, &prompt, &max_new, &temp, &top_k, &top_p, &eos,
                                     &max_len))
        return NULL;
    if (lm_busy(l)) return NULL;
    GenObject *g = PyObject_GC_New(GenObject, &Gen_Type);
    if (!g) return NULL;
    memset((char *)g + sizeof(PyObject), 0, sizeof *g - sizeof(PyObject));
    g->ids = PyList_New(0);
    Py_INCREF(l);
    g->lm = (PyObject *)l;
    g->tok = l->tok;
    Py_XINCREF(g->tok);
    PyObject_GC_Track(g);
    g->s = (genc_sampler){.temperature = temp, .top_k = top_k, .top_p = top_p};
    g->max_new = max_new;
    g->eos = eos == -2 ? (l->tok ? genc_tokenizer_special(((TokObject *)l->tok)->tok, "<|eos|>") : -1) : eos;
    if (genc_sampler_check(G.ctx, &g->s)) {
        Py_DECREF(g);
        return pg_raise(genc_ctx_status(G.ctx));
    }
    if (PyUnicode_Check(prompt)) {
        PyObject *ids = g->tok ? PyObject_CallMethod(g->tok, "encode", "O", prompt) : NULL;
        if (!g->tok) PyErr_SetString(PyExc_TypeError, "generate: a text prompt needs model.tokenizer; pass ids instead");
        if (!ids) {
            Py_DECREF(g);
            return NULL;
        }
        prompt = ids;
    } else {
        Py_INCREF(prompt);
    }
    int32_t *ids;
    int64_t n, rows = 1;
    int r = token_batch(prompt, &ids, &rows, &n);
    Py_DECREF(prompt);
    if (r) {
        Py_DECREF(g);
        return NULL;
    }
    if (rows != 1) { /* one generation is one sequence: rows are not glued into one prompt */
        free(ids);
        Py_DECREF(g);
        return PyErr_Format(PyExc_ValueError, "generate: the prompt is one sequence of ids, found %lld rows",
                            (long long)rows);
    }
    if (n < 1) {
        free(ids);
        Py_DECREF(g);
        return PyErr_Format(PyExc_ValueError, "generate: the prompt is empty");
    }
    for (int64_t i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= l->m.cfg.vocab_size) {
            free(ids);
            Py_DECREF(g);
            return PyErr_Format(PyExc_ValueError, "generate: prompt id at %lld is outside the vocabulary", (long long)i);
        }
    r = gen_push(g, ids, n);
    free(ids);
    int64_t ml = max_len > 0 && max_len < l->m.cfg.max_seq ? max_len : l->m.cfg.max_seq;
    g->logits = malloc((size_t)l->m.cfg.vocab_size * sizeof(genc_real));
    if (r || !g->logits || genc_lm_cache_new(G.ctx, &l->m, 1, ml, false, &g->cache)) {
        Py_DECREF(g);
        return PyErr_Occurred() ? NULL : pg_raise(genc_ctx_status(G.ctx));
    }
    return (PyObject *)g;
}

static PyObject *lm_grpo_rollout(LMObject *l, PyObject *args, PyObject *kw);

static PyMethodDef lm_methods[] = {
    {"loss", (PyCFunction)lm_loss, METH_O,
     "loss(tokens [B, T+1]) -> (total loss Tensor with autograd, {'main', 'balance', 'mtp'})"},
    {"logits", (PyCFunction)lm_logits, METH_O, "logits(tokens [B, T]) -> Tensor [B, T, V] with autograd"},
    {"update_bias", (PyCFunction)lm_update_bias, METH_NOARGS, "aux-loss-free balancing step from the last forward's loads"},
    {"maxvio", (PyCFunction)lm_maxvio, METH_NOARGS, "MaxVio of each MoE layer in the last forward"},
    {"set_precision", (PyCFunction)lm_set_precision, METH_VARARGS,
     "set_precision('fp32'|'bf16'|'fp8', promote='128'|'none'|None): the linear layers' GEMMs (V3 3.3)"},
    {"save", (PyCFunction)lm_save, METH_VARARGS, "save(path): checkpoint with config and tokenizer"},
    {"load", (PyCFunction)lm_load, METH_VARARGS | METH_CLASS, "LMCore.load(path)"},
    {"fit", (PyCFunction)(void (*)(void))lm_fit, METH_VARARGS | METH_KEYWORDS,
     "genc's training loop on a token array, GIL released; Ctrl-C stops after the step with a checkpoint and raises "
     "KeyboardInterrupt"},
    {"generate", (PyCFunction)(void (*)(void))lm_generate, METH_VARARGS | METH_KEYWORDS,
     "a generator of token ids (latent KV cache); send(text) appends, close() frees the cache"},
    {"grpo_rollout", (PyCFunction)(void (*)(void))lm_grpo_rollout, METH_VARARGS | METH_KEYWORDS,
     "sample GRPO groups on generated arithmetic/countdown problems, scored by genc's rewards -> Rollouts"},
    {NULL},
};
static PyGetSetDef lm_getset[] = {
    {"config_json", (getter)lm_config_json, NULL, "the config (Hugging Face field names)", NULL},
    {"named_tensors", (getter)lm_named, NULL, "((name, Tensor), ...) in checkpoint order", NULL},
    {"tokenizer", (getter)lm_get_tok, (setter)lm_set_tok, "the tokenizer saved with the model", NULL},
    {"num_parameters", (getter)lm_numel, NULL, "parameter count", NULL},
    {"vocab_size", (getter)lm_vocab, NULL, "vocabulary", NULL},
    {"max_seq", (getter)lm_maxseq, NULL, "max_position_embeddings", NULL},
    {NULL},
};

static PyTypeObject LM_Type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "genc.LMCore",
    .tp_basicsize = sizeof(LMObject),
    .tp_dealloc = (destructor)lm_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_BASETYPE,
    .tp_doc = "LMCore(preset='tiny', config_json=None, init_std=0.02)\n--\n\n"
              "A DeepSeek-V3-architecture model (MLA, MoE, MTP).",
    .tp_traverse = (traverseproc)lm_traverse,
    .tp_clear = (inquiry)lm_clear,
    .tp_weaklistoffset = offsetof(LMObject, weakreflist),
    .tp_methods = lm_methods,
    .tp_getset = lm_getset,
    .tp_init = (initproc)lm_init,
    .tp_new = PyType_GenericNew,
};

/* ======================= GRPO ======================= */

typedef struct {
    PyObject_HEAD
    PyObject *lm; /* LMObject */
    PyObject *prompts; /* list of the problems' prompt texts */
    genc_grpo_rollouts r;
    genc_grpo_config cfg;
    bool ready;
} RollObject;

static int roll_traverse(RollObject *r, visitproc visit, void *arg) {
    Py_VISIT(r->lm);
    return 0;
}
static int roll_clear(RollObject *r) {
    Py_CLEAR(r->lm);
    Py_CLEAR(r->prompts);
    return 0;
}
static void roll_dealloc(RollObject *r) {
    PyObject_GC_UnTrack(r);
    if (r->ready) genc_grpo_rollouts_free(&r->r);
    roll_clear(r);
    Py_TYPE(r)->tp_free(r);
}

static genc_tensor *f_grpo_policy(genc_ctx *c, genc_tensor **in, int n, OpArgs *a) {
    RollObject *r = a->model;
    return genc_grpo_policy_loss(c, &((LMObject *)r->lm)->m, &r->r, &r->cfg, a->out_aux);
}

static PyObject *roll_loss(RollObject *r, PyObject *u) {
    LMObject *l = (LMObject *)r->lm;
    if (lm_busy(l)) return NULL;
    if (!r->r.rows) return PyErr_Format(PyExc_ValueError, "grpo: every group was skipped (equal rewards); no loss");
    genc_grpo_stats st = {0};
    OpArgs a = {.model = r, .out_aux = &st};
    PyObject *loss = pg_scalar(pg_run_model_op(&l->ex, "grpo_policy_loss", f_grpo_policy, 0, NULL, &a, (PyObject *)r,
                                               l->watch)); /* a loss is 0-d */
    if (!loss) return NULL;
    if (((TensorObject *)loss)->grad_fn) ((TensorObject *)loss)->grad_fn->args.out_aux = NULL;
    return Py_BuildValue("N{sdsdsdsd}", loss, "kl", st.kl, "clip_frac", st.clip_frac, "entropy", st.entropy, "ratio", st.ratio);
}

static PyObject *roll_get(RollObject *r, void *which) {
    const genc_grpo_rollouts *x = &r->r;
    switch ((int)(intptr_t)which) {
    case 0: return PyFloat_FromDouble(x->mean_reward);
    case 1: return PyFloat_FromDouble(x->accuracy);
    case 2: return PyFloat_FromDouble(x->format_rate);
    case 3: return PyFloat_FromDouble(x->mean_len);
    case 4: {
        PyObject *l = PyList_New(x->n_all);
        for (int64_t i = 0; l && i < x->n_all; i++) PyList_SET_ITEM(l, i, PyFloat_FromDouble(x->reward[i]));
        return l;
    }
    case 5: {
        PyObject *l = PyList_New(x->n_all);
        for (int64_t i = 0; l && i < x->n_all; i++)
            PyList_SET_ITEM(l, i, PyUnicode_DecodeUTF8(x->text[i] ? x->text[i] : "", x->text[i] ? (Py_ssize_t)strlen(x->text[i]) : 0, "replace"));
        return l;
    }
    case 6: return PyLong_FromLongLong(x->rows);
    case 7: return Py_NewRef(r->prompts ? r->prompts : Py_None);
    case 8: return PyFloat_FromDouble(x->think_rate);
    }
    Py_RETURN_NONE;
}
static PyMethodDef roll_methods[] = {
    {"loss", (PyCFunction)roll_loss, METH_NOARGS, "the GRPO objective of the current policy on these rollouts (autograd)"},
    {NULL},
};
static PyGetSetDef roll_getset[] = {
    {"mean_reward", (getter)roll_get, NULL, "mean reward of every rollout", (void *)0},
    {"accuracy", (getter)roll_get, NULL, "fraction correct", (void *)1},
    {"format_rate", (getter)roll_get, NULL, "fraction with the <think>/<answer> format", (void *)2},
    {"mean_len", (getter)roll_get, NULL, "mean response tokens", (void *)3},
    {"rewards", (getter)roll_get, NULL, "reward of each rollout", (void *)4},
    {"texts", (getter)roll_get, NULL, "the responses", (void *)5},
    {"rows", (getter)roll_get, NULL, "training rows kept", (void *)6},
    {"prompts", (getter)roll_get, NULL, "the problems' prompts, one per group", (void *)7},
    {"think_rate", (getter)roll_get, NULL, "fraction well-formed with a non-blank think block", (void *)8},
    {NULL},
};
static PyTypeObject Roll_Type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "genc.Rollouts",
    .tp_basicsize = sizeof(RollObject),
    .tp_dealloc = (destructor)roll_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "One GRPO rollout batch: groups of sampled responses per task prompt, scored by genc's rule-based "
              "rewards, with group-relative advantages; .loss() is the policy objective.",
    .tp_traverse = (traverseproc)roll_traverse,
    .tp_clear = (inquiry)roll_clear,
    .tp_methods = roll_methods,
    .tp_getset = roll_getset,
};

/* grpo_rollout(task="arith", prompts=8, group=8, max_new=64, temperature=1.0, seed=1, index=0,
 *              eps_low=0.2, eps_high=0.2, agg="grpo", scale_std=True, a_digits=2, b_digits=2,
 *              template="r1", ops="+", numbers=3, max_number=25, target_max=100, heldout=200,
 *              heldout_seed=777): the task defaults of `genc lm grpo`; training problems are drawn
 * from index on, skipping every held-out problem, as the CLI does. */
static PyObject *lm_grpo_rollout(LMObject *l, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"task", "prompts", "group", "max_new", "temperature", "seed", "index", "eps_low", "eps_high",
                             "agg", "scale_std", "a_digits", "b_digits", "template", "ops", "numbers", "max_number",
                             "target_max", "heldout", "heldout_seed", NULL};
    const char *task = "arith", *agg = "grpo", *tmpl = "r1", *ops = "+";
    long long prompts = 8, group = 8, max_new = 64, index = 0, target_max = 100, heldout = 200;
    unsigned long long seed = 1, heldout_seed = 777;
    double temp = 1.0, el = 0.2, eh = 0.2;
    int scale_std = 1, ad = 2, bd = 2, numbers = 3, max_number = 25;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|sLLLdKLddspiissiiLLK:grpo_rollout", kwlist, &task, &prompts, &group,
                                     &max_new, &temp, &seed, &index, &el, &eh, &agg, &scale_std, &ad, &bd, &tmpl, &ops,
                                     &numbers, &max_number, &target_max, &heldout, &heldout_seed))
        return NULL;
    if (lm_busy(l)) return NULL;
    if (!l->tok) return PyErr_Format(PyExc_ValueError, "grpo_rollout: the model needs a tokenizer");
    if (strcmp(task, "arith") && strcmp(task, "countdown"))
        return PyErr_Format(PyExc_ValueError, "grpo_rollout: task must be arith or countdown, found \"%s\"", task);
    if (strlen(ops) >= sizeof ((genc_task_cfg *)0)->ops)
        return PyErr_Format(PyExc_ValueError, "grpo_rollout: ops must be a subset of +-*, found \"%s\"", ops);
    if (prompts < 1 || prompts > 4096 || heldout < 0 || heldout > 1000000 || index < 0)
        return PyErr_Format(PyExc_ValueError, "grpo_rollout: expected 1 <= prompts <= 4096, 0 <= heldout <= 10^6 and "
                            "index >= 0, found %lld, %lld, %lld", prompts, heldout, index);
    genc_task_cfg tc;
    genc_task_cfg_default(&tc, strcmp(task, "countdown") ? GENC_TASK_ARITH : GENC_TASK_COUNTDOWN);
    snprintf(tc.ops, sizeof tc.ops, "%s", ops);
    tc.a_digits = ad, tc.b_digits = bd, tc.n_numbers = numbers, tc.max_number = max_number, tc.target_max = target_max;
    RollObject *r = PyObject_GC_New(RollObject, &Roll_Type);
    if (!r) return NULL;
    memset((char *)r + sizeof(PyObject), 0, sizeof *r - sizeof(PyObject));
    Py_INCREF(l);
    r->lm = (PyObject *)l;
    PyObject_GC_Track(r);
    genc_grpo_config_default(&r->cfg);
    r->cfg.prompts = prompts, r->cfg.group = group, r->cfg.max_new = max_new, r->cfg.sampler.temperature = temp;
    r->cfg.eps_low = el, r->cfg.eps_high = eh, r->cfg.scale_std = scale_std;
    genc_task_set held = {0};
    genc_status s = genc_grpo_template_parse(G.ctx, tmpl, &r->cfg.template_kind);
    if (!s) s = genc_task_cfg_check(G.ctx, &tc);
    if (!s) s = genc_grpo_agg_parse(G.ctx, agg, &r->cfg.agg);
    if (!s && heldout > 0) s = genc_task_set_make(G.ctx, &tc, heldout_seed, heldout, &held);
    genc_task_problem *probs = s ? NULL : calloc((size_t)prompts, sizeof *probs);
    if (!s && !probs) s = genc_error(G.ctx, GENC_ENOMEM, "out of memory");
    uint64_t at = (uint64_t)index;
    for (int64_t p = 0; !s && p < prompts; p++) s = genc_task_next_train(G.ctx, &tc, &held, seed, &at, &probs[p]);
    genc_task_set_free(&held);
    if (!s && !(r->prompts = PyList_New(prompts))) s = genc_error(G.ctx, GENC_ENOMEM, "out of memory");
    for (int64_t p = 0; !s && p < prompts; p++) {
        PyObject *t = PyUnicode_FromString(probs[p].prompt);
        if (!t) s = genc_error(G.ctx, GENC_ENOMEM, "out of memory");
        else PyList_SET_ITEM(r->prompts, p, t);
    }
    if (s) {
        for (int64_t p = 0; probs && p < prompts; p++) genc_task_problem_free(&probs[p]);
        free(probs);
        Py_DECREF(r);
        return pg_raise(s);
    }
    pg_exec_acquire(&l->ex); /* sampling is long: the model's context, without the GIL */
    pg_exec_enter(&l->ex);
    pg_exec_reset(&l->ex);
    genc_tokenizer *tk = ((TokObject *)l->tok)->tok;
    Py_BEGIN_ALLOW_THREADS
    s = genc_grpo_rollout(l->ex.ctx, &l->m, NULL, tk, probs, &r->cfg, &r->r);
    Py_END_ALLOW_THREADS
    pg_exec_leave(&l->ex);
    if (s) pg_raise_ctx(l->ex.ctx, s);
    pg_exec_reset(&l->ex);
    pg_exec_release(&l->ex);
    for (int64_t p = 0; probs && p < prompts; p++) genc_task_problem_free(&probs[p]);
    free(probs);
    if (s) {
        Py_DECREF(r);
        return NULL;
    }
    r->ready = true;
    return (PyObject *)r;
}

/* ======================= prefix-tuning ======================= */

typedef struct {
    PyObject_HEAD
    PyObject *lm; /* LMObject */
    genc_lm_prefix_train t;
    bool built;
    PyObject *named, *watch;
} PrefixObject;

static int prefix_traverse(PrefixObject *p, visitproc visit, void *arg) {
    Py_VISIT(p->lm);
    Py_VISIT(p->named);
    Py_VISIT(p->watch);
    return 0;
}
static int prefix_clear(PrefixObject *p) {
    Py_CLEAR(p->named);
    Py_CLEAR(p->watch);
    Py_CLEAR(p->lm);
    return 0;
}
static void prefix_dealloc(PrefixObject *p) {
    PyObject_GC_UnTrack(p);
    if (p->built) genc_lm_prefix_train_free(&p->t);
    prefix_clear(p);
    Py_TYPE(p)->tp_free(p);
}

/* PrefixCore(lm_core, length=8, hidden=0, std=0.02): trainable per-layer latent prefixes. */
static int prefix_init(PrefixObject *p, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"lm", "length", "hidden", "std", NULL};
    PyObject *lm;
    long long len = 8, hidden = 0;
    double std = 0.02;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O!|LLd:PrefixCore", kwlist, &LM_Type, &lm, &len, &hidden, &std)) return -1;
    if (p->built) return PyErr_SetString(PyExc_RuntimeError, "already built"), -1;
    LMObject *l = (LMObject *)lm;
    if (lm_busy(l)) return -1;
    genc_status s = genc_lm_prefix_train_init(G.ctx, &l->m, len, hidden, std, NULL, &p->t);
    if (s) return pg_raise(s), -1;
    p->built = true;
    Py_INCREF(lm);
    p->lm = lm;
    p->named = pg_bind_params(&p->t.params, (PyObject *)p);
    PyObject *own = p->named ? pg_watch_of(p->named) : NULL;
    p->watch = own ? PySequence_Concat(own, l->watch) : NULL;
    Py_XDECREF(own);
    return p->watch ? 0 : -1;
}

/* ids: inputs [B, T]; ids2: targets (B*T, loss only); i[0] = B, i[1] = T, i[2] = loss */
static genc_tensor *f_prefix(genc_ctx *c, genc_tensor **in, int n, OpArgs *a) {
    PrefixObject *p = a->model;
    genc_lm *m = &((LMObject *)p->lm)->m;
    int L = m->cfg.n_layers;
    genc_tensor **ckv = genc_arena_calloc(c, 2 * (size_t)L * sizeof *ckv);
    if (!ckv || genc_lm_prefix_train_latents(c, m, &p->t, ckv, ckv + L)) return NULL;
    genc_tensor *logits = genc_lm_prefix_logits(c, m, ckv, ckv + L, a->ids, a->i[0], a->i[1]);
    return a->i[2] ? genc_cross_entropy(c, logits, a->ids2, -1) : logits;
}

static PyObject *prefix_run(PrefixObject *p, PyObject *tokens, bool loss) {
    if (pg_check_init((PyObject *)p, p->built)) return NULL;
    LMObject *l = (LMObject *)p->lm;
    if (lm_busy(l)) return NULL;
    OpArgs a = {.model = p};
    int64_t B, T;
    int32_t *all;
    if (token_batch(tokens, &all, &B, &T)) return NULL;
    if (loss) {
        if (T < 2) {
            free(all);
            return PyErr_Format(PyExc_ValueError, "loss: rows need at least 2 tokens");
        }
        a.ids = malloc((size_t)(B * (T - 1)) * sizeof(int32_t));
        a.ids2 = malloc((size_t)(B * (T - 1)) * sizeof(int32_t));
        for (int64_t b = 0; a.ids && a.ids2 && b < B; b++) {
            memcpy(a.ids + b * (T - 1), all + b * T, (size_t)(T - 1) * sizeof(int32_t));
            memcpy(a.ids2 + b * (T - 1), all + b * T + 1, (size_t)(T - 1) * sizeof(int32_t));
        }
        free(all);
        T -= 1;
        a.n_ids = a.n_ids2 = B * T;
    } else {
        a.ids = all, a.n_ids = B * T;
    }
    a.i[0] = B, a.i[1] = T, a.i[2] = loss;
    PyObject *r = pg_run_model_op(&l->ex, loss ? "prefix_loss" : "prefix_logits", f_prefix, 0, NULL, &a, (PyObject *)p,
                                  p->watch);
    return loss ? pg_scalar(r) : r; /* a loss is 0-d */
}
static PyObject *prefix_loss(PrefixObject *p, PyObject *t) { return prefix_run(p, t, true); }
static PyObject *prefix_logits(PrefixObject *p, PyObject *t) { return prefix_run(p, t, false); }

static PyObject *prefix_generate(PrefixObject *p, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"prompt", "max_new_tokens", "temperature", "top_k", "top_p", NULL};
    PyObject *prompt;
    long long max_new = 32, top_k = 0;
    double temp = 0, top_p = 1;
    if (pg_check_init((PyObject *)p, p->built) ||
        !PyArg_ParseTupleAndKeywords(args, kw, "O|LdLd:generate", kwlist, &prompt, &max_new, &temp, &top_k, &top_p))
        return NULL;
    LMObject *l = (LMObject *)p->lm;
    if (lm_busy(l)) return NULL;
    PyObject *ids_obj = PyUnicode_Check(prompt) && l->tok ? PyObject_CallMethod(l->tok, "encode", "O", prompt) : (Py_INCREF(prompt), prompt);
    if (!ids_obj) return NULL;
    int32_t *ids;
    int64_t n;
    int r = pg_int32_array(ids_obj, &ids, &n);
    Py_DECREF(ids_obj);
    if (r) return NULL;
    genc_lm_prefix pre = {0};
    genc_gen_result res = {0};
    genc_gen_config gc = {.max_new = max_new, .sampler = {temp, top_k, top_p}, .pad_id = 0,
                          .eos_id = l->tok ? genc_tokenizer_special(((TokObject *)l->tok)->tok, "<|eos|>") : -1,
                          .tok = l->tok ? ((TokObject *)l->tok)->tok : NULL};
    genc_status s = genc_lm_prefix_train_export(G.ctx, &l->m, &p->t, &pre);
    const genc_lm_prefix *pp = &pre;
    const int32_t *pr = ids;
    if (!s) s = genc_lm_prefix_generate(G.ctx, &l->m, &pp, &pr, &n, 1, &gc, &res);
    free(ids);
    genc_lm_prefix_free(&pre);
    pg_reset_arena();
    if (s) return pg_raise(s);
    PyObject *out = PyList_New(res.len[0]);
    for (int64_t i = 0; out && i < res.len[0]; i++) PyList_SET_ITEM(out, i, PyLong_FromLong(res.tokens[i]));
    PyObject *text = res.text && res.text[0] ? PyUnicode_DecodeUTF8((const char *)res.text[0], (Py_ssize_t)res.text_len[0], "replace")
                                             : (Py_INCREF(Py_None), Py_None);
    genc_gen_result_free(&res);
    return Py_BuildValue("NN", out, text);
}

static PyObject *prefix_save(PrefixObject *p, PyObject *args) {
    PyObject *path;
    if (pg_check_init((PyObject *)p, p->built) || !PyArg_ParseTuple(args, "O&:save", PyUnicode_FSConverter, &path))
        return NULL;
    LMObject *l = (LMObject *)p->lm;
    genc_lm_prefix pre = {0};
    genc_status s = genc_lm_prefix_train_export(G.ctx, &l->m, &p->t, &pre);
    if (!s) s = genc_lm_prefix_save(G.ctx, &l->m, &pre, PyBytes_AS_STRING(path));
    genc_lm_prefix_free(&pre);
    Py_DECREF(path);
    pg_reset_arena();
    if (s) return pg_raise(s);
    Py_RETURN_NONE;
}

static PyObject *prefix_named(PrefixObject *p, void *c) {
    PyObject *r = p->named ? p->named : Py_None;
    Py_INCREF(r);
    return r;
}

static PyMethodDef prefix_methods[] = {
    {"loss", (PyCFunction)prefix_loss, METH_O, "next-token cross-entropy of tokens [B, T+1] with the prefix (autograd)"},
    {"logits", (PyCFunction)prefix_logits, METH_O, "logits [B, T, V] of tokens [B, T] with the prefix (autograd)"},
    {"generate", (PyCFunction)(void (*)(void))prefix_generate, METH_VARARGS | METH_KEYWORDS,
     "generate(prompt, max_new_tokens=32, temperature=0) -> (ids, text) with the prefix"},
    {"save", (PyCFunction)prefix_save, METH_VARARGS, "save(path): the exported prefix (genc lm sample --prefix)"},
    {NULL},
};
static PyGetSetDef prefix_getset[] = {{"named_tensors", (getter)prefix_named, NULL, "((name, Tensor), ...)", NULL}, {NULL}};
static PyTypeObject Prefix_Type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "genc.PrefixCore",
    .tp_basicsize = sizeof(PrefixObject),
    .tp_dealloc = (destructor)prefix_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_BASETYPE,
    .tp_doc = "PrefixCore(lm, length=8, hidden=0, std=0.02)\n--\n\nPrefix-tuning of an MLA language model (lm: an LMCore).",
    .tp_traverse = (traverseproc)prefix_traverse,
    .tp_clear = (inquiry)prefix_clear,
    .tp_methods = prefix_methods,
    .tp_getset = prefix_getset,
    .tp_init = (initproc)prefix_init,
    .tp_new = PyType_GenericNew,
};

/* ======================= NICE and the classifier ======================= */

typedef struct {
    PyObject_HEAD
    genc_nice m;
    bool built;
    PyObject *named, *watch;
    pg_exec ex;
} NiceObject;

static int nice_traverse(NiceObject *n, visitproc visit, void *arg) {
    Py_VISIT(n->named);
    Py_VISIT(n->watch);
    return 0;
}
static int nice_clear(NiceObject *n) {
    Py_CLEAR(n->named);
    Py_CLEAR(n->watch);
    return 0;
}
static void nice_dealloc(NiceObject *n) {
    PyObject_GC_UnTrack(n);
    nice_clear(n);
    if (n->built) genc_nice_free(&n->m);
    pg_exec_free(&n->ex);
    Py_TYPE(n)->tp_free(n);
}

static int nice_init(NiceObject *n, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"rows", "cols", "hidden", "layers", "couplings", "prior", "perm_seed", NULL};
    genc_nice_config c = genc_nice_defaults();
    const char *prior = NULL;
    unsigned long long ps = c.perm_seed;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|iiiiizK:NICECore", kwlist, &c.rows, &c.cols, &c.hidden, &c.layers,
                                     &c.couplings, &prior, &ps))
        return -1;
    c.perm_seed = ps;
    if (n->built) return PyErr_SetString(PyExc_RuntimeError, "NICECore already built"), -1;
    genc_status s = prior ? genc_nice_prior_parse(G.ctx, prior, &c.prior) : GENC_OK;
    if (!s) s = genc_nice_init(G.ctx, &n->m, &c);
    if (s) return pg_raise(s), -1;
    n->built = true;
    if (pg_exec_init(&n->ex)) return -1;
    n->named = pg_bind_params(&n->m.params, (PyObject *)n);
    n->watch = n->named ? pg_watch_of(n->named) : NULL;
    return n->watch ? 0 : -1;
}

static genc_tensor *f_nice_logp(genc_ctx *c, genc_tensor **in, int n, OpArgs *a) {
    return genc_nice_log_prob(c, a->model, genc_contiguous(c, in[0]), NULL);
}
static genc_tensor *f_nice_inverse(genc_ctx *c, genc_tensor **in, int n, OpArgs *a) {
    return genc_nice_inverse(c, a->model, genc_contiguous(c, in[0]));
}

static PyObject *nice_log_prob(NiceObject *n, PyObject *x) {
    if (pg_check_init((PyObject *)n, n->built)) return NULL;
    PyObject *t = pg_as_tensor(x);
    if (!t) return NULL;
    TensorObject *in[1] = {(TensorObject *)t};
    OpArgs a = {.model = &n->m};
    PyObject *r = pg_run_model_op(&n->ex, "nice_log_prob", f_nice_logp, 1, in, &a, (PyObject *)n, n->watch);
    Py_DECREF(t);
    return r;
}
static PyObject *nice_inverse(NiceObject *n, PyObject *x) {
    if (pg_check_init((PyObject *)n, n->built)) return NULL;
    PyObject *t = pg_as_tensor(x);
    if (!t) return NULL;
    TensorObject *in[1] = {(TensorObject *)t};
    OpArgs a = {.model = &n->m};
    bool old = pg_set_grad_enabled(false);
    PyObject *r = pg_run_model_op(&n->ex, "nice_inverse", f_nice_inverse, 1, in, &a, (PyObject *)n, NULL);
    pg_set_grad_enabled(old);
    Py_DECREF(t);
    return r;
}
static PyObject *nice_sample(NiceObject *n, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"n", "temperature", "seed", NULL};
    long long cnt = 16;
    double temp = 1.0;
    unsigned long long seed = 1;
    if (pg_check_init((PyObject *)n, n->built) ||
        !PyArg_ParseTupleAndKeywords(args, kw, "|LdK:sample", kwlist, &cnt, &temp, &seed))
        return NULL;
    int64_t shape[2] = {cnt, n->m.dim};
    TensorObject *t = pg_tensor_new(2, shape);
    if (!t) return NULL;
    /* long: on the model's own context, without the GIL (one call at a time per model) */
    pg_exec_acquire(&n->ex);
    pg_exec_enter(&n->ex);
    pg_exec_reset(&n->ex);
    genc_status s;
    Py_BEGIN_ALLOW_THREADS
    s = genc_nice_sample(n->ex.ctx, &n->m, cnt, temp, seed, t->t.data);
    Py_END_ALLOW_THREADS
    pg_exec_leave(&n->ex);
    if (s) pg_raise_ctx(n->ex.ctx, s);
    pg_exec_reset(&n->ex);
    pg_exec_release(&n->ex);
    if (s) {
        Py_DECREF(t);
        return NULL;
    }
    return (PyObject *)t;
}
static PyObject *nice_dim(NiceObject *n, void *c) { return PyLong_FromLong(n->built ? n->m.dim : 0); }
static PyObject *nice_named(NiceObject *n, void *c) {
    PyObject *r = n->named ? n->named : Py_None;
    Py_INCREF(r);
    return r;
}
static PyObject *nice_cfg(NiceObject *n, void *c) {
    char *j = n->built ? genc_nice_config_json(&n->m.cfg) : NULL;
    PyObject *r = PyUnicode_FromString(j ? j : "{}");
    free(j);
    return r;
}
static PyMethodDef nice_methods[] = {
    {"log_prob", (PyCFunction)nice_log_prob, METH_O, "log p(x) per row [N] (nats), with autograd"},
    {"inverse", (PyCFunction)nice_inverse, METH_O, "latent h [N, D] -> x [N, D] (no gradient)"},
    {"sample", (PyCFunction)(void (*)(void))nice_sample, METH_VARARGS | METH_KEYWORDS, "sample(n, temperature, seed) -> [n, D]"},
    {NULL},
};
static PyGetSetDef nice_getset[] = {
    {"dim", (getter)nice_dim, NULL, "pixels per image", NULL},
    {"named_tensors", (getter)nice_named, NULL, "((name, Tensor), ...)", NULL},
    {"config_json", (getter)nice_cfg, NULL, "the config", NULL},
    {NULL},
};
static PyTypeObject Nice_Type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "genc.NICECore",
    .tp_basicsize = sizeof(NiceObject),
    .tp_dealloc = (destructor)nice_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_BASETYPE,
    .tp_doc = "NICECore(rows=28, cols=28, hidden=1000, layers=5, couplings=4, prior='logistic', perm_seed=1)\n--\n\n"
              "The NICE flow.",
    .tp_traverse = (traverseproc)nice_traverse,
    .tp_clear = (inquiry)nice_clear,
    .tp_methods = nice_methods,
    .tp_getset = nice_getset,
    .tp_init = (initproc)nice_init,
    .tp_new = PyType_GenericNew,
};

typedef struct {
    PyObject_HEAD
    genc_classifier m;
    bool built;
    PyObject *named, *watch;
    pg_exec ex;
} ClsObject;

static int cls_traverse(ClsObject *n, visitproc visit, void *arg) {
    Py_VISIT(n->named);
    Py_VISIT(n->watch);
    return 0;
}
static int cls_clear(ClsObject *n) {
    Py_CLEAR(n->named);
    Py_CLEAR(n->watch);
    return 0;
}
static void cls_dealloc(ClsObject *n) {
    PyObject_GC_UnTrack(n);
    cls_clear(n);
    if (n->built) genc_classifier_free(&n->m);
    pg_exec_free(&n->ex);
    Py_TYPE(n)->tp_free(n);
}
static int cls_init(ClsObject *n, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"arch", "rows", "cols", "classes", "hidden", "dropout", NULL};
    genc_classifier_config c = genc_classifier_defaults();
    const char *arch = "convnet";
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|siiiid:ClassifierCore", kwlist, &arch, &c.rows, &c.cols, &c.classes,
                                     &c.hidden, &c.dropout))
        return -1;
    if (strcmp(arch, "convnet") && strcmp(arch, "mlp"))
        return PyErr_Format(PyExc_ValueError, "arch: expected convnet or mlp, found \"%s\"", arch), -1;
    c.arch = strcmp(arch, "mlp") ? GENC_CLS_CONVNET : GENC_CLS_MLP;
    if (n->built) return PyErr_SetString(PyExc_RuntimeError, "already built"), -1;
    genc_status s = genc_classifier_init(G.ctx, &n->m, &c);
    if (s) return pg_raise(s), -1;
    n->built = true;
    if (pg_exec_init(&n->ex)) return -1;
    n->named = pg_bind_params(&n->m.params, (PyObject *)n);
    n->watch = n->named ? pg_watch_of(n->named) : NULL;
    return n->watch ? 0 : -1;
}
/* i[0]: dropout on (training) */
static genc_tensor *f_cls(genc_ctx *c, genc_tensor **in, int n, OpArgs *a) {
    genc_classifier *m = a->model;
    double keep = m->cfg.dropout;
    if (!a->i[0]) m->cfg.dropout = 0;
    genc_tensor *r = genc_classifier_forward(c, m, genc_contiguous(c, in[0]), NULL);
    m->cfg.dropout = keep;
    return r;
}
static PyObject *cls_forward(ClsObject *n, PyObject *args) {
    PyObject *x;
    int training = 1;
    if (pg_check_init((PyObject *)n, n->built) || !PyArg_ParseTuple(args, "O|p:forward", &x, &training)) return NULL;
    PyObject *t = pg_as_tensor(x);
    if (!t) return NULL;
    TensorObject *in[1] = {(TensorObject *)t};
    OpArgs a = {.model = &n->m, .i = {training}};
    PyObject *r = pg_run_model_op(&n->ex, "classifier", f_cls, 1, in, &a, (PyObject *)n, n->watch);
    Py_DECREF(t);
    return r;
}
static PyObject *cls_named(ClsObject *n, void *c) {
    PyObject *r = n->named ? n->named : Py_None;
    Py_INCREF(r);
    return r;
}
static PyMethodDef cls_methods[] = {
    {"forward", (PyCFunction)cls_forward, METH_VARARGS, "forward(x [N, rows*cols], training=True) -> logits"},
    {NULL},
};
static PyGetSetDef cls_getset[] = {{"named_tensors", (getter)cls_named, NULL, "((name, Tensor), ...)", NULL}, {NULL}};
static PyTypeObject Cls_Type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "genc.ClassifierCore",
    .tp_basicsize = sizeof(ClsObject),
    .tp_dealloc = (destructor)cls_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_BASETYPE,
    .tp_doc = "ClassifierCore(arch='convnet', rows=28, cols=28, classes=10, hidden=256, dropout=0.25)\n--\n\n"
              "genc's image classifier.",
    .tp_traverse = (traverseproc)cls_traverse,
    .tp_clear = (inquiry)cls_clear,
    .tp_methods = cls_methods,
    .tp_getset = cls_getset,
    .tp_init = (initproc)cls_init,
    .tp_new = PyType_GenericNew,
};

/* ======================= DataLoader ======================= */

typedef struct {
    PyObject_HEAD
    genc_dataset d;
    genc_batcher b;
    bool ready, end; /* end: the last batch closed an epoch; the next call stops once */
    int64_t *idx;
} LoaderObject;

static void loader_dealloc(LoaderObject *l) {
    if (l->ready) genc_batcher_free(&l->b);
    genc_dataset_free(&l->d);
    free(l->idx);
    Py_TYPE(l)->tp_free(l);
}

static int loader_init(LoaderObject *l, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"name", "train", "batch_size", "seed", "drop_last", "limit", NULL};
    const char *name = "mnist";
    int train = 1, drop = 0;
    long long batch = 64, limit = 0;
    unsigned long long seed = 1;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|spLKpL:DataLoader", kwlist, &name, &train, &batch, &seed, &drop, &limit))
        return -1;
    if (l->ready) return PyErr_SetString(PyExc_RuntimeError, "already initialised"), -1;
    genc_status s;
    char msg[600] = ""; /* loaded on a private context: G is only touched with the GIL held */
    Py_BEGIN_ALLOW_THREADS
    genc_ctx *c = genc_ctx_new();
    s = c ? genc_data_load_named(c, name, genc_data_mnist_dir(), train, &l->d) : GENC_ENOMEM;
    if (s && c) snprintf(msg, sizeof msg, "%s", genc_last_error(c));
    genc_ctx_free(c);
    Py_END_ALLOW_THREADS
    if (s) return pg_raise_msg(s, msg), -1;
    if (limit > 0 && limit < l->d.n) l->d.n = limit;
    if ((s = genc_batcher_init(G.ctx, &l->b, l->d.n, batch, seed, drop))) return pg_raise(s), -1;
    l->ready = true;
    /* a batch holds at most n images (batch * 8 bytes could overflow: batch_size=2**62) */
    l->idx = malloc((size_t)(batch < l->d.n ? batch : l->d.n) * sizeof *l->idx);
    return l->idx ? 0 : (PyErr_NoMemory(), -1);
}

static PyObject *loader_iter(PyObject *self) {
    Py_INCREF(self);
    return self;
}

/* One batch: (images Tensor [B, rows*cols], labels list); StopIteration at the end of an epoch
 * (iterating again starts the next one). */
static PyObject *loader_next(LoaderObject *l) {
    if (pg_check_init((PyObject *)l, l->ready)) return NULL;
    if (l->end) {
        l->end = false;
        return NULL; /* epoch boundary: StopIteration once */
    }
    int64_t cnt = genc_batcher_next(&l->b, l->idx);
    int64_t D = (int64_t)l->d.rows * l->d.cols, shape[2] = {cnt, D};
    TensorObject *x = pg_tensor_new(2, shape);
    if (!x) return NULL;
    int32_t *lab = malloc((size_t)cnt * sizeof *lab);
    genc_dataset_gather(&l->d, l->idx, cnt, x->t.data, lab);
    PyObject *ys = PyList_New(cnt);
    for (int64_t i = 0; ys && i < cnt; i++) PyList_SET_ITEM(ys, i, PyLong_FromLong(lab[i]));
    free(lab);
    l->end = l->b.pos == 0;
    return Py_BuildValue("NN", x, ys);
}

static Py_ssize_t loader_len(LoaderObject *l) {
    if (pg_check_init((PyObject *)l, l->ready)) return -1;
    return (Py_ssize_t)(l->b.drop_last ? l->d.n / l->b.batch : (l->d.n + l->b.batch - 1) / l->b.batch);
}
static PySequenceMethods loader_seq = {.sq_length = (lenfunc)loader_len};
static PyObject *loader_epoch(LoaderObject *l, void *c) {
    return pg_check_init((PyObject *)l, l->ready) ? NULL : PyLong_FromLongLong(l->b.epoch);
}
static PyObject *loader_n(LoaderObject *l, void *c) {
    return pg_check_init((PyObject *)l, l->ready) ? NULL : PyLong_FromLongLong(l->d.n);
}
static PyObject *loader_shape(LoaderObject *l, void *c) {
    return pg_check_init((PyObject *)l, l->ready) ? NULL : Py_BuildValue("(ii)", l->d.rows, l->d.cols);
}
static PyGetSetDef loader_getset[] = {
    {"epoch", (getter)loader_epoch, NULL, "the current epoch", NULL},
    {"num_images", (getter)loader_n, NULL, "images in the split", NULL},
    {"image_shape", (getter)loader_shape, NULL, "(rows, cols)", NULL},
    {NULL},
};
static PyTypeObject Loader_Type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "genc.DataLoader",
    .tp_basicsize = sizeof(LoaderObject),
    .tp_dealloc = (destructor)loader_dealloc,
    .tp_as_sequence = &loader_seq,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "DataLoader(name='mnist', train=True, batch_size=64, seed=1, drop_last=False, limit=0)\n--\n\nAn iterator of "
              "(images [B, 784], labels) over one shuffled epoch; iterate again for the next epoch.",
    .tp_iter = loader_iter,
    .tp_iternext = (iternextfunc)loader_next,
    .tp_getset = loader_getset,
    .tp_init = (initproc)loader_init,
    .tp_new = PyType_GenericNew,
};

/* ======================= registration ======================= */

static int add_type(PyObject *m, PyTypeObject *t, const char *name) {
    if (PyType_Ready(t) < 0) return -1;
    Py_INCREF(t);
    return PyModule_AddObject(m, name, (PyObject *)t);
}

int pg_lm_init_types(PyObject *m) {
    return add_type(m, &Tok_Type, "Tokenizer") || add_type(m, &LM_Type, "LMCore") || add_type(m, &Gen_Type, "Generation") ||
                   add_type(m, &Prefix_Type, "PrefixCore") ||
                   add_type(m, &Roll_Type, "Rollouts")
               ? -1
               : 0;
}

int pg_models_init_types(PyObject *m) {
    return add_type(m, &Nice_Type, "NICECore") || add_type(m, &Cls_Type, "ClassifierCore") ||
                   add_type(m, &Loader_Type, "DataLoader")
               ? -1
               : 0;
}
