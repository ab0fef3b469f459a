/* genc lm prefix-tune: prefix-tuning of a frozen language-model checkpoint (prefix.h) on
 * JSON-lines {"input": ..., "output": ...} examples (loss on the output tokens and <|eos|>
 * only), or with --full fine-tuning of every parameter (a full checkpoint out), and an
 * evaluation of greedy generations on held-out examples: exact match and corpus BLEU-4
 * (whitespace tokens, clipped n-gram precisions 1..4, geometric mean, brevity penalty, no
 * smoothing; 0 when some precision is 0), with the trained-parameter fraction and time. */
#include "cli/cli.h"
#include "cli/lm_common.h"
#include "genc/prefix.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *checkpoint, *data, *out, *eval, *prefix, *init_words;
    const char *schedule;
    int64_t len, reparam, steps, batch, seed, threads, max_new, limit, warmup;
    double lr, min_lr, clip, init_std;
    bool full, eval_only;
} pt_args;

/* Every 50 steps and at the end, the step's loss and the running average. */
static void on_step(void *user, int64_t step, int64_t steps, double loss, double avg) {
    if (step % 50 == 0 || step == steps)
        fprintf(stderr, "step %lld/%lld  loss %.4f (avg %.4f)\n", (long long)step, (long long)steps, loss, avg);
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

/* Prefix-tune (base frozen) or, with --full, fine-tune everything; *pre gets the prefix. */
static genc_status tune(genc_ctx *ctx, genc_lm *m, genc_tokenizer *tok, const genc_lm_examples *e, const pt_args *a,
                        genc_lm_prefix *pre, int64_t *n_trained) {
    genc_lm_prefix_tune_config c = genc_lm_prefix_tune_defaults();
    c.len = a->len, c.reparam = a->reparam, c.init_words = a->init_words, c.init_std = a->init_std, c.full = a->full;
    c.steps = a->steps, c.batch = a->batch, c.seed = (uint64_t)a->seed, c.lr = a->lr, c.min_lr = a->min_lr;
    c.warmup = a->warmup, c.clip = a->clip, c.stop = &genc_cli_stop, c.on_step = on_step;
    genc_status s = genc_schedule_parse(ctx, a->schedule, &c.schedule);
    genc_cli_polling = 1; /* Ctrl-C stops after the step; the prefix so far is saved */
    if (!s) s = genc_lm_prefix_tune(ctx, m, tok, e, &c, pre, n_trained);
    genc_cli_polling = 0;
    return s;
}

static genc_status save_result(genc_ctx *ctx, genc_lm *m, genc_tokenizer *tok, const genc_lm_prefix *pre,
                               const pt_args *a) {
    if (!a->full) return genc_lm_prefix_save(ctx, m, pre, a->out);
    return genc_lm_save(ctx, a->out, m, tok, NULL);
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
    genc_lm_prefix_tune_config d = genc_lm_prefix_tune_defaults(); /* seed 1, as every verb */
    pt_args a = {.len = d.len, .reparam = d.reparam, .steps = d.steps, .batch = d.batch, .seed = (int64_t)d.seed,
                 .max_new = 64, .lr = d.lr, .min_lr = d.min_lr, .clip = d.clip, .warmup = d.warmup,
                 .schedule = "constant", .init_std = d.init_std};
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
        {"lr", FLAG_DOUBLE, &a.lr, "AdamW learning rate (peak of --schedule; no weight decay)", 1e-9, 10},
        {"schedule", FLAG_STRING, &a.schedule, "learning-rate schedule (after --warmup)", .choices = "constant|cosine"},
        {"min-lr", FLAG_DOUBLE, &a.min_lr, "final learning rate of the cosine schedule", 0, 10},
        {"warmup", FLAG_INT, &a.warmup, "linear warm-up steps", 0, 1e12},
        {"clip", FLAG_DOUBLE, &a.clip, "global gradient-norm clip (0: off)", 0, 1e9},
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
