/* Checkpoints: parameters, optimiser moments, the model config and the training state in
 * one safetensors file, written atomically, and read back with every name, shape and
 * field checked (see include/genc/train.h for the layout). */
#include "genc/genc.h"
#include "genc/fp8_weights.h"
#include "genc/train.h"

#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(sizeof(genc_real) == sizeof(float), "checkpoints are written from the float build");

static char *state_json(const genc_train_state *s) {
    char seed[32], off[32], dseed[32];
    snprintf(seed, sizeof seed, "%" PRIu64, s->rng_seed);
    snprintf(off, sizeof off, "%" PRIu64, s->rng_offset);
    snprintf(dseed, sizeof dseed, "%" PRIu64, s->data_seed);
    json_t *o = json_pack("{s:I, s:I, s:I, s:s, s:s, s:s, s:f}", "step", (json_int_t)s->step, "epoch",
                          (json_int_t)s->epoch, "pos", (json_int_t)s->pos, "data_seed", dseed, "rng_seed", seed,
                          "rng_offset", off, "best_metric", isfinite(s->best_metric) ? s->best_metric : 1e300);
    char *txt = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    return txt;
}

static char *optim_json(const genc_optim *o) {
    const genc_optim_config *c = &o->cfg;
    json_t *j = json_pack("{s:s, s:I, s:f, s:f, s:f, s:f, s:f, s:f}", "kind", c->kind == GENC_OPT_ADAMW ? "adamw" : "sgd",
                          "step", (json_int_t)o->step, "lr", c->lr, "beta1", c->beta1, "beta2", c->beta2, "eps",
                          c->eps, "momentum", c->momentum, "weight_decay", c->weight_decay);
    char *txt = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(j);
    return txt;
}

static genc_status add_moments(genc_st_writer *w, const genc_params *p, const genc_optim *o) {
    char name[160];
    genc_dtype dt = o->cfg.moments_bf16 ? GENC_DT_BF16 : GENC_DT_F32; /* BF16 moments are exact in BF16 */
    for (int i = 0; i < p->n; i++) {
        const genc_tensor *t = p->t[i];
        snprintf(name, sizeof name, "optim.m.%s", t->name);
        genc_status s = genc_st_writer_add_f32(w, name, dt, t->ndim, t->shape, (const float *)o->m[i]);
        if (s || !o->v[i]) {
            if (s) return s;
            continue;
        }
        snprintf(name, sizeof name, "optim.v.%s", t->name);
        if ((s = genc_st_writer_add_f32(w, name, dt, t->ndim, t->shape, (const float *)o->v[i]))) return s;
    }
    return GENC_OK;
}

genc_status genc_checkpoint_save(genc_ctx *ctx, const char *path, const genc_params *p, const genc_optim *optim,
                                 const char *config_json, const genc_train_state *state, genc_ckpt_extra_fn extra,
                                 void *extra_user) {
    int64_t at;
    const genc_tensor *bad = genc_params_nonfinite(p, &at);
    if (bad) /* a diverged model never replaces a good file */
        return genc_error(ctx, GENC_EINVAL, "%s: not saved: parameter \"%s\" is %g at index %lld (the model diverged)",
                          path, bad->name, (double)bad->data[at], (long long)at);
    genc_st_writer *w = genc_st_writer_new(ctx);
    if (!w) return genc_ctx_status(ctx);
    genc_status s = genc_st_writer_meta(w, "format", "genc-1");
    if (!s && config_json) s = genc_st_writer_meta(w, "config", config_json);
    for (int i = 0; !s && i < p->n; i++) {
        const genc_tensor *t = p->t[i];
        GENC_ASSERT(genc_is_contiguous(t));
        s = genc_st_writer_add_f32(w, t->name, GENC_DT_F32, t->ndim, t->shape, (const float *)t->data);
    }
    char *oj = NULL, *sj = NULL;
    if (!s && optim) {
        oj = optim_json(optim);
        s = oj ? genc_st_writer_meta(w, "optim", oj) : genc_error(ctx, GENC_ENOMEM, "out of memory");
        if (!s) s = add_moments(w, p, optim);
    }
    if (!s && state) {
        sj = state_json(state);
        s = sj ? genc_st_writer_meta(w, "train_state", sj) : genc_error(ctx, GENC_ENOMEM, "out of memory");
    }
    if (!s && extra) s = extra(ctx, extra_user, w);
    if (!s) s = genc_st_writer_save(w, path);
    free(oj);
    free(sj);
    genc_st_writer_free(w);
    return s;
}

/* Side-car tensors, optimiser moments and FP8 block scales: in a checkpoint but not parameters. */
static bool is_side_car(const char *name) {
    char base[256];
    return !strncmp(name, "tokenizer.", 10) || !strncmp(name, "extra.", 6) || !strncmp(name, "optim.m.", 8) ||
           !strncmp(name, "optim.v.", 8) || genc_fp8_scale_of(name, base, sizeof base);
}

void genc_checkpoint_param_budget(genc_ctx *ctx, const genc_st *st) {
    int64_t values = 0;
    for (int i = 0; i < genc_st_count(st); i++) {
        const genc_st_entry *e = genc_st_at(st, i);
        if (!is_side_car(e->name)) values += (int64_t)((e->end - e->begin) / genc_dtype_size(e->dtype));
    }
    genc_param_budget(ctx, values, genc_st_label(st));
}

/* Every tensor in the file must be a parameter, an optimiser moment of one or the block
 * scales of an F8_E4M3 one (fp8_weights.h). */
