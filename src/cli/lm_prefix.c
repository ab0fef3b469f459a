/* genc lm prefix-tune: prefix-tuning of a frozen language-model checkpoint (prefix.h) on
 * JSON-lines {"input": ..., "output": ...} examples (loss on the output tokens and <|eos|>
 * only), or with --full fine-tuning of every parameter (a full checkpoint out), and an
 * evaluation of greedy generations on held-out examples: exact match and corpus BLEU-4
 * (whitespace tokens, clipped n-gram precisions 1..4, geometric mean, brevity penalty, no
 * smoothing; 0 when some precision is 0), with the trained-parameter fraction and time. */
#include "cli/cli.h"
#include "cli/lm_common.h"
#include "genc/prefix.h"
#include "genc/train.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *checkpoint, *data, *out, *eval, *prefix, *init_words;
    int64_t len, reparam, steps, batch, seed, threads, max_new, limit;
    double lr, init_std;
    bool full, eval_only;
} pt_args;

/* A batch of B examples drawn from Philox(seed, step): inputs [B, T] (right-padded), targets
 * [B * T] (-1 on input positions and padding). Returns T. */
static int64_t make_batch(const genc_lm_examples *e, uint64_t seed, int64_t step, int64_t B, int32_t *in, int32_t *tgt,
                          int64_t maxT) {
    int64_t T = 1, pick[256];
    for (int64_t j = 0; j < B; j++) {
        pick[j] = (int64_t)(genc_philox_u32(seed, (uint64_t)(step * B + j)) % (uint32_t)e->n);
        T = e->ex[pick[j]].n - 1 > T ? e->ex[pick[j]].n - 1 : T;
    }
    T = T < maxT ? T : maxT;
    for (int64_t j = 0; j < B; j++) {
        const genc_lm_example *x = &e->ex[pick[j]];
        for (int64_t t = 0; t < T; t++) {
            bool real = t + 1 < x->n;
            in[j * T + t] = real ? x->ids[t] : 0;
            tgt[j * T + t] = real && t + 1 >= x->n_in ? x->ids[t + 1] : -1;
        }
    }
    return T;
}

typedef struct {
    genc_lm *m;
    genc_lm_prefix_train *t; /* NULL: --full */
    genc_tensor **ckv, **kpe;
} trainee;

/* One optimiser step's loss on a batch (graph built, backward done). */
static genc_status train_step(genc_ctx *ctx, trainee *tr, const genc_lm_examples *e, const pt_args *a, int64_t step,
                              int32_t *in, int32_t *tgt, double *loss) {
    int64_t L = tr->t ? tr->t->len : 0;
    int64_t T = make_batch(e, (uint64_t)a->seed, step, a->batch, in, tgt, tr->m->cfg.max_seq - L);
    genc_status s = tr->t ? genc_lm_prefix_train_latents(ctx, tr->m, tr->t, tr->ckv, tr->kpe) : GENC_OK;
    genc_tensor *logits = s ? NULL : genc_lm_prefix_logits(ctx, tr->m, tr->t ? tr->ckv : NULL, tr->t ? tr->kpe : NULL,
                                                           in, a->batch, T);
    genc_tensor *l = genc_cross_entropy(ctx, logits, tgt, -1);
    if (!l) return genc_ctx_status(ctx);
    *loss = l->data[0];
    return genc_backward(ctx, l);
}

static genc_status train(genc_ctx *ctx, trainee *tr, const genc_params *p, const genc_lm_examples *e, const pt_args *a) {
    genc_optim_config oc = genc_optim_defaults(GENC_OPT_ADAMW);
    oc.lr = a->lr, oc.weight_decay = 0;
    genc_optim o;
    int64_t maxT = tr->m->cfg.max_seq;
    int32_t *in = malloc((size_t)(a->batch * maxT) * sizeof *in), *tgt = malloc((size_t)(a->batch * maxT) * sizeof *tgt);
    genc_status s = !in || !tgt ? genc_error(ctx, GENC_ENOMEM, "out of memory for a batch") : GENC_OK;
    if (!s) s = genc_optim_init(ctx, &o, p, &oc);
    double loss = 0, avg = 0;
    genc_cli_polling = 1;
    for (int64_t step = 0; !s && step < a->steps && !genc_cli_stop; step++) {
        genc_zero_grad(p);
        s = train_step(ctx, tr, e, a, step, in, tgt, &loss);
        if (!s) genc_clip_grad_norm(p, 1.0), genc_optim_step(&o, a->lr);
        genc_step_reset(ctx);
        avg = step ? 0.95 * avg + 0.05 * loss : loss;
        if (!s && ((step + 1) % 50 == 0 || step + 1 == a->steps))
            fprintf(stderr, "step %lld/%lld  loss %.4f (avg %.4f)\n", (long long)step + 1, (long long)a->steps, loss, avg);
    }
    genc_cli_polling = 0;
    if (!s) genc_optim_free(&o);
    free(in), free(tgt);
    return s;
}

