/* genc._genc diffusion and rectified flow: the U-Net as a model with autograd, the DDPM
 * noise schedule with its training pairs, and the samplers (DDPM, DDIM, rectified-flow
 * Euler/Heun) as generators that yield the images after every step. A sampler runs genc's
 * own C loop in a worker thread on a private context; its per-step observer hands each
 * intermediate x to the consumer and waits, so the consumer's next() gets it as soon as it
 * is produced, and close() cancels the loop at the next step. */
#include "python/pygenc.h"
#include "genc/diffusion.h"
#include "genc/unet.h"

#include <pthread.h>
#include <string.h>

/* ======================= U-Net ======================= */

typedef struct {
    PyObject_HEAD
    genc_unet m;
    bool built, ema; /* ema: loaded with a checkpoint's EMA weights */
    char *meta;       /* an opened checkpoint's "config" metadata, or NULL */
    int busy; /* a sampler thread is reading the parameters */
    PyObject *named, *watch;
    pg_exec ex;
} UNetObject;

static int unet_traverse(UNetObject *u, visitproc visit, void *arg) {
    Py_VISIT(u->named);
    Py_VISIT(u->watch);
    return 0;
}
static int unet_clear(UNetObject *u) {
    Py_CLEAR(u->named);
    Py_CLEAR(u->watch);
    return 0;
}
static void unet_dealloc(UNetObject *u) {
    PyObject_GC_UnTrack(u);
    unet_clear(u);
    if (u->built) genc_unet_free(&u->m);
    free(u->meta);
    pg_exec_free(&u->ex);
    Py_TYPE(u)->tp_free(u);
}

static int unet_finish(UNetObject *u) {
    u->built = true;
    if (pg_exec_init(&u->ex)) return -1;
    u->named = pg_bind_params(&u->m.params, (PyObject *)u);
    u->watch = u->named ? pg_watch_of(u->named) : NULL;
    return u->watch ? 0 : -1;
}

/* A checkpoint of either config form (include/genc/unet.h), with its EMA weights when `ema`
 * and it has them; its config metadata is kept (genc.UNet.diffusion_config reads it). */
static genc_status unet_open(UNetObject *u, const char *path, bool ema) {
    return genc_unet_open(G.ctx, path, ema, &u->m, &u->ema, &u->meta);
}

/* UNetCore(config_json=None, path=None, ema=True): genc_unet_defaults() with the config's
 * fields, or a checkpoint (flat U-Net or `genc image train` diffusion config). */
static int unet_init(UNetObject *u, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"config_json", "path", "ema", NULL};
    const char *json = NULL;
    PyObject *path = NULL;
    int ema = 1;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|zO&p:UNetCore", kwlist, &json, PyUnicode_FSConverter, &path, &ema))
        return -1;
    if (u->built) {
        Py_XDECREF(path);
        return PyErr_SetString(PyExc_RuntimeError, "UNetCore already built"), -1;
    }
    genc_status s;
    if (path) {
        s = unet_open(u, PyBytes_AS_STRING(path), ema);
        Py_DECREF(path);
    } else {
        genc_unet_config c = genc_unet_defaults();
        s = json ? genc_unet_config_parse(G.ctx, json, "config", &c) : GENC_OK;
        if (!s) s = genc_unet_init(G.ctx, &u->m, &c);
    }
    if (s) return pg_raise(s), -1;
    return unet_finish(u);
}

/* x [N, C*H*W]; r: N times; ids: N labels or none */
static genc_tensor *f_unet(genc_ctx *c, genc_tensor **in, int n, OpArgs *a) {
    return genc_unet_forward(c, a->model, genc_contiguous(c, in[0]), a->r, a->n_ids ? a->ids : NULL);
}

