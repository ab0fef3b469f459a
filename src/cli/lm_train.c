/* genc lm train: train a DeepSeek-V3-architecture language model on text files. Every
 * config field has a flag that overrides the preset; the tokenizer is trained on the data
 * when none is given, and travels inside the checkpoint. */
#include "cli/cli.h"
#include "cli/lm_common.h"
#include "genc/png.h"
#include "genc/train.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Model flags: -1 (or NaN, or NULL) means "as the preset says". */
typedef struct {
    const char *preset, *score, *balance, *seq_aux;
    int64_t vocab, dim, layers, heads, max_seq, q_lora, kv_lora, nope, rope, v, dense_layers, dense_inter;
    int64_t experts, shared, active, moe_inter, groups, topk_groups, mtp;
    double theta, route_scale, gamma, alpha, mtp_lambda;
} model_flags;

static void set_i(int *dst, int64_t v) { if (v >= 0) *dst = (int)v; }
static void set_d(double *dst, double v) { if (!isnan(v)) *dst = v; }

static genc_status apply_model_flags(genc_ctx *ctx, const model_flags *f, genc_lm_config *c) {
    genc_status s = genc_lm_preset(ctx, f->preset, c);
    if (s) return s;
    set_i(&c->vocab_size, f->vocab), set_i(&c->dim, f->dim), set_i(&c->n_layers, f->layers);
    set_i(&c->n_heads, f->heads), set_i(&c->max_seq, f->max_seq), set_i(&c->q_lora_rank, f->q_lora);
    set_i(&c->kv_lora_rank, f->kv_lora), set_i(&c->qk_nope_dim, f->nope), set_i(&c->qk_rope_dim, f->rope);
    set_i(&c->v_dim, f->v), set_i(&c->n_dense_layers, f->dense_layers), set_i(&c->dense_inter, f->dense_inter);
    set_i(&c->n_routed, f->experts), set_i(&c->n_shared, f->shared), set_i(&c->n_active, f->active);
    set_i(&c->moe_inter, f->moe_inter), set_i(&c->n_groups, f->groups), set_i(&c->topk_groups, f->topk_groups);
    set_i(&c->mtp_depth, f->mtp);
    set_d(&c->rope_theta, f->theta), set_d(&c->route_scale, f->route_scale), set_d(&c->bias_gamma, f->gamma);
    set_d(&c->aux_alpha, f->alpha), set_d(&c->mtp_lambda, f->mtp_lambda);
    if (f->score) {
        if (strcmp(f->score, "sigmoid") && strcmp(f->score, "softmax"))
            return genc_error(ctx, GENC_EINVAL, "--score: expected sigmoid or softmax, found \"%s\"", f->score);
        c->score = strcmp(f->score, "softmax") ? GENC_SCORE_SIGMOID : GENC_SCORE_SOFTMAX;
    }
    if (f->balance) {
        if (!strcmp(f->balance, "aux_free")) c->balance = GENC_BAL_AUX_FREE;
        else if (!strcmp(f->balance, "aux_loss")) c->balance = GENC_BAL_AUX_LOSS;
        else if (!strcmp(f->balance, "none")) c->balance = GENC_BAL_NONE;
        else return genc_error(ctx, GENC_EINVAL, "--balance: expected aux_free, aux_loss or none, found \"%s\"", f->balance);
        if (c->balance == GENC_BAL_AUX_LOSS && isnan(f->alpha)) c->aux_alpha = 0.01; /* the classic auxiliary loss */
    }
    if (f->seq_aux) c->seq_aux = !strcmp(f->seq_aux, "true");
    return genc_lm_config_check(ctx, c);
}

typedef struct {
    genc_lm *m;
    const genc_lm_corpus *corpus;
    int64_t B, T, eval_tokens, eval_batch;
    uint64_t seed;
    int32_t *batch;
    genc_metrics *log;
    genc_lm_losses last;
    double t_last;
} lm_job;

static genc_tensor *step_loss(genc_ctx *ctx, void *user, genc_train_state *st, double *items) {
    lm_job *j = user;
    genc_lm_windows(j->corpus, j->seed, st->step, j->B, j->T, j->batch);
    *items = (double)(j->B * j->T);
    if (genc_lm_forward_train(ctx, j->m, j->batch, j->B, j->T, &j->last)) return NULL;
    return j->last.total;
}