/* ---- evaluation ---- */

static int split_words(char *s, char **w, int cap) {
    int n = 0;
    for (char *t = strtok(s, " \t\n"); t && n < cap; t = strtok(NULL, " \t\n")) w[n++] = t;
    return n;
}

/* Clipped matches of n-grams of hyp in ref (counts in match[n-1], totals in total[n-1]). */
static void ngram_counts(char **h, int nh, char **r, int nr, double *match, double *total) {
    for (int n = 1; n <= 4; n++)
        for (int i = 0; i + n <= nh; i++) {
            int in_h = 0, in_r = 0, first = 1;
            for (int j = 0; j + n <= nh; j++) { /* count of this n-gram in h; count only at its first occurrence */
                int eq = 1;
                for (int k = 0; k < n && eq; k++) eq = !strcmp(h[i + k], h[j + k]);
                in_h += eq, first = first && !(eq && j < i);
            }
            for (int j = 0; j + n <= nr; j++) {
                int eq = 1;
                for (int k = 0; k < n && eq; k++) eq = !strcmp(h[i + k], r[j + k]);
                in_r += eq;
            }
            total[n - 1] += 1;
            if (first) match[n - 1] += in_h < in_r ? in_h : in_r;
        }
}

static double corpus_bleu(const double *match, const double *total, double hyp_len, double ref_len) {
    double logp = 0;
    for (int n = 0; n < 4; n++) {
        if (match[n] <= 0 || total[n] <= 0) return 0;
        logp += 0.25 * log(match[n] / total[n]);
    }
    double bp = hyp_len < ref_len ? exp(1 - ref_len / (hyp_len > 0 ? hyp_len : 1e-9)) : 1;
    return 100 * bp * exp(logp);
}

typedef struct {
    int64_t exact, n;
    double match[4], total[4], hyp_len, ref_len;
} scores;

static void score_one(scores *sc, const char *hyp, const char *ref) {
    char *h = strdup(hyp), *r = strdup(ref), *hw[512], *rw[512];
    if (!h || !r) return free(h), free(r);
    sc->exact += !strcmp(hyp, ref), sc->n++;
    int nh = split_words(h, hw, 512), nr = split_words(r, rw, 512);
    ngram_counts(hw, nh, rw, nr, sc->match, sc->total);
    sc->hyp_len += nh, sc->ref_len += nr;
    free(h), free(r);
}

/* Greedy generations for every held-out input, 32 rows at a time, all with prefix p (or none). */
static genc_status evaluate(genc_ctx *ctx, genc_lm *m, genc_tokenizer *tok, const genc_lm_prefix *p,
                            const genc_lm_examples *e, const pt_args *a, scores *sc) {
    enum { CHUNK = 32 };
    const int32_t *prompts[CHUNK];
    const genc_lm_prefix *pre[CHUNK];
    int64_t plen[CHUNK];
    genc_gen_config cf = {.max_new = a->max_new, .sampler = {0, 0, 1}, .eos_id = genc_tokenizer_special(tok, "<|eos|>"),
                          .pad_id = 0, .tok = tok};
    genc_status s = GENC_OK;
    memset(sc, 0, sizeof *sc);
    for (int64_t i0 = 0; !s && i0 < e->n; i0 += CHUNK) {
        int64_t nb = e->n - i0 < CHUNK ? e->n - i0 : CHUNK;
        for (int64_t j = 0; j < nb; j++) prompts[j] = e->ex[i0 + j].ids, plen[j] = e->ex[i0 + j].n_in, pre[j] = p;
        genc_gen_result r;
        s = genc_lm_prefix_generate(ctx, m, pre, prompts, plen, nb, &cf, &r);
        for (int64_t j = 0; !s && j < nb; j++) score_one(sc, (const char *)r.text[j], e->ex[i0 + j].output);
        if (!s && i0 == 0)
            printf("first held-out: want \"%s\", got \"%s\"\n", e->ex[0].output, r.text[0] ? (const char *)r.text[0] : "");
        if (!s) genc_gen_result_free(&r);
    }
    return s;
}

static genc_status save_tokenizer(genc_ctx *ctx, void *user, genc_st_writer *w) {
    return genc_tokenizer_add_to(user, ctx, w);
}