static PyObject *unet_forward(UNetObject *u, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"x", "t", "labels", NULL};
    PyObject *x, *t, *labels = Py_None;
    if (pg_check_init((PyObject *)u, u->built) ||
        !PyArg_ParseTupleAndKeywords(args, kw, "OO|O:forward", kwlist, &x, &t, &labels))
        return NULL;
    if (u->busy) return PyErr_Format(PyExc_RuntimeError, "the U-Net is in use by a running sampler");
    PyObject *xt = pg_as_tensor(x);
    if (!xt) return NULL;
    OpArgs a = {.model = &u->m};
    int64_t N = ((TensorObject *)xt)->t.shape[0];
    if (pg_real_array(t, &a.r, &a.n_r) || (labels != Py_None && pg_int32_array(labels, &a.ids, &a.n_ids))) {
        Py_DECREF(xt);
        pg_args_free(&a);
        return NULL;
    }
    if (a.n_r != N || (a.n_ids && a.n_ids != N)) {
        Py_DECREF(xt);
        pg_args_free(&a);
        return PyErr_Format(PyExc_ValueError, "unet: %lld images need %lld times (and labels), found %lld times, %lld labels",
                            (long long)N, (long long)N, (long long)a.n_r, (long long)a.n_ids);
    }
    TensorObject *in[1] = {(TensorObject *)xt};
    PyObject *r = pg_run_model_op(&u->ex, "unet", f_unet, 1, in, &a, (PyObject *)u, u->watch);
    Py_DECREF(xt);
    return r;
}

static PyObject *unet_named(UNetObject *u, void *c) {
    PyObject *r = u->named ? u->named : Py_None;
    Py_INCREF(r);
    return r;
}
static PyObject *unet_cfg(UNetObject *u, void *c) {
    char *j = u->built ? genc_unet_config_json(&u->m.cfg) : NULL;
    PyObject *r = PyUnicode_FromString(j ? j : "{}");
    free(j);
    return r;
}
static PyObject *unet_meta(UNetObject *u, void *c) {
    if (!u->meta) Py_RETURN_NONE;
    return PyUnicode_FromString(u->meta);
}
static PyObject *unet_ema(UNetObject *u, void *c) { return PyBool_FromLong(u->ema); }
static PyObject *unet_dim(UNetObject *u, void *c) {
    return PyLong_FromLong(u->built ? u->m.cfg.channels * u->m.cfg.rows * u->m.cfg.cols : 0);
}
static PyObject *unet_save(UNetObject *u, PyObject *args) {
    PyObject *path;
    if (pg_check_init((PyObject *)u, u->built) || !PyArg_ParseTuple(args, "O&:save", PyUnicode_FSConverter, &path))
        return NULL;
    genc_status s = genc_unet_save(G.ctx, PyBytes_AS_STRING(path), &u->m);
    Py_DECREF(path);
    if (s) return pg_raise(s);
    Py_RETURN_NONE;
}

static PyMethodDef unet_methods[] = {
    {"forward", (PyCFunction)(void (*)(void))unet_forward, METH_VARARGS | METH_KEYWORDS,
     "forward(x [N, C*H*W], t (N network times), labels=None) -> [N, C*H*W], with autograd"},
    {"save", (PyCFunction)unet_save, METH_VARARGS, "save(path): checkpoint with the config"},
    {NULL},
};
static PyGetSetDef unet_getset[] = {
    {"named_tensors", (getter)unet_named, NULL, "((name, Tensor), ...)", NULL},
    {"config_json", (getter)unet_cfg, NULL, "the config", NULL},
    {"dim", (getter)unet_dim, NULL, "values per image", NULL},
    {"checkpoint_config_json", (getter)unet_meta, NULL,
     "the opened checkpoint's config metadata (JSON), else None", NULL},
    {"ema", (getter)unet_ema, NULL, "True when the checkpoint's EMA weights were loaded", NULL},
    {NULL},
};
static PyTypeObject UNet_Type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "genc.UNetCore",
    .tp_basicsize = sizeof(UNetObject),
    .tp_dealloc = (destructor)unet_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_BASETYPE,
    .tp_doc = "UNetCore(config_json=None, path=None, ema=True)\n--\n\ngenc's diffusion / rectified-flow U-Net.",
    .tp_traverse = (traverseproc)unet_traverse,
    .tp_clear = (inquiry)unet_clear,
    .tp_methods = unet_methods,
    .tp_getset = unet_getset,
    .tp_init = (initproc)unet_init,
    .tp_new = PyType_GenericNew,
};

/* ======================= DDPM schedule ======================= */

typedef struct {
    PyObject_HEAD
    genc_ddpm_schedule s;
    bool ready;
} SchedObject;

