/* genc lm train: train a DeepSeek-V3-architecture language model on text files. Every
 * config field has a flag that overrides the preset; the tokenizer is trained on the data
 * when none is given, and travels inside the checkpoint. */
#include "cli/cli.h"
#include "cli/lm_common.h"
#include "genc/png.h"

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
    const char *data, *tokenizer, *out, *docs, *init, *precision, *fp8_promote, *optim_state, *tok_pretok, *tok_tags;
    int64_t steps, batch, seq, warmup, eval_every, save_every, eval_tokens, seed, threads, stop_at, tok_vocab, zero, ep;
    double lr, min_lr, wd, beta2, clip, val_frac, init_std, dist_timeout;
    bool resume, model_flags_given, overlap;
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
    bool text = !strcmp(a->tok_tags, "text");
    printf("training a %lld-token BPE tokenizer on the data%s\n", (long long)a->tok_vocab,
           text ? " (tags as text)" : "");
    genc_pretokenizer p = GENC_PRETOK_DEFAULT;
    genc_pretokenizer_parse(a->tok_pretok, &p); /* the flag's choices are the names */
    return genc_tokenizer_train_with(ctx, (const char *const *)files, n_files, (int)a->tok_vocab, p,
                                     text ? GENC_TAGS_TEXT : GENC_TAGS_SPECIAL, tok);
}

typedef struct {
    train_args *a;
    model_flags *mf;
} run_args;

typedef struct {
    const genc_lm_corpus *corpus;
    const train_args *a;
    const char *preset;
    int64_t *first_step; /* set by on_start */
} start_info;

/* The opening line, printed once the model and optimiser are set up; from here the training
 * loop polls, so Ctrl-C stops after the step with a checkpoint. */
static void on_start(void *user, const genc_lm *m, int64_t first_step) {
    const start_info *i = user;
    const genc_lm_corpus *corpus = i->corpus;
    const char *init = i->a->init;
    printf("lm: %lld training / %lld validation tokens, vocab %d, %lld parameters (%s%s%s), %lld steps of %lld x %lld tokens\n",
           (long long)corpus->n_train, (long long)(corpus->n - corpus->n_train), m->cfg.vocab_size,
           (long long)genc_params_numel(&m->params), init ? "from " : "", init ? init : i->preset, init ? "" : " preset",
           (long long)i->a->steps, (long long)i->a->batch, (long long)i->a->seq);
    fflush(stdout);
    *i->first_step = first_step;
    genc_cli_polling = 1;
}

static genc_status train(genc_ctx *ctx, train_args *a, model_flags *mf, genc_dist *dist);

/* This process's peak resident memory (VmHWM), bytes; 0 where /proc does not say. */
static double peak_rss(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    double kb = 0;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "VmHWM:", 6)) kb = atof(line + 6);
    if (f) fclose(f);
    return kb * 1024;
}

/* Every rank's optimiser state and peak memory, measured there, printed by rank 0. */
static genc_status print_memory(genc_ctx *ctx, genc_dist *d, int64_t optim_bytes, int64_t zero) {
    int R = genc_dist_size(d), me = genc_dist_rank(d);
    double *v = calloc(2 * (size_t)R, sizeof *v);
    if (!v) return genc_error(ctx, GENC_ENOMEM, "out of memory");
    v[2 * me] = (double)optim_bytes, v[2 * me + 1] = peak_rss();
    genc_status s = genc_dist_sum_f64(ctx, d, v, 2 * R, "the end (memory report)");
    for (int r = 0; !s && r < R; r++)
        printf("%s rank %d: optimiser state %.3f MiB, peak resident memory %.1f MiB\n", zero ? "zero 1:" : "dist:", r,
               v[2 * r] / 1048576, v[2 * r + 1] / 1048576);
    free(v);
    return s;
}

static genc_status train_rank(genc_ctx *ctx, void *args, genc_dist *dist) {
    return train(ctx, ((run_args *)args)->a, ((run_args *)args)->mf, dist);
}

static genc_status run(genc_ctx *ctx, void *args) {
    return genc_cli_dist_run(ctx, ((run_args *)args)->a->dist_timeout, train_rank, args);
}