/* After the update: the balancing bias step, and per-step MoE/MTP metrics. */
static genc_status after_step(genc_ctx *ctx, void *user, genc_train_state *st) {
    lm_job *j = user;
    genc_lm_update_bias(j->m);
    json_t *o = json_pack("{s:s, s:I, s:f}", "event", "lm", "step", (json_int_t)st->step, "main_loss",
                          (double)j->last.main->data[0]);
    json_t *vio = json_array(), *mtp = json_array();
    for (int l = 0; l < j->m->cfg.n_layers; l++)
        if (j->m->blocks[l].router) json_array_append_new(vio, json_real(genc_lm_maxvio(j->m, l)));
    for (int k = 0; k < j->m->cfg.mtp_depth; k++) json_array_append_new(mtp, json_real(j->last.mtp[k]->data[0]));
    json_object_set_new(o, "maxvio", vio);
    json_object_set_new(o, "mtp_loss", mtp);
    double now = genc_now();
    if (j->t_last > 0) json_object_set_new(o, "tokens_per_s", json_real((double)(j->B * j->T) / (now - j->t_last)));
    j->t_last = now;
    return genc_metrics_log_json(j->log, o);
}

static genc_status evaluate(genc_ctx *ctx, void *user, const genc_train_state *st, double *metric, genc_metrics *log) {
    lm_job *j = user;
    const genc_lm_corpus *c = j->corpus;
    int64_t n = c->n - c->n_train, count;
    if (j->eval_tokens > 0 && n > j->eval_tokens) n = j->eval_tokens;
    genc_status s = genc_lm_eval_loss(ctx, j->m, c->tokens + c->n_train, n, j->T, j->eval_batch, metric, &count);
    if (s) return s;
    return genc_metrics_log(log, "{s:s, s:I, s:f, s:f, s:I}", "event", "eval", "step", (json_int_t)st->step, "val_loss",
                            *metric, "val_ppl", exp(*metric), "val_tokens", (json_int_t)count);
}

typedef struct {
    const char *data, *tokenizer, *out, *docs, *precision, *fp8_promote, *optim_state;
    int64_t steps, batch, seq, warmup, eval_every, save_every, eval_tokens, seed, threads, stop_at, tok_vocab;
    double lr, min_lr, wd, beta2, clip, val_frac, init_std;
    bool resume;
} train_args;

/* --docs: what one document is; each is followed by <|eos|> in the token stream. */
static genc_status doc_separator(genc_ctx *ctx, const char *docs, const char **sep) {
    if (!strcmp(docs, "file")) *sep = NULL;
    else if (!strcmp(docs, "lines")) *sep = "\n";
    else if (!strcmp(docs, "paragraphs")) *sep = "\n\n";
    else return genc_error(ctx, GENC_EINVAL, "--docs: expected file, lines or paragraphs, found '%s'", docs);
    return GENC_OK;
}

static genc_status tokenizer_for(genc_ctx *ctx, const train_args *a, char **files, int n_files, genc_tokenizer **tok) {
    if (a->tokenizer) return genc_tokenizer_load(ctx, a->tokenizer, tok);
    printf("training a %lld-token BPE tokenizer on the data\n", (long long)a->tok_vocab);
    return genc_tokenizer_train(ctx, (const char *const *)files, n_files, (int)a->tok_vocab, tok);
}

static genc_status save_tokenizer(genc_ctx *ctx, void *user, genc_st_writer *w) {
    return genc_tokenizer_add_to(user, ctx, w);
}

typedef struct {
    train_args *a;
    model_flags *mf;
} run_args;