static void sched_dealloc(SchedObject *s) {
    if (s->ready) genc_ddpm_schedule_free(&s->s);
    Py_TYPE(s)->tp_free(s);
}
static int sched_init(SchedObject *s, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"kind", "T", "beta_start", "beta_end", NULL};
    const char *kind = "linear";
    int T = 1000;
    double b0 = 1e-4, b1 = 0.02;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|sidd:DDPMSchedule", kwlist, &kind, &T, &b0, &b1)) return -1;
    genc_beta_schedule k;
    genc_status st = genc_beta_schedule_parse(G.ctx, kind, &k);
    if (!st && s->ready) genc_ddpm_schedule_free(&s->s), s->ready = false;
    if (!st) st = genc_ddpm_schedule_init(G.ctx, &s->s, k, T, b0, b1);
    if (st) return pg_raise(st), -1;
    s->ready = true;
    return 0;
}
static PyObject *sched_T(SchedObject *s, void *c) {
    return pg_check_init((PyObject *)s, s->ready) ? NULL : PyLong_FromLong(s->s.T);
}
static PyObject *sched_ab(SchedObject *s, void *c) {
    if (pg_check_init((PyObject *)s, s->ready)) return NULL;
    PyObject *l = PyList_New(s->s.T);
    for (int i = 0; l && i < s->s.T; i++) PyList_SET_ITEM(l, i, PyFloat_FromDouble(s->s.alpha_bar[i]));
    return l;
}

/* (x_t, target) for x0 [N, D], eps [N, D], t (N ints), prediction "epsilon" | "v" | "sample". */
static PyObject *sched_pair(SchedObject *s, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"x0", "eps", "t", "prediction", NULL};
    PyObject *x0o, *epso, *to;
    const char *pred = "epsilon";
    if (pg_check_init((PyObject *)s, s->ready) ||
        !PyArg_ParseTupleAndKeywords(args, kw, "OOO|s:training_pair", kwlist, &x0o, &epso, &to, &pred))
        return NULL;
    genc_prediction p;
    if (genc_prediction_parse(G.ctx, pred, &p)) return pg_raise(genc_ctx_status(G.ctx));
    genc_real *x0 = NULL, *eps = NULL;
    int32_t *t = NULL;
    int64_t nx, ne, nt;
    PyObject *r = NULL;
    if (pg_real_array(x0o, &x0, &nx) || pg_real_array(epso, &eps, &ne) || pg_int32_array(to, &t, &nt)) goto done;
    if (nx != ne || nt < 1 || nx % nt) {
        PyErr_Format(PyExc_ValueError, "training_pair: x0 has %lld values, eps %lld, and %lld times", (long long)nx,
                     (long long)ne, (long long)nt);
        goto done;
    }
    for (int64_t i = 0; i < nt; i++)
        if (t[i] < 0 || t[i] >= s->s.T) {
            PyErr_Format(PyExc_ValueError, "training_pair: time %d outside 0..%d", t[i], s->s.T - 1);
            goto done;
        }
    int64_t shape[2] = {nt, nx / nt};
    TensorObject *xt = pg_tensor_new(2, shape), *tg = pg_tensor_new(2, shape);
    if (xt && tg) {
        genc_ddpm_training_pair(&s->s, p, x0, eps, t, nt, nx / nt, xt->t.data, tg->t.data);
        r = Py_BuildValue("NN", xt, tg);
    } else {
        Py_XDECREF(xt), Py_XDECREF(tg);
    }
done:
    free(x0), free(eps), free(t);
    return r;
}
static PyMethodDef sched_methods[] = {
    {"training_pair", (PyCFunction)(void (*)(void))sched_pair, METH_VARARGS | METH_KEYWORDS,
     "training_pair(x0, eps, t, prediction='epsilon') -> (x_t, target)"},
    {NULL},
};
static PyGetSetDef sched_getset[] = {
    {"T", (getter)sched_T, NULL, "diffusion steps", NULL},
    {"alpha_bar", (getter)sched_ab, NULL, "cumulative products of 1 - beta", NULL},
    {NULL},
};
static PyTypeObject Sched_Type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "genc.DDPMSchedule",
    .tp_basicsize = sizeof(SchedObject),
    .tp_dealloc = (destructor)sched_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "DDPMSchedule(kind='linear', T=1000, beta_start=0.0001, beta_end=0.02)\n--\n\n"
               "The DDPM noise schedule; kind is 'linear', 'scaled_linear' or 'cosine'.",
    .tp_methods = sched_methods,
    .tp_getset = sched_getset,
    .tp_init = (initproc)sched_init,
    .tp_new = PyType_GenericNew,
};