static genc_status train(genc_ctx *ctx, train_args *a, model_flags *mf, genc_dist *dist) {
    int n_files = 0;
    char **files = genc_cli_split_list(a->data, &n_files), ckpt[1024], best[1024], mpath[1024], png[1024], what[96];
    genc_tokenizer *tok = NULL;
    genc_lm_corpus corpus = {0};
    genc_lm m = {0};
    genc_lm_config c;
    genc_train_state st = {0};
    snprintf(ckpt, sizeof ckpt, "%s/checkpoint.safetensors", a->out);
    snprintf(best, sizeof best, "%s/best.safetensors", a->out);
    snprintf(mpath, sizeof mpath, "%s/metrics.jsonl", a->out);
    snprintf(png, sizeof png, "%s/loss.png", a->out);
    genc_status s = genc_dist_rank(dist) == 0 ? genc_cli_out_dir(ctx, a->out) : GENC_OK; /* rank 0 writes */
    if (!s && (!files || !n_files)) s = genc_error(ctx, GENC_EINVAL, "--data: expected text files, found \"%s\"", a->data);
    if (!s && a->init && (a->model_flags_given || a->tokenizer))
        s = genc_error(ctx, GENC_EINVAL, "--init takes the model config and tokenizer from %s: drop the model and "
                       "tokenizer flags", a->init);
    if (!s && a->init) s = genc_lm_load(ctx, a->init, true, &m, &tok); /* weights, config and tokenizer */
    if (!s && a->init) c = m.cfg;
    if (!s && !a->init) s = apply_model_flags(ctx, mf, &c);
    if (!s && !a->init) s = tokenizer_for(ctx, a, files, n_files, &tok);
    if (!s && !a->init && mf->vocab < 0) c.vocab_size = genc_tokenizer_vocab_size(tok);
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
    if (!s && !a->init) s = genc_lm_init(ctx, &m, &c, a->init_std);
    if (!s) s = genc_lm_set_precision(ctx, &m, a->precision, a->fp8_promote);
    genc_lm_train_config tc = genc_lm_train_defaults();
    tc.steps = a->steps, tc.batch = a->batch, tc.seq = a->seq, tc.lr = a->lr, tc.min_lr = a->min_lr;
    tc.warmup = a->warmup, tc.weight_decay = a->wd, tc.beta2 = a->beta2, tc.clip = a->clip;
    tc.eval_every = a->eval_every, tc.eval_tokens = a->eval_tokens, tc.save_every = a->save_every;
    tc.stop_at = a->stop_at, tc.seed = (uint64_t)a->seed, tc.resume = a->resume, tc.checkpoint = ckpt;
    tc.best_checkpoint = best, tc.metrics = mpath, tc.stop = &genc_cli_stop, tc.on_start = on_start;
    tc.moments_bf16 = !strcmp(a->optim_state, "bf16"), tc.dist = dist;
    int64_t optim_bytes = 0;
    tc.zero = (int)a->zero, tc.optim_bytes = &optim_bytes, tc.ep = (int)a->ep, tc.overlap = a->overlap;
    start_info info = {.corpus = &corpus, .a = a, .preset = mf->preset};
    tc.user = &info;
    int64_t step0 = a->resume ? -1 : 0;
    info.first_step = &step0;
    if (!s) s = genc_lm_train(ctx, &m, &corpus, tok, &tc, &st);
    genc_cli_polling = 0;
    if (!s && genc_dist_size(dist) > 1) s = print_memory(ctx, dist, optim_bytes, a->zero);
    if (!s && genc_dist_size(dist) > 1 && st.step > step0)
        printf("dist: %d ranks x %lld sequences; %.0f bytes sent per step per rank (gradient all-reduce as ring "
               "volume, plus exchanges)\n", genc_dist_size(dist), (long long)(a->batch / genc_dist_size(dist)),
               (double)genc_dist_bytes_sent(dist) / (double)(st.step - step0));
    if (!s && st.step < a->steps) printf("stopped at step %lld of %lld; continue with --resume\n", (long long)st.step, (long long)a->steps);
    else if (!s) {
        snprintf(what, sizeof what, "validation loss %.4f, perplexity %.2f", st.best_metric, exp(st.best_metric));
        genc_cli_print_saved(a->out, st.step, isfinite(st.best_metric) ? what : NULL);
    }
    if (!s && genc_dist_rank(dist) == 0) s = genc_plot_jsonl_labelled(ctx, mpath, png, "lm train: next-token loss (training, validation) and MTP loss",
                                         "optimiser step", "cross-entropy, nats per token", "step",
                                         (const char *[]){"main_loss", "val_loss", "mtp_loss_mean"}, m.cfg.mtp_depth ? 3 : 2, true);
    genc_lm_free(&m), genc_lm_corpus_free(&corpus), genc_tokenizer_free(tok);
    genc_cli_free_list(files, n_files);
    return s;
}