static genc_status run(genc_ctx *ctx, void *args) {
    train_args *a = ((run_args *)args)->a;
    model_flags *mf = ((run_args *)args)->mf;
    int n_files = 0;
    char **files = genc_cli_split_list(a->data, &n_files), ckpt[1024], mpath[1024], png[1024];
    genc_tokenizer *tok = NULL;
    genc_lm_corpus corpus = {0};
    genc_lm m = {0};
    genc_optim o = {0};
    genc_metrics *log = NULL;
    genc_lm_config c;
    genc_train_state st = {.data_seed = (uint64_t)a->seed, .best_metric = INFINITY};
    snprintf(ckpt, sizeof ckpt, "%s/checkpoint.safetensors", a->out);
    snprintf(mpath, sizeof mpath, "%s/metrics.jsonl", a->out);
    snprintf(png, sizeof png, "%s/loss.png", a->out);
    genc_status s = genc_cli_out_dir(ctx, a->out);
    if (!s && (!files || !n_files)) s = genc_error(ctx, GENC_EINVAL, "--data: expected text files, found \"%s\"", a->data);
    if (!s) s = apply_model_flags(ctx, mf, &c);
    if (!s) s = tokenizer_for(ctx, a, files, n_files, &tok);
    if (!s && mf->vocab < 0) c.vocab_size = genc_tokenizer_vocab_size(tok);
    if (!s && genc_tokenizer_vocab_size(tok) > c.vocab_size)
        s = genc_error(ctx, GENC_EINVAL, "--vocab %d is smaller than the tokenizer's %d tokens", c.vocab_size,
                       genc_tokenizer_vocab_size(tok));
    if (!s && a->seq > c.max_seq) s = genc_error(ctx, GENC_EINVAL, "--seq %lld exceeds --max-seq %d", (long long)a->seq, c.max_seq);
    const char *sep = NULL;
    if (!s) s = doc_separator(ctx, a->docs, &sep);
    if (!s) s = genc_lm_corpus_from_files(ctx, tok, (const char *const *)files, n_files, a->val_frac, sep, &corpus);
    if (!s && corpus.n_train < a->seq + 2)
        s = genc_error(ctx, GENC_EINVAL, "the training part has %lld tokens, fewer than --seq %lld + 2",
                       (long long)corpus.n_train, (long long)a->seq);
    if (!s) s = genc_lm_init(ctx, &m, &c, a->init_std);
    if (!s) s = genc_lm_set_precision(ctx, &m, a->precision, a->fp8_promote);
    genc_optim_config oc = genc_optim_defaults(GENC_OPT_ADAMW);
    oc.lr = a->lr, oc.weight_decay = a->wd, oc.beta2 = a->beta2, oc.moments_bf16 = !strcmp(a->optim_state, "bf16");
    if (!s && !oc.moments_bf16 && strcmp(a->optim_state, "fp32"))
        s = genc_error(ctx, GENC_EINVAL, "--optim-state: expected fp32 or bf16, found \"%s\"", a->optim_state);
    if (!s) s = genc_optim_init(ctx, &o, &m.params, &oc);
    char *cfg_json = s ? NULL : genc_lm_config_json(&c);
    if (!s && a->resume) s = genc_checkpoint_resume(ctx, ckpt, cfg_json, &m.params, &o, &st);
    if (!s) genc_rng_set_offset(ctx, st.rng_offset);
    if (!s && !(log = genc_metrics_open(ctx, mpath, a->resume))) s = genc_ctx_status(ctx);
    int32_t *batch = malloc((size_t)(a->batch * (a->seq + 1)) * sizeof *batch);
    if (!s && !batch) s = genc_error(ctx, GENC_ENOMEM, "out of memory");
    if (!s) {
        printf("lm: %lld training / %lld validation tokens, vocab %d, %lld parameters (%s preset), %lld steps of %lld x %lld tokens\n",
               (long long)corpus.n_train, (long long)(corpus.n - corpus.n_train), c.vocab_size,
               (long long)genc_params_numel(&m.params), mf->preset, (long long)a->steps, (long long)a->batch, (long long)a->seq);
        fflush(stdout);
        lm_job job = {.m = &m, .corpus = &corpus, .B = a->batch, .T = a->seq, .eval_tokens = a->eval_tokens,
                      .eval_batch = 8, .seed = (uint64_t)a->seed, .batch = batch, .log = log};
        genc_train_config tc = {.steps = a->steps, .eval_every = a->eval_every, .save_every = a->save_every,
                                .clip = a->clip, .checkpoint = ckpt, .config_json = cfg_json, .label = "lm",
                                .metrics = log, .stop = &genc_cli_stop, .stop_at = a->stop_at, .ckpt_extra = save_tokenizer,
                                .ckpt_extra_user = tok,
                                .schedule = {.kind = GENC_LR_COSINE, .lr = a->lr, .min_lr = a->min_lr,
                                             .warmup = a->warmup, .total = a->steps}};
        genc_train_hooks h = {.user = &job, .step_loss = step_loss, .evaluate = evaluate, .after_step = after_step};
        s = genc_cli_train_run(ctx, &tc, &m.params, &o, &h, &st);
        if (!s && st.step < a->steps) printf("stopped at step %lld of %lld; continue with --resume\n", (long long)st.step, (long long)a->steps);
        else if (!s) printf("best validation loss %.4f (perplexity %.2f) after %lld steps; wrote %s\n", st.best_metric,
                            exp(st.best_metric), (long long)st.step, ckpt);
    }
    if (!s) s = genc_plot_jsonl(ctx, mpath, png, "step", (const char *[]){"loss", "val_loss"}, 2, true);
    free(cfg_json), free(batch);
    genc_metrics_close(log);
    genc_optim_free(&o), genc_lm_free(&m), genc_lm_corpus_free(&corpus), genc_tokenizer_free(tok);
    genc_cli_free_list(files, n_files);
    return s;
}