/* ======================= samplers as generators ======================= */

enum { M_DDPM, M_DDIM, M_RFLOW };

typedef struct {
    PyObject_HEAD
    PyObject *unet, *sched; /* kept alive while the worker runs */
    pthread_t th;
    bool started, joined;
    bool executing; /* a next() waits for a step (GIL released): other threads' calls raise */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    /* shared with the worker, under mu */
    const float *x; /* the worker's current x, valid while have */
    int step, n_steps;
    double t;
    bool have, done, cancel;
    genc_status status;
    char msg[512];
    /* the job */
    int method;
    genc_ode_method ode;
    int steps;
    int64_t n, dim;
    float *buf;       /* x, in place */
    float *tnet;      /* network times */
    int32_t *labels;  /* or NULL */
    int32_t *ddim_steps;
    double time_scale;
    genc_sampler_opts opts;
    genc_ctx *ctx;
} SamplerObject;

static genc_status denoise(genc_ctx *ctx, void *user, const float *x, const float *t, int64_t n, int64_t dim, float *out) {
    SamplerObject *s = user;
    UNetObject *u = (UNetObject *)s->unet;
    for (int64_t i = 0; i < n; i++) s->tnet[i] = (float)(s->time_scale * t[i]);
    int64_t shape[2] = {n, dim};
    genc_tensor *xt = genc_tensor_wrap(ctx, (genc_real *)x, 2, shape);
    genc_tensor *y = genc_unet_forward(ctx, &u->m, xt, s->tnet, s->labels);
    if (y) memcpy(out, y->data, (size_t)(n * dim) * sizeof(float));
    genc_step_reset(ctx);
    return genc_ctx_status(ctx);
}

/* Hand x to the consumer and wait until it has taken it (or cancelled). */
static genc_status observe(genc_ctx *ctx, void *user, int step, int n_steps, double t, const float *x, int64_t n,
                           int64_t dim) {
    SamplerObject *s = user;
    pthread_mutex_lock(&s->mu);
    s->x = x, s->step = step, s->n_steps = n_steps, s->t = t, s->have = true;
    pthread_cond_broadcast(&s->cv);
    while (s->have && !s->cancel) pthread_cond_wait(&s->cv, &s->mu);
    bool cancel = s->cancel;
    pthread_mutex_unlock(&s->mu);
    return cancel ? genc_error(ctx, GENC_EINTR, "sampler closed") : GENC_OK;
}

static void *worker(void *arg) {
    SamplerObject *s = arg;
    SchedObject *sc = (SchedObject *)s->sched;
    genc_status st;
    genc_set_grad_enabled(s->ctx, false);
    if (s->method == M_DDPM) st = genc_ddpm_sample(s->ctx, &sc->s, denoise, s, s->n, s->dim, &s->opts, s->buf);
    else if (s->method == M_DDIM)
        st = genc_ddim_sample(s->ctx, &sc->s, s->ddim_steps, s->steps, denoise, s, s->n, s->dim, &s->opts, s->buf);
    else st = genc_rflow_sample(s->ctx, denoise, s, s->n, s->dim, s->steps, s->ode, &s->opts, s->buf);
    pthread_mutex_lock(&s->mu);
    s->status = st;
    if (st) snprintf(s->msg, sizeof s->msg, "%s", genc_last_error(s->ctx));
    s->done = true;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* Called with the GIL held. `joined` is claimed before the GIL is released for the join, so
 * a next() from another thread meanwhile finds the sampler closed instead of joining the
 * worker a second time (which hung). */
static void sampler_stop(SamplerObject *s) {
    if (s->started && !s->joined) {
        s->joined = true;
        pthread_mutex_lock(&s->mu);
        s->cancel = true;
        pthread_cond_broadcast(&s->cv);
        pthread_mutex_unlock(&s->mu);
        Py_BEGIN_ALLOW_THREADS
        pthread_join(s->th, NULL);
        Py_END_ALLOW_THREADS
        if (s->unet) ((UNetObject *)s->unet)->busy--;
    }
}

static int sampler_traverse(SamplerObject *s, visitproc visit, void *arg) {
    Py_VISIT(s->unet);
    Py_VISIT(s->sched);
    return 0;
}
static int sampler_clear(SamplerObject *s) {
    sampler_stop(s);
    Py_CLEAR(s->unet);
    Py_CLEAR(s->sched);
    return 0;
}
static void sampler_dealloc(SamplerObject *s) {
    PyObject_GC_UnTrack(s);
    sampler_clear(s);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s->buf), free(s->tnet), free(s->labels), free(s->ddim_steps);
    genc_ctx_free(s->ctx);
    Py_TYPE(s)->tp_free(s);
}