/* The words --help shows for a model flag the preset decides; describe_preset fills in the
 * default preset's value. */
static const char PRESET_WORDS[] = "the preset's";

/* The config JSON's (HF) name of a model flag: the first word of its help, or one of these. */
static void config_key(const genc_flag *f, char *key, size_t n) {
    static const char *const names[][2] = {{"score", "scoring_func"}, {"balance", "genc_balance"},
                                           {"bias-gamma", "genc_bias_update_speed"}, {"seq-aux", "seq_aux"},
                                           {"mtp-lambda", "genc_mtp_lambda"}};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (!strcmp(f->name, names[i][0])) {
            snprintf(key, n, "%s", names[i][1]);
            return;
        }
    snprintf(key, n, "%.*s", (int)strcspn(f->help, " "), f->help);
}

/* --help shows what "the preset's" means for the default preset: "the preset's; tiny: 64". */
static void describe_preset(genc_flag *flags, int n, const char *preset) {
    static char words[48][80];
    genc_lm_config c;
    genc_ctx *ctx = genc_ctx_new();
    char *js = ctx && !genc_lm_preset(ctx, preset, &c) ? genc_lm_config_json(&c) : NULL;
    json_t *o = js ? json_loads(js, 0, NULL) : NULL, *v;
    char key[64], val[32];
    for (int i = 0, w = 0; o && i < n && w < 48; i++) {
        if (flags[i].unset != PRESET_WORDS) continue;
        config_key(&flags[i], key, sizeof key);
        if (!(v = json_object_get(o, key))) continue;
        if (json_is_integer(v)) snprintf(val, sizeof val, "%lld", (long long)json_integer_value(v));
        else if (json_is_real(v)) snprintf(val, sizeof val, "%g", json_real_value(v));
        else if (json_is_boolean(v)) snprintf(val, sizeof val, "%s", json_is_true(v) ? "true" : "false");
        else if (json_is_string(v)) snprintf(val, sizeof val, "%s", json_string_value(v));
        else continue;
        snprintf(words[w], sizeof words[w], "the preset's; %s: %s", preset, val);
        flags[i].unset = words[w++];
    }
    json_decref(o), free(js), genc_ctx_free(ctx);
}