/* The initial prefix from --init-words (P itself with --reparam 0, else the MLP fitted to it). */
static genc_status words_prefix(genc_ctx *ctx, genc_lm *m, genc_tokenizer *tok, const pt_args *a, genc_lm_prefix *p) {
    int32_t *ids = NULL;
    size_t n = 0;
    genc_status s = genc_lm_prefix_new(ctx, m, a->len, p);
    if (!s) s = genc_tokenizer_encode(tok, ctx, (const uint8_t *)a->init_words, strlen(a->init_words), true, &ids, &n);
    if (!s) s = genc_lm_prefix_from_tokens(ctx, m, ids, (int64_t)n, p);
    free(ids);
    return s;
}

/* Prefix-tune (base frozen) or, with --full, fine-tune everything; *pre gets the prefix. */
static genc_status tune(genc_ctx *ctx, genc_lm *m, genc_tokenizer *tok, const genc_lm_examples *e, const pt_args *a,
                        genc_lm_prefix *pre, int64_t *n_trained) {
    genc_lm_prefix init = {0};
    genc_lm_prefix_train t = {0};
    genc_tensor **lat = calloc((size_t)m->cfg.n_layers * 2, sizeof *lat);
    trainee tr = {m, a->full ? NULL : &t, lat, lat ? lat + m->cfg.n_layers : NULL};
    genc_status s = lat ? GENC_OK : genc_error(ctx, GENC_ENOMEM, "out of memory");
    if (!s && !a->full && a->init_words) s = words_prefix(ctx, m, tok, a, &init);
    if (!s && !a->full) s = genc_lm_prefix_train_init(ctx, m, a->len, a->reparam, a->init_std,
                                                      a->init_words ? &init : NULL, &t);
    for (int i = 0; !s && !a->full && i < m->params.n; i++) m->params.t[i]->requires_grad = false; /* frozen */
    *n_trained = a->full ? genc_params_numel(&m->params) : genc_params_numel(&t.params);
    if (!s) s = train(ctx, &tr, a->full ? &m->params : &t.params, e, a);
    if (!s && !a->full) s = genc_lm_prefix_train_export(ctx, m, &t, pre);
    genc_step_reset(ctx);
    genc_lm_prefix_train_free(&t);
    genc_lm_prefix_free(&init);
    free(lat);
    return s;
}

static genc_status save_result(genc_ctx *ctx, genc_lm *m, genc_tokenizer *tok, const genc_lm_prefix *pre,
                               const pt_args *a) {
    if (!a->full) return genc_lm_prefix_save(ctx, m, pre, a->out);
    char *cfg = genc_lm_config_json(&m->cfg);
    genc_status s = cfg ? genc_checkpoint_save(ctx, a->out, &m->params, NULL, cfg, NULL, save_tokenizer, tok)
                        : genc_error(ctx, GENC_ENOMEM, "out of memory");
    free(cfg);
    return s;
}

static genc_status report(genc_ctx *ctx, genc_lm *m, genc_tokenizer *tok, const genc_lm_prefix *pre,
                          const pt_args *a, int64_t n_trained, double seconds) {
    genc_lm_examples test = {0};
    scores sc;
    genc_status s = a->eval ? genc_lm_examples_load(ctx, tok, a->eval, 0, &test) : GENC_OK;
    if (!s && a->eval) s = evaluate(ctx, m, tok, pre, &test, a, &sc);
    int64_t total = genc_params_numel(&m->params);
    if (!s && a->eval)
        printf("eval %s: exact match %lld/%lld = %.1f%%, BLEU-4 %.1f\n", a->eval, (long long)sc.exact, (long long)sc.n,
               100.0 * (double)sc.exact / (double)sc.n, corpus_bleu(sc.match, sc.total, sc.hyp_len, sc.ref_len));
    if (!s && !a->eval_only)
        printf("trained %lld of %lld parameters (%.4f%%) in %.1f s\n", (long long)n_trained, (long long)total,
               100.0 * (double)n_trained / (double)total, seconds);
    if (!s && pre && !a->eval_only) {
        int64_t kept = pre->n_layers * pre->len * (pre->rank + pre->rope);
        printf("stored prefix: %lld numbers (%.4f%% of the base)\n", (long long)kept, 100.0 * (double)kept / (double)total);
    }
    genc_lm_examples_free(&test);
    return s;
}