/* Like a Python generator, one call at a time (ValueError from another thread meanwhile). */
static int sampler_busy(SamplerObject *s) {
    if (!s->executing) return 0;
    PyErr_SetString(PyExc_ValueError, "generator already executing");
    return -1;
}

static PyObject *sampler_next_run(SamplerObject *s) {
    if (!s->started || s->joined) return NULL;
    bool have, done;
    Py_BEGIN_ALLOW_THREADS
    pthread_mutex_lock(&s->mu);
    while (!s->have && !s->done) pthread_cond_wait(&s->cv, &s->mu);
    have = s->have, done = s->done;
    pthread_mutex_unlock(&s->mu);
    Py_END_ALLOW_THREADS
    /* closed by another thread while this one waited: stop (cancel is only set with the GIL
     * held, so it cannot change while this thread copies x) */
    if (s->cancel) return NULL;
    if (!have && done) {
        sampler_stop(s);
        if (s->status) return pg_raise_msg(s->status, s->msg);
        return NULL;
    }
    int64_t shape[2] = {s->n, s->dim};
    TensorObject *x = pg_tensor_new(2, shape);
    if (x) memcpy(x->t.data, s->x, (size_t)(s->n * s->dim) * sizeof(float));
    int step = s->step;
    double t = s->t;
    pthread_mutex_lock(&s->mu);
    s->have = false;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    if (!x) return NULL;
    return Py_BuildValue("idN", step, t, x);
}

static PyObject *sampler_next(SamplerObject *s) {
    if (sampler_busy(s)) return NULL;
    s->executing = true;
    PyObject *r = sampler_next_run(s);
    s->executing = false;
    return r;
}

static PyObject *sampler_close(SamplerObject *s, PyObject *u) {
    if (sampler_busy(s)) return NULL;
    sampler_stop(s);
    Py_RETURN_NONE;
}
static PyObject *sampler_send(SamplerObject *s, PyObject *v) {
    if (v != Py_None) return PyErr_Format(PyExc_TypeError, "a sampler accepts only send(None)");
    PyObject *r = sampler_next(s);
    if (!r && !PyErr_Occurred()) PyErr_SetNone(PyExc_StopIteration);
    return r;
}
static PyObject *sampler_throw(SamplerObject *s, PyObject *args) {
    PyObject *type, *val = NULL, *tb = NULL;
    if (!PyArg_ParseTuple(args, "O|OO:throw", &type, &val, &tb) || pg_check_throw(type, val, tb) || sampler_busy(s))
        return NULL;
    sampler_stop(s);
    return pg_raise_thrown(type, val, tb);
}
static PyObject *sampler_iter(PyObject *s) {
    Py_INCREF(s);
    return s;
}
static PyObject *sampler_running(SamplerObject *s, void *c) { return PyBool_FromLong(s->started && !s->joined); }

static PyMethodDef sampler_methods[] = {
    {"close", (PyCFunction)sampler_close, METH_NOARGS, "cancel the sampling loop and join its thread"},
    {"send", (PyCFunction)sampler_send, METH_O, "send(None): the next step"},
    {"throw", (PyCFunction)sampler_throw, METH_VARARGS, "cancel and raise"},
    {NULL},
};
static PyGetSetDef sampler_getset[] = {{"running", (getter)sampler_running, NULL, "the loop is alive", NULL}, {NULL}};