int genc_cli_lm_train(int argc, char **argv) {
    genc_lm_train_config d = genc_lm_train_defaults();
    train_args a = {.out = "runs/lm", .steps = d.steps, .batch = d.batch, .seq = d.seq, .warmup = d.warmup,
                    .eval_every = d.eval_every, .eval_tokens = d.eval_tokens, .seed = (int64_t)d.seed, .tok_vocab = 512,
                    .lr = d.lr, .min_lr = d.min_lr, .wd = d.weight_decay, .beta2 = d.beta2, .clip = d.clip,
                    .val_frac = 0.05, .docs = "file", .init_std = 0.02,
                    .optim_state = "fp32", .tok_tags = "special",
                    .tok_pretok = genc_pretokenizer_name(GENC_PRETOK_DEFAULT)};
    model_flags mf = {.preset = "tiny", .vocab = -1, .dim = -1, .layers = -1, .heads = -1, .max_seq = -1, .q_lora = -1,
                      .kv_lora = -1, .nope = -1, .rope = -1, .v = -1, .dense_layers = -1, .dense_inter = -1,
                      .experts = -1, .shared = -1, .active = -1, .moe_inter = -1, .groups = -1, .topk_groups = -1,
                      .mtp = -1, .theta = NAN, .route_scale = NAN, .gamma = NAN, .alpha = NAN, .mtp_lambda = NAN};
    genc_flag flags[] = {
        {"data", FLAG_STRING, &a.data, "text files, comma-separated (-: standard input); required"},
        {"tokenizer", FLAG_STRING, &a.tokenizer, "tokenizer file", .unset = "train one on --data"},
        {"tok-vocab", FLAG_INT, &a.tok_vocab, "vocabulary of the tokenizer trained on --data", 263, 1 << 20},
        {"tok-tags", FLAG_STRING, &a.tok_tags, "the trained tokenizer's <think> </think> <answer> </answer>: single "
                                              "special tokens, or text like any markup", .choices = "special|text"},
        {"tok-pretok", FLAG_STRING, &a.tok_pretok, "pre-tokenisation of that tokenizer (qwen2: Qwen2's regex, digits "
         "single, as llama.cpp and HF split it; genc-v1: genc's first, digits single, genc only; gpt2: GPT-2's regex, "
         "digit runs)", .choices = "qwen2|genc-v1|gpt2"},
        {"preset", FLAG_STRING, &mf.preset, "model size; the flags below override it", .choices = "tiny|small|base|large"},
        {"vocab", FLAG_INT, &mf.vocab, "vocab_size", 2, 1 << 24, .unset = "the tokenizer's"},
        {"dim", FLAG_INT, &mf.dim, "hidden_size", 2, 65536, .unset = PRESET_WORDS},
        {"layers", FLAG_INT, &mf.layers, "num_hidden_layers", 1, 1024, .unset = PRESET_WORDS},
        {"heads", FLAG_INT, &mf.heads, "num_attention_heads", 1, 1024, .unset = PRESET_WORDS},
        {"max-seq", FLAG_INT, &mf.max_seq, "max_position_embeddings", 2, 1 << 20, .unset = PRESET_WORDS},
        {"q-lora-rank", FLAG_INT, &mf.q_lora, "q_lora_rank (0: plain q projection)", 0, 65536, .unset = PRESET_WORDS},
        {"kv-lora-rank", FLAG_INT, &mf.kv_lora, "kv_lora_rank", 1, 65536, .unset = PRESET_WORDS},
        {"qk-nope-dim", FLAG_INT, &mf.nope, "qk_nope_head_dim", 1, 4096, .unset = PRESET_WORDS},
        {"qk-rope-dim", FLAG_INT, &mf.rope, "qk_rope_head_dim (even)", 2, 4096, .unset = PRESET_WORDS},
        {"v-dim", FLAG_INT, &mf.v, "v_head_dim", 1, 4096, .unset = PRESET_WORDS},
        {"rope-theta", FLAG_DOUBLE, &mf.theta, "rope_theta", 1, 1e12, .unset = PRESET_WORDS},
        {"dense-layers", FLAG_INT, &mf.dense_layers, "first_k_dense_replace", 0, 1024, .unset = PRESET_WORDS},
        {"dense-inter", FLAG_INT, &mf.dense_inter, "intermediate_size of dense FFNs", 1, 1 << 20, .unset = PRESET_WORDS},
        {"experts", FLAG_INT, &mf.experts, "n_routed_experts (0: all layers dense)", 0, 4096, .unset = PRESET_WORDS},
        {"shared-experts", FLAG_INT, &mf.shared, "n_shared_experts", 0, 64, .unset = PRESET_WORDS},
        {"active-experts", FLAG_INT, &mf.active, "num_experts_per_tok", 1, 4096, .unset = PRESET_WORDS},
        {"moe-inter", FLAG_INT, &mf.moe_inter, "moe_intermediate_size", 1, 1 << 20, .unset = PRESET_WORDS},
        {"groups", FLAG_INT, &mf.groups, "n_group (expert groups)", 1, 4096, .unset = PRESET_WORDS},
        {"topk-groups", FLAG_INT, &mf.topk_groups, "topk_group (groups kept per token)", 1, 4096, .unset = PRESET_WORDS},
        {"route-scale", FLAG_DOUBLE, &mf.route_scale, "routed_scaling_factor", 0, 1000, .unset = PRESET_WORDS},
        {"score", FLAG_STRING, &mf.score, "router scores: sigmoid (V3) or softmax (V2)", .unset = PRESET_WORDS, .choices = "sigmoid|softmax"},
        {"balance", FLAG_STRING, &mf.balance, "expert load balancing", .unset = PRESET_WORDS, .choices = "aux_free|aux_loss|none"},
        {"bias-gamma", FLAG_DOUBLE, &mf.gamma, "aux-loss-free bias update speed", 0, 10, .unset = PRESET_WORDS},
        {"aux-alpha", FLAG_DOUBLE, &mf.alpha, "balance-loss weight", 0, 100, .unset = "the preset's; 0.01 with --balance aux_loss"},
        {"seq-aux", FLAG_STRING, &mf.seq_aux, "balance loss per sequence (true) or per batch (false)", .unset = PRESET_WORDS, .choices = "true|false"},
        {"mtp", FLAG_INT, &mf.mtp, "num_nextn_predict_layers (MTP depth D, 0: off)", 0, 8, .unset = PRESET_WORDS},
        {"mtp-lambda", FLAG_DOUBLE, &mf.mtp_lambda, "MTP loss weight", 0, 100, .unset = PRESET_WORDS},
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
        {"precision", FLAG_STRING, &a.precision, "GEMMs of the linear layers (fp8: DeepSeek-V3 section 3.3)",
         .unset = "fp32", .choices = "fp32|bf16|fp8"},
        {"fp8-promote", FLAG_STRING, &a.fp8_promote, "fp8: promote partial sums to FP32 every N products, or none",
         .unset = "128"},
        {"optim-state", FLAG_STRING, &a.optim_state, "AdamW moments", .choices = "fp32|bf16"},
        {"init", FLAG_STRING, &a.init, "start from these weights: a checkpoint or Hugging Face folder (its config and "
                                       "tokenizer; fresh optimiser)"},
        {"docs", FLAG_STRING, &a.docs, "one document (followed by <|eos|>) per", .choices = "file|lines|paragraphs"},
        {"val-frac", FLAG_DOUBLE, &a.val_frac, "fraction of the tokens held out for validation", 0, 1},
        {"eval-every", FLAG_INT, &a.eval_every, "validate every N steps (0: at the end)", 0, 1e9},
        {"eval-tokens", FLAG_INT, &a.eval_tokens, "validation tokens scored (0: all)", 0, 1e12},
        GENC_CKPT_FLAG_ENTRIES(a),
        {"out", FLAG_STRING, &a.out, "output folder"},
        {"seed", FLAG_INT, &a.seed, "random seed (weights, data windows)", 0, 9.2e18},
        GENC_THREADS_FLAG_ENTRY(a),
        {"zero", FLAG_INT, &a.zero, "under mpirun/srun: 1 shards the AdamW moments over the ranks (ZeRO-1)", 0, 1},
        {"ep", FLAG_INT, &a.ep, "under mpirun/srun: spread the routed experts over this many ranks (all of them)",
         0, 4096, .unset = "off"},
        {"overlap", FLAG_BOOL, &a.overlap, "under mpirun/srun: start the gradient all-reduce during the backward "
         "pass, bucket by bucket"},
        GENC_DIST_FLAG_ENTRY(a),
    };
    const model_flags mf0 = mf;
    int n = (int)(sizeof flags / sizeof *flags);
    describe_preset(flags, n, mf.preset);
    int r = genc_flags_parse("lm train", "Train a DeepSeek-V3-architecture language model on text.", flags, n, argc, argv);
    if (!r && a.tokenizer) r = genc_flag_refuse("lm train", flags, n, "tok-vocab", "with --tokenizer (no tokenizer is trained)");
    if (!r && a.tokenizer) r = genc_flag_refuse("lm train", flags, n, "tok-pretok tok-tags", "with --tokenizer (no tokenizer is trained)");
    if (!r && a.init)
        r = genc_flag_refuse("lm train", flags, n, "tok-vocab tok-tags init-std", "with --init (its weights and tokenizer are used)");
    if (r) return r == 1 ? 0 : 2;
    a.model_flags_given = memcmp(&mf, &mf0, sizeof mf) != 0; /* pointers and numbers, no padding */
    if (!a.data) {
        fprintf(stderr, "genc: error: lm train: --data is required (text files, comma-separated)\n");
        return 2;
    }
    return genc_cli_run(a.threads, a.seed, run, &(run_args){&a, &mf});
}