static genc_status check_no_extra(genc_ctx *ctx, const genc_st *st, const genc_params *p) {
    for (int i = 0; i < genc_st_count(st); i++) {
        const char *name = genc_st_at(st, i)->name, *base = name;
        char weight[256];
        if (!strncmp(name, "tokenizer.", 10) || !strncmp(name, "extra.", 6)) continue; /* side-car */
        if (!strncmp(name, "optim.m.", 8) || !strncmp(name, "optim.v.", 8)) base = name + 8;
        const genc_st_entry *w = genc_fp8_scale_of(name, weight, sizeof weight) ? genc_st_find(st, weight) : NULL;
        if (w && w->dtype == GENC_DT_F8_E4M3) base = weight;
        if (!genc_params_find(p, base))
            return genc_error(ctx, GENC_EFORMAT, "%s: tensor \"%s\" is not a parameter of this model", genc_st_label(st),
                              name);
    }
    return GENC_OK;
}

static genc_status load_optim(genc_ctx *ctx, const genc_st *st, const genc_params *p, genc_optim *o) {
    const char *txt = genc_st_meta(st, "optim");
    if (!txt) return genc_error(ctx, GENC_EFORMAT, "%s: no optimiser state (metadata \"optim\") to resume from", genc_st_label(st));
    json_error_t err;
    json_t *j = json_loads(txt, 0, &err);
    const char *kind = NULL;
    json_int_t step = -1;
    if (!j || json_unpack(j, "{s:s, s:I}", "kind", &kind, "step", &step) || step < 0) {
        json_decref(j);
        return genc_error(ctx, GENC_EFORMAT, "%s: metadata \"optim\" is not a valid optimiser record", genc_st_label(st));
    }
    bool adamw = !strcmp(kind, "adamw");
    json_decref(j);
    if (adamw != (o->cfg.kind == GENC_OPT_ADAMW))
        return genc_error(ctx, GENC_EINVAL, "%s: the checkpoint's optimiser differs from the one requested", genc_st_label(st));
    o->step = step;
    char name[160];
    for (int i = 0; i < p->n; i++) {
        const genc_tensor *t = p->t[i];
        snprintf(name, sizeof name, "optim.m.%s", t->name);
        genc_status s = genc_st_read_f32(ctx, st, name, (float *)o->m[i], t->ndim, t->shape);
        if (s) return s;
        if (!o->v[i]) continue;
        snprintf(name, sizeof name, "optim.v.%s", t->name);
        if ((s = genc_st_read_f32(ctx, st, name, (float *)o->v[i], t->ndim, t->shape))) return s;
    }
    return GENC_OK;
}

static genc_status parse_u64(const char *s, uint64_t *out) {
    char *end;
    if (!s || !*s) return GENC_EFORMAT;
    *out = strtoull(s, &end, 10);
    return *end ? GENC_EFORMAT : GENC_OK;
}

static genc_status load_state(genc_ctx *ctx, const genc_st *st, genc_train_state *s) {
    const char *txt = genc_st_meta(st, "train_state");
    json_error_t err;
    json_t *j = txt ? json_loads(txt, 0, &err) : NULL;
    json_int_t step, epoch, pos;
    const char *seed, *off, *dseed;
    double best;
    int bad = !j || json_unpack(j, "{s:I, s:I, s:I, s:s, s:s, s:s, s:F}", "step", &step, "epoch", &epoch, "pos",
                                &pos, "data_seed", &dseed, "rng_seed", &seed, "rng_offset", &off, "best_metric", &best);
    if (!bad) {
        s->step = step, s->epoch = epoch, s->pos = pos, s->best_metric = best;
        bad = step < 0 || epoch < 0 || pos < 0 || parse_u64(seed, &s->rng_seed) || parse_u64(off, &s->rng_offset) ||
              parse_u64(dseed, &s->data_seed);
    }
    json_decref(j);
    if (bad)
        return genc_error(ctx, GENC_EFORMAT, "%s: metadata \"train_state\" is %s", genc_st_label(st),
                          txt ? "not a valid training state" : "missing (not a training checkpoint)");
    return GENC_OK;
}

genc_status genc_checkpoint_resume(genc_ctx *ctx, const char *path, const char *config_json, const genc_params *p,
                                   genc_optim *optim, genc_train_state *state) {
    genc_st *f;
    genc_status s = genc_st_open(ctx, path, &f);
    if (s) return s;
    const char *have = genc_st_meta(f, "config");
    if (!have || !config_json || strcmp(have, config_json))
        s = genc_error(ctx, GENC_EINVAL, "%s: the checkpoint's model config %s differs from the flags' %s (resume with "
                       "the same flags)", path, have ? have : "(missing)", config_json ? config_json : "(none)");
    if (!s) s = genc_checkpoint_load(ctx, f, p, optim, state);
    genc_st_close(f);
    return s;
}

genc_status genc_checkpoint_load(genc_ctx *ctx, const genc_st *st, const genc_params *p, genc_optim *optim,
                                 genc_train_state *state) {
    genc_status s = check_no_extra(ctx, st, p);
    for (int i = 0; !s && i < p->n; i++) {
        genc_tensor *t = p->t[i];
        s = genc_fp8_weights_read(ctx, st, t->name, (float *)t->data, t->ndim, t->shape);
    }
    int64_t at;
    const genc_tensor *bad = s ? NULL : genc_params_nonfinite(p, &at);
    if (bad)
        s = genc_error(ctx, GENC_EFORMAT, "%s: tensor \"%s\" holds %g at index %lld: the weights are not finite (a "
                       "diverged run?), refusing to use them", genc_st_label(st), bad->name, (double)bad->data[at],
                       (long long)at);
    if (!s && optim) s = load_optim(ctx, st, p, optim);
    if (!s && state) s = load_state(ctx, st, state);
    return s;
}