static PyTypeObject Sampler_Type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "genc.Sampler",
    .tp_basicsize = sizeof(SamplerObject),
    .tp_dealloc = (destructor)sampler_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "A generator of (step, t, x [N, D]) from a running DDPM / DDIM / rectified-flow sampler.",
    .tp_traverse = (traverseproc)sampler_traverse,
    .tp_clear = (inquiry)sampler_clear,
    .tp_iter = sampler_iter,
    .tp_iternext = (iternextfunc)sampler_next,
    .tp_methods = sampler_methods,
    .tp_getset = sampler_getset,
};

/* sample(unet, n, method="ddim", steps=50, schedule=None, eta=0, prediction="epsilon", clip=False,
 *        seed=0, labels=None, ode="euler", spacing="leading") */
static PyObject *fn_sample(PyObject *self, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"unet", "n", "method", "steps", "schedule", "eta", "prediction", "clip", "seed", "labels",
                             "ode", "spacing", "x", NULL};
    PyObject *unet, *sched = Py_None, *labels = Py_None, *x0 = Py_None;
    long long n = 4;
    const char *method = "ddim", *pred = "epsilon", *ode = "euler", *spacing = "uniform";
    int steps = 50, clip = 0;
    double eta = 0;
    unsigned long long seed = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|LsiOdspKOssO:sample", kwlist, &unet, &n, &method, &steps, &sched, &eta,
                                     &pred, &clip, &seed, &labels, &ode, &spacing, &x0))
        return NULL;
    if (!PyObject_TypeCheck(unet, &UNet_Type)) return PyErr_Format(PyExc_TypeError, "sample: expected a genc.UNetCore");
    if (pg_check_init(unet, ((UNetObject *)unet)->built)) return NULL;
    int m = !strcmp(method, "ddpm") ? M_DDPM : !strcmp(method, "ddim") ? M_DDIM : !strcmp(method, "rflow") ? M_RFLOW : -1;
    if (m < 0) return PyErr_Format(PyExc_ValueError, "sample: method must be ddpm, ddim or rflow, found \"%s\"", method);
    if (m != M_RFLOW && !PyObject_TypeCheck(sched, &Sched_Type))
        return PyErr_Format(PyExc_TypeError, "sample: %s needs schedule=genc.DDPMSchedule(...)", method);
    if (m != M_RFLOW && pg_check_init(sched, ((SchedObject *)sched)->ready)) return NULL;
    if (n < 1) return PyErr_Format(PyExc_ValueError, "sample: n must be >= 1");
    UNetObject *u = (UNetObject *)unet;
    int64_t nd[2] = {n, (int64_t)u->m.cfg.channels * u->m.cfg.rows * u->m.cfg.cols};
    if (pg_shape_numel(2, nd) < 0) return NULL;
    SamplerObject *s = PyObject_GC_New(SamplerObject, &Sampler_Type);
    if (!s) return NULL;
    memset((char *)s + sizeof(PyObject), 0, sizeof *s - sizeof(PyObject));
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    Py_INCREF(unet);
    s->unet = unet;
    if (m != M_RFLOW) Py_INCREF(sched), s->sched = sched;
    PyObject_GC_Track(s);
    s->method = m, s->steps = steps, s->n = n, s->dim = u->m.cfg.channels * u->m.cfg.rows * u->m.cfg.cols;
    s->time_scale = m == M_RFLOW ? 1000.0 : 1.0;
    s->opts = genc_sampler_defaults();
    s->opts.eta = eta, s->opts.clip_x0 = clip, s->opts.seed = seed, s->opts.observe = observe, s->opts.observe_user = s;
    s->ctx = genc_ctx_new();
    s->buf = malloc((size_t)(n * s->dim) * sizeof(float));
    s->tnet = malloc((size_t)n * sizeof(float));
    genc_status st = !s->ctx || !s->buf || !s->tnet ? GENC_ENOMEM : GENC_OK;
    if (!st) st = genc_prediction_parse(G.ctx, pred, &s->opts.pred);
    if (!st && m == M_RFLOW) st = genc_ode_method_parse(G.ctx, ode, &s->ode);
    if (!st && m == M_DDIM) {
        genc_spacing sp;
        SchedObject *sc = (SchedObject *)sched;
        s->ddim_steps = malloc((size_t)(steps > 0 ? steps : 1) * sizeof(int32_t));
        st = genc_spacing_parse(G.ctx, spacing, &sp);
        if (!st) st = s->ddim_steps ? genc_ddim_timesteps(G.ctx, sc->s.T, steps, sp, s->ddim_steps) : GENC_ENOMEM;
    }
    if (st) {
        Py_DECREF(s);
        return pg_raise(st);
    }
    if (labels != Py_None) {
        int64_t nl;
        if (pg_int32_array(labels, &s->labels, &nl)) return Py_DECREF(s), NULL;
        if (nl != n) {
            Py_DECREF(s);
            return PyErr_Format(PyExc_ValueError, "sample: %lld labels for %lld images", (long long)nl, n);
        }
    }
    if (x0 != Py_None) { /* a given starting x (e.g. fixed noise) */
        genc_real *r;
        int64_t nr;
        if (pg_real_array(x0, &r, &nr)) return Py_DECREF(s), NULL;
        if (nr != n * s->dim) {
            free(r);
            Py_DECREF(s);
            return PyErr_Format(PyExc_ValueError, "sample: x has %lld values, expected %lld", (long long)nr, n * s->dim);
        }
        memcpy(s->buf, r, (size_t)nr * sizeof(float));
        free(r);
    } else {
        genc_gaussian_noise(seed, 0, n, s->dim, s->buf);
    }
    genc_set_threads(s->ctx, genc_get_threads(G.ctx));
    u->busy++;
    if (pthread_create(&s->th, NULL, worker, s)) {
        u->busy--;
        Py_DECREF(s);
        return PyErr_Format(PyExc_OSError, "sample: cannot start the sampler thread");
    }
    s->started = true;
    return (PyObject *)s;
}