static genc_status run_prefix(genc_ctx *ctx, void *args) {
    const pt_args *a = args;
    genc_lm m = {0};
    genc_tokenizer *tok = NULL;
    genc_lm_prefix pre = {0};
    genc_lm_examples train_set = {0};
    int64_t n_trained = 0;
    double t0 = 0, secs = 0;
    genc_status s = genc_lm_load(ctx, a->checkpoint, true, &m, &tok);
    uint64_t hash = s ? 0 : genc_lm_param_hash(&m);
    if (!s && a->prefix) s = genc_lm_prefix_load(ctx, a->prefix, &m, &pre);
    if (!s && !a->eval_only) s = genc_lm_examples_load(ctx, tok, a->data, a->limit, &train_set);
    t0 = genc_now();
    if (!s && !a->eval_only) s = tune(ctx, &m, tok, &train_set, a, &pre, &n_trained);
    secs = genc_now() - t0;
    if (!s && !a->full && genc_lm_param_hash(&m) != hash)
        s = genc_error(ctx, GENC_EINVAL, "prefix-tune: the frozen base model changed (a bug)");
    if (!s && !a->eval_only) s = save_result(ctx, &m, tok, &pre, a);
    if (!s) s = report(ctx, &m, tok, pre.data ? &pre : NULL, a, n_trained, secs);
    genc_lm_examples_free(&train_set);
    genc_lm_prefix_free(&pre);
    genc_tokenizer_free(tok);
    if (m.blocks) genc_lm_free(&m);
    return s;
}

/* Flag relations the parser cannot check; one line naming the flag. */
static int check_args(const pt_args *a) {
    const char *bad = !a->checkpoint ? "--checkpoint is required"
        : a->eval_only && !a->eval ? "--eval-only needs --eval FILE"
        : !a->eval_only && (!a->data || !a->out) ? "--data and --out are required to train"
        : !a->eval_only && a->prefix ? "--prefix FILE is only for --eval-only (training starts a new prefix)"
        : a->eval_only && a->full ? "--full trains; it does not go with --eval-only"
        : a->out && !strcmp(a->out, a->checkpoint) ? "--out must differ from --checkpoint (the base stays untouched)"
        : NULL;
    if (bad) fprintf(stderr, "genc: error: lm prefix-tune: %s\n", bad);
    return bad != NULL;
}

int genc_cli_lm_prefix_tune(int argc, char **argv) {
    pt_args a = {.len = 10, .reparam = 512, .steps = 300, .batch = 8, .seed = 0, .max_new = 64, .lr = 5e-3,
                 .init_std = 1.0};
    genc_flag flags[] = {
        {"checkpoint", FLAG_STRING, &a.checkpoint, "base model checkpoint (never modified)"},
        {"data", FLAG_STRING, &a.data, "training examples, JSON lines {\"input\": ..., \"output\": ...}"},
        {"limit", FLAG_INT, &a.limit, "use only the first N training examples (0: all)", 0, 1e12},
        {"out", FLAG_STRING, &a.out, "output: the prefix (safetensors), or with --full a full checkpoint"},
        {"prefix-len", FLAG_INT, &a.len, "prefix length L (latent slots per layer)", 1, 1 << 20},
        {"reparam", FLAG_INT, &a.reparam, "hidden size k of the reparameterisation MLP (0: train P directly)", 0, 1 << 20},
        {"init-words", FLAG_STRING, &a.init_words, "initialise P from the latents of the last L tokens of these words "
                                                    "(with the MLP: its output fitted to them)"},
        {"init-std", FLAG_DOUBLE, &a.init_std, "std of the random initial P (direct) or MLP output scale "
                                                "(0: P starts at zero)", 0, 100},
        {"full", FLAG_BOOL, &a.full, "fine-tune every parameter instead (baseline); --out gets a full checkpoint"},
        {"steps", FLAG_INT, &a.steps, "optimiser steps", 0, 1e12},
        {"batch", FLAG_INT, &a.batch, "examples per step", 1, 256},
        {"lr", FLAG_DOUBLE, &a.lr, "AdamW learning rate (constant, no weight decay, gradient clip 1)", 1e-9, 10},
        {"seed", FLAG_INT, &a.seed, "seed of initialisation and batches", 0, 9.2e18},
        {"eval", FLAG_STRING, &a.eval, "held-out JSON lines: greedy exact match and BLEU-4 after training"},
        {"eval-only", FLAG_BOOL, &a.eval_only, "no training: evaluate the checkpoint (with --prefix FILE if given)"},
        {"prefix", FLAG_STRING, &a.prefix, "with --eval-only: a prefix file for the checkpoint"},
        {"max-new", FLAG_INT, &a.max_new, "tokens generated per held-out input at most", 1, 1 << 20},
        GENC_THREADS_FLAG_ENTRY(a),
    };
    int r = genc_flags_parse("lm prefix-tune", "Prefix-tune a frozen language model on input/output examples.", flags,
                             (int)(sizeof flags / sizeof *flags), argc, argv);
    if (r) return r == 1 ? 0 : 2;
    if (check_args(&a)) return 2;
    return genc_cli_run(a.threads, a.seed, run_prefix, &a);
}