int genc_cli_lm_train(int argc, char **argv) {
    train_args a = {.out = "runs/lm", .steps = 300, .batch = 16, .seq = 128, .warmup = 30, .eval_every = 100,
                    .eval_tokens = 20000, .seed = 1, .tok_vocab = 512, .lr = 3e-3, .min_lr = 3e-4, .wd = 0.1,
                    .beta2 = 0.95, .clip = 1.0, .val_frac = 0.05, .docs = "file", .init_std = 0.02, .optim_state = "fp32"};
    model_flags mf = {.preset = "tiny", .vocab = -1, .dim = -1, .layers = -1, .heads = -1, .max_seq = -1, .q_lora = -1,
                      .kv_lora = -1, .nope = -1, .rope = -1, .v = -1, .dense_layers = -1, .dense_inter = -1,
                      .experts = -1, .shared = -1, .active = -1, .moe_inter = -1, .groups = -1, .topk_groups = -1,
                      .mtp = -1, .theta = NAN, .route_scale = NAN, .gamma = NAN, .alpha = NAN, .mtp_lambda = NAN};
    genc_flag flags[] = {
        {"data", FLAG_STRING, &a.data, "text files, comma-separated"},
        {"tokenizer", FLAG_STRING, &a.tokenizer, "tokenizer file (default: train one on --data)"},
        {"tok-vocab", FLAG_INT, &a.tok_vocab, "vocabulary of the tokenizer trained on --data", 263, 1 << 20},
        {"preset", FLAG_STRING, &mf.preset, "tiny, small, base or large; the flags below override it"},
        {"vocab", FLAG_INT, &mf.vocab, "vocab_size (default: the tokenizer's)", 2, 1 << 24},
        {"dim", FLAG_INT, &mf.dim, "hidden_size", 2, 65536},
        {"layers", FLAG_INT, &mf.layers, "num_hidden_layers", 1, 1024},
        {"heads", FLAG_INT, &mf.heads, "num_attention_heads", 1, 1024},
        {"max-seq", FLAG_INT, &mf.max_seq, "max_position_embeddings", 2, 1 << 20},
        {"q-lora-rank", FLAG_INT, &mf.q_lora, "q_lora_rank (0: plain q projection)", 0, 65536},
        {"kv-lora-rank", FLAG_INT, &mf.kv_lora, "kv_lora_rank", 1, 65536},
        {"qk-nope-dim", FLAG_INT, &mf.nope, "qk_nope_head_dim", 1, 4096},
        {"qk-rope-dim", FLAG_INT, &mf.rope, "qk_rope_head_dim (even)", 2, 4096},
        {"v-dim", FLAG_INT, &mf.v, "v_head_dim", 1, 4096},
        {"rope-theta", FLAG_DOUBLE, &mf.theta, "rope_theta", 1, 1e12},
        {"dense-layers", FLAG_INT, &mf.dense_layers, "first_k_dense_replace", 0, 1024},
        {"dense-inter", FLAG_INT, &mf.dense_inter, "intermediate_size of dense FFNs", 1, 1 << 20},
        {"experts", FLAG_INT, &mf.experts, "n_routed_experts (0: all layers dense)", 0, 4096},
        {"shared-experts", FLAG_INT, &mf.shared, "n_shared_experts", 0, 64},
        {"active-experts", FLAG_INT, &mf.active, "num_experts_per_tok", 1, 4096},
        {"moe-inter", FLAG_INT, &mf.moe_inter, "moe_intermediate_size", 1, 1 << 20},
        {"groups", FLAG_INT, &mf.groups, "n_group (expert groups)", 1, 4096},
        {"topk-groups", FLAG_INT, &mf.topk_groups, "topk_group (groups kept per token)", 1, 4096},
        {"route-scale", FLAG_DOUBLE, &mf.route_scale, "routed_scaling_factor", 0, 1000},
        {"score", FLAG_STRING, &mf.score, "sigmoid (V3) or softmax (V2)"},
        {"balance", FLAG_STRING, &mf.balance, "aux_free, aux_loss or none"},
        {"bias-gamma", FLAG_DOUBLE, &mf.gamma, "aux-loss-free bias update speed", 0, 10},
        {"aux-alpha", FLAG_DOUBLE, &mf.alpha, "balance-loss weight (aux_loss default 0.01)", 0, 100},
        {"seq-aux", FLAG_STRING, &mf.seq_aux, "balance loss per sequence (true) or per batch (false)"},
        {"mtp", FLAG_INT, &mf.mtp, "num_nextn_predict_layers (MTP depth D, 0: off)", 0, 8},
        {"mtp-lambda", FLAG_DOUBLE, &mf.mtp_lambda, "MTP loss weight", 0, 100},
        {"steps", FLAG_INT, &a.steps, "optimiser steps", 1, 1e9},
        {"batch", FLAG_INT, &a.batch, "sequences per step", 1, 65536},
        {"seq", FLAG_INT, &a.seq, "tokens per sequence", 2, 1 << 20},
        {"lr", FLAG_DOUBLE, &a.lr, "peak learning rate (AdamW)", 0, 10},
        {"min-lr", FLAG_DOUBLE, &a.min_lr, "final learning rate of the cosine", 0, 10},
        {"warmup", FLAG_INT, &a.warmup, "linear warm-up steps", 0, 1e9},
        {"weight-decay", FLAG_DOUBLE, &a.wd, "AdamW weight decay (matrices only)", 0, 10},
        {"beta2", FLAG_DOUBLE, &a.beta2, "AdamW beta2", 0, 0.99999},
        {"clip", FLAG_DOUBLE, &a.clip, "global gradient-norm clip (0: off)", 0, 1e9},
        {"init-std", FLAG_DOUBLE, &a.init_std, "standard deviation of the initial weights", 0, 1},
        {"precision", FLAG_STRING, &a.precision, "GEMMs of the linear layers: fp32 (default), bf16 or fp8 (V3 3.3)"},
        {"fp8-promote", FLAG_STRING, &a.fp8_promote, "fp8: promote partial sums to FP32 every N (128) or none"},
        {"optim-state", FLAG_STRING, &a.optim_state, "AdamW moments: fp32 or bf16"},
        {"docs", FLAG_STRING, &a.docs, "one document (followed by <|eos|>) per: file, lines or paragraphs"},
        {"val-frac", FLAG_DOUBLE, &a.val_frac, "fraction of the tokens held out for validation", 0, 1},
        {"eval-every", FLAG_INT, &a.eval_every, "validate every N steps (0: at the end)", 0, 1e9},
        {"eval-tokens", FLAG_INT, &a.eval_tokens, "validation tokens scored (0: all)", 0, 1e12},
        GENC_CKPT_FLAG_ENTRIES(a),
        {"out", FLAG_STRING, &a.out, "output folder"},
        {"seed", FLAG_INT, &a.seed, "random seed (weights, data windows)", 0, 9.2e18},
        GENC_THREADS_FLAG_ENTRY(a),
    };
    int r = genc_flags_parse("lm train", "Train a DeepSeek-V3-architecture language model on text.", flags,
                             (int)(sizeof flags / sizeof *flags), argc, argv);
    if (r) return r == 1 ? 0 : 2;
    if (!a.data) {
        fprintf(stderr, "genc: error: lm train: --data is required (text files, comma-separated)\n");
        return 2;
    }
    return genc_cli_run(a.threads, a.seed, run, &(run_args){&a, &mf});
}