/* (x_t, v_target) for rectified flow: x_t = t x1 + (1 - t) z, v = x1 - z. */
static PyObject *fn_rflow_pair(PyObject *self, PyObject *args) {
    PyObject *x1o, *zo, *to;
    if (!PyArg_ParseTuple(args, "OOO:rflow_training_pair", &x1o, &zo, &to)) return NULL;
    genc_real *x1 = NULL, *z = NULL, *t = NULL;
    int64_t n1, nz, nt;
    PyObject *r = NULL;
    if (pg_real_array(x1o, &x1, &n1) || pg_real_array(zo, &z, &nz) || pg_real_array(to, &t, &nt)) goto done;
    if (n1 != nz || nt < 1 || n1 % nt) {
        PyErr_Format(PyExc_ValueError, "rflow_training_pair: x1 has %lld values, z %lld, t %lld", (long long)n1,
                     (long long)nz, (long long)nt);
        goto done;
    }
    int64_t shape[2] = {nt, n1 / nt};
    TensorObject *xt = pg_tensor_new(2, shape), *v = pg_tensor_new(2, shape);
    if (xt && v) {
        genc_rflow_training_pair(x1, z, t, nt, n1 / nt, xt->t.data, v->t.data);
        r = Py_BuildValue("NN", xt, v);
    } else {
        Py_XDECREF(xt), Py_XDECREF(v);
    }
done:
    free(x1), free(z), free(t);
    return r;
}

static PyMethodDef diff_fns[] = {
    {"sample", (PyCFunction)(void (*)(void))fn_sample, METH_VARARGS | METH_KEYWORDS,
     "sample(unet, n, method='ddim'|'ddpm'|'rflow', steps=50, schedule=None, ...) -> generator of (step, t, x)"},
    {"rflow_training_pair", fn_rflow_pair, METH_VARARGS, "rflow_training_pair(x1, z, t) -> (x_t, v_target)"},
    {NULL},
};

int pg_diffusion_init_types(PyObject *m);
int pg_diffusion_init_types(PyObject *m) {
    PyTypeObject *types[] = {&UNet_Type, &Sched_Type, &Sampler_Type};
    const char *names[] = {"UNetCore", "DDPMSchedule", "Sampler"};
    for (int i = 0; i < 3; i++) {
        if (PyType_Ready(types[i]) < 0) return -1;
        Py_INCREF(types[i]);
        PyModule_AddObject(m, names[i], (PyObject *)types[i]);
    }
    PyObject *name = PyModule_GetNameObject(m);
    for (PyMethodDef *d = diff_fns; d->ml_name; d++) PyModule_AddObject(m, d->ml_name, PyCFunction_NewEx(d, NULL, name));
    Py_XDECREF(name);
    return 0;
}
