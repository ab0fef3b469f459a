/* The genc CPython extension (module genc._genc): shared declarations of its types.
 *
 * Ownership design (why Python tensors never dangle when the step arena resets):
 *  - Every Python-visible Tensor views a Storage: malloc'd memory, a numpy (or any
 *    buffer-protocol) exporter's memory, or memory owned by a C model (its parameters and
 *    gradients). None of them is arena memory.
 *  - An op called from Python resets the context's step arena, wraps its inputs as arena
 *    headers over their storage, runs the genc op (which records on the context's tape),
 *    and copies the result into a fresh Storage (views share their base's Storage). The
 *    Python result holds a Node (grad_fn) that references its input Tensors.
 *  - Only the most recent op's arena graph stays alive ("live"). backward() walks the
 *    Python graph in reverse topological order; for each node it uses the live arena graph
 *    when it is still there (the common `loss = f(...); loss.backward()`), else it replays
 *    the op on its inputs (same random offset, same grad mode) and runs genc's backward on
 *    the replayed graph; then it resets the arena. So the arena holds at most one op's
 *    graph, the tape never outlives a step, and every genc backward is reused unchanged.
 *  - Replaying needs the inputs unchanged: each Storage has a version counter that in-place
 *    writes bump, a Node remembers its inputs' versions, and backward raises RuntimeError
 *    when one changed. */
#ifndef GENC_PYGENC_H
#define GENC_PYGENC_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#include "genc/genc.h"
#include "genc/grpo.h"
#include "genc/flow.h"
#include "genc/image.h"
#include "genc/lm.h"
#include "genc/lm_infer.h"
#include "genc/prefix.h"
#include "genc/safetensors.h"
#include "genc/tokenizer.h"
#include "genc/train.h"

PyMODINIT_FUNC PyInit__genc(void);

typedef struct NodeObject NodeObject;

enum { STORAGE_OWN, STORAGE_BUFFER, STORAGE_EXTERNAL };

typedef struct {
    PyObject_HEAD
    char *data;
    size_t nbytes;
    int kind;
    Py_buffer view;   /* STORAGE_BUFFER */
    PyObject *owner;  /* STORAGE_EXTERNAL: keeps the memory alive */
    uint64_t version; /* bumped by every in-place write */
    bool readonly;
    bool pinned;      /* read-only for good (a checkpoint's memory, a read-only buffer) */
} StorageObject;

typedef struct {
    PyObject_HEAD
    genc_tensor t;          /* header: shape, strides, data (inside storage), requires_grad */
    StorageObject *storage;
    PyObject *grad;         /* Tensor or NULL */
    NodeObject *grad_fn;    /* NULL for leaves */
    genc_tensor *bound;     /* a C model's parameter this tensor shows (NULL if none) */
    bool is_param;
    bool scalar;            /* 0-d to Python (shape ()): the header is shape [1], as the engine has 1 to 4 dims */
    PyObject *dict;
    PyObject *weakreflist;
} TensorObject;

/* Op-specific arguments a node keeps for replay. */
typedef struct {
    int64_t i[12];
    double f[6];
    int32_t *ids;   /* malloc'd copy (token ids, targets, positions) */
    int64_t n_ids;
    int32_t *ids2;  /* a second id array */
    int64_t n_ids2;
    genc_real *r;   /* a malloc'd real array (grpo inputs) */
    int64_t n_r;
    void *model;    /* a C model struct, kept alive by the node's `extra` */
    void *out_aux;  /* op output side-channel (e.g. stats), borrowed, only during a call */
} OpArgs;

typedef genc_tensor *(*op_fwd)(genc_ctx *ctx, genc_tensor **in, int n_in, OpArgs *a);

struct NodeObject {
    PyObject_HEAD
    const char *name;
    op_fwd fwd;
    int n_in;
    TensorObject **in;      /* owned references */
    uint64_t *versions;
    PyObject *watch;        /* tuple of Tensors whose versions must not change (model parameters) */
    uint64_t *watch_versions;
    PyObject *extra;        /* keeps a model object alive */
    OpArgs args;
    uint64_t rng_offset;
    struct pg_exec *ex;     /* the context it ran on (the global one, or a model's own) */
    uint64_t generation;    /* the arena generation its live graph belongs to */
    genc_tensor *live_out;
    genc_tensor **live_in;
    genc_real *gbuf;        /* gradient flowing into the output, during backward only */
    int64_t out_numel;
    int out_ndim;
    int64_t out_shape[GENC_MAX_DIMS];
};

/* Where ops run. G is the global context (tensor ops, with the GIL held). Each model core
 * has its own (its forward and backward are long: they run with the GIL released, one
 * thread at a time per model, behind `lock`); its random stream follows G's. */
typedef struct pg_exec {
    genc_ctx *ctx;
    uint64_t generation;
    NodeObject *live; /* borrowed; the node whose arena graph is current */
    PyThread_type_lock lock; /* NULL for G */
    bool own_rng;            /* W: its ops draw no random numbers; it leaves G's stream alone */
} pg_exec;
/* W runs the long tensor ops (matmul, linear, conv2d) with the GIL released, one at a time
 * behind its lock, so G (used only with the GIL held) is never touched without the GIL. */
extern pg_exec G, W;
int pg_exec_init(pg_exec *ex);
void pg_exec_free(pg_exec *ex);
void pg_exec_acquire(pg_exec *ex); /* waits with the GIL released */
void pg_exec_release(pg_exec *ex);
void pg_exec_reset(pg_exec *ex); /* empty its arena (its live graph is gone) */
/* Grad mode is per thread, as in PyTorch: no_grad in one thread leaves the others recording.
 * Ops read it when they run; the genc contexts' own flag is set from it per op. */
bool pg_grad_enabled(void);
bool pg_set_grad_enabled(bool on); /* returns the previous mode */
void pg_exec_enter(pg_exec *ex); /* take G's random stream and threads */
void pg_exec_leave(pg_exec *ex); /* give the stream back */
PyObject *pg_raise_ctx(genc_ctx *ctx, genc_status s); /* the message of ctx (cleared) */

extern PyTypeObject Storage_Type, Tensor_Type, Node_Type, Module_Type;
#define Tensor_Check(o) PyObject_TypeCheck(o, &Tensor_Type)

/* errors (module.c) */
PyObject *pg_raise(genc_status s);              /* from the context's message; clears it */
PyObject *pg_raise_msg(genc_status s, const char *msg);
void pg_reset_arena(void);
/* generator-like throw(): the arguments checked as Python checks them (TypeError), then raised */
int pg_check_throw(PyObject *type, PyObject *val, PyObject *tb);
PyObject *pg_raise_thrown(PyObject *type, PyObject *val, PyObject *tb);
/* -1 with RuntimeError "<type> not initialised" unless ready (objects made with __new__ alone) */
int pg_check_init(PyObject *self, bool ready);

/* storage and tensors (tensor.c) */
StorageObject *pg_storage_new(size_t nbytes);
StorageObject *pg_storage_external(void *data, size_t nbytes, PyObject *owner, bool readonly);
TensorObject *pg_tensor_new(int ndim, const int64_t *shape); /* zero-filled, own storage */
TensorObject *pg_tensor_view(StorageObject *s, int ndim, const int64_t *shape, const int64_t *stride,
                             genc_real *data);
TensorObject *pg_tensor_from_genc(const genc_tensor *t);  /* copies the data */
/* t as an instance of `type` (a subclass of genc.Tensor) over the same storage, flags kept;
 * t itself (a new reference) when type is genc.Tensor. Steals t; NULL with an exception set. */
TensorObject *pg_tensor_as(PyTypeObject *type, TensorObject *t);
TensorObject *pg_tensor_bound(genc_tensor *p, PyObject *owner); /* views a C model's parameter */
/* A C parameter set as a tuple of (name, Tensor) pairs viewing the model's memory (and its
 * gradients), and the tuple of those tensors alone (what model nodes watch for in-place
 * changes). Both new references, NULL with an exception set. */
PyObject *pg_bind_params(const genc_params *p, PyObject *owner);
PyObject *pg_watch_of(PyObject *named);
PyObject *pg_as_tensor(PyObject *o);  /* new reference: a Tensor (o itself, or converted) */
int pg_check_writable(TensorObject *t, const char *what);
void pg_bump(TensorObject *t);
int pg_parse_shape(PyObject *args, int *ndim, int64_t *shape); /* also refuses overflowing products */
int pg_parse_shape0(PyObject *args, int *ndim, int64_t *shape); /* the same, () allowed: *ndim = 0 */
/* 0-d tensors: Python sees shape () over a [1] header. pg_scalar marks r (a one-element
 * Tensor, or NULL) 0-d and returns it; pg_ndim is the dim count Python sees. */
PyObject *pg_scalar(PyObject *r);
static inline int pg_ndim(const TensorObject *t) { return t->scalar ? 0 : t->t.ndim; }
int64_t pg_shape_numel(int ndim, const int64_t *shape); /* -1 (OverflowError) when it overflows */
int pg_int32_array(PyObject *o, int32_t **out, int64_t *n); /* list or buffer of ints */
int pg_real_array(PyObject *o, genc_real **out, int64_t *n);
int pg_tensor_init_types(PyObject *m);

/* autograd (autograd.c) */
PyObject *pg_run_op(const char *name, op_fwd fwd, int n_in, TensorObject **in, OpArgs *args, PyObject *extra,
                    PyObject *watch, bool view);
/* The same on W, the GIL released around the op and its backward. */
PyObject *pg_run_long_op(const char *name, op_fwd fwd, int n_in, TensorObject **in, OpArgs *args);
/* The same on a model's own context, GIL released around the C work. */
PyObject *pg_run_model_op(pg_exec *ex, const char *name, op_fwd fwd, int n_in, TensorObject **in, OpArgs *args,
                          PyObject *extra, PyObject *watch);
PyObject *pg_backward(TensorObject *root, PyObject *gradient);
void pg_args_free(OpArgs *a);

/* ops (ops.c) */
extern PyMethodDef pg_op_methods[];
extern PyMethodDef pg_tensor_op_methods[];
extern PyNumberMethods pg_tensor_number;
PyObject *pg_getitem(TensorObject *t, PyObject *key);
int pg_setitem(TensorObject *t, PyObject *key, PyObject *value);
PyObject *pg_binary(PyObject *a, PyObject *b, int kind);

/* elementwise comparisons giving 0./1. tensors, identity hash (compare.c) */
PyObject *pg_richcompare(PyObject *self, PyObject *other, int op);
Py_hash_t pg_tensor_hash(PyObject *self);
/* adds _install_tensor_methods to the module (tensor_ext.c) */
int pg_tensor_ext_init(PyObject *m);
/* "name(sig)\n--\n\n" docstrings for the module's C functions (signatures.c) */
int pg_sign_functions(PyObject *m);

/* modules, optimisers, model families */
int pg_module_init_types(PyObject *m);
int pg_optim_init_types(PyObject *m);
int pg_lm_init_types(PyObject *m);
int pg_models_init_types(PyObject *m);
int pg_diffusion_init_types(PyObject *m);

#endif
