/* genc lm eval: validation loss and perplexity of a language-model checkpoint on text, and
 * --dump-logits: the text's tokens and the model's logits at every position in a
 * safetensors file, so any other implementation can be checked against genc. */
#include "cli/cli.h"
#include "cli/lm_common.h"
#include "cli/task_flags.h"
#include "genc/grpo.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static genc_status read_text(genc_ctx *ctx, const char *path, uint8_t **buf, size_t *n) {
    return genc_file_read_all(ctx, path, GENC_TEXT_MAX_BYTES, buf, n);
}

/* Tokens of all files, each followed by <|eos|> (as in training). */
static genc_status tokens_of(genc_ctx *ctx, genc_tokenizer *tok, char **files, int n_files, int32_t **out, int64_t *n) {
    int32_t eos = genc_tokenizer_special(tok, "<|eos|>");
    *out = NULL, *n = 0;
    for (int i = 0; i < n_files; i++) {
        uint8_t *text;
        size_t len, n_ids;
        int32_t *ids;
        genc_status s = read_text(ctx, files[i], &text, &len);
        if (s) return s;
        s = genc_tokenizer_encode(tok, ctx, text, len, true, &ids, &n_ids); /* specials as in training */
        free(text);
        if (s) return s;
        int32_t *grown = realloc(*out, (size_t)(*n + (int64_t)n_ids + 1) * sizeof *grown);
        if (!grown) return free(ids), genc_error(ctx, GENC_ENOMEM, "out of memory");
        *out = grown;
        memcpy(*out + *n, ids, n_ids * sizeof *ids);
        *n += (int64_t)n_ids;
        (*out)[(*n)++] = eos;
        free(ids);
    }
    return GENC_OK;
}

/* tokens [T] and logits [T, V] of the first T <= max_seq tokens, one sequence. */
static genc_status dump_logits(genc_ctx *ctx, genc_lm *m, const int32_t *tokens, int64_t n, const char *path) {
    int64_t T;
    genc_status s = genc_lm_dump_logits(ctx, m, tokens, n, path, &T);
    if (!s) printf("wrote %s: tokens [%lld], logits [%lld, %d]\n", path, (long long)T, (long long)T, m->cfg.vocab_size);
    return s;
}

typedef struct {
    int64_t left;
} show_state;

/* Length of the valid UTF-8 sequence at s[0..n), or 0 when the bytes there are not one. */
static size_t utf8_len(const unsigned char *s, size_t n) {
    size_t len = s[0] < 0x80 ? 1 : s[0] >= 0xC2 && s[0] <= 0xDF ? 2 : s[0] >= 0xE0 && s[0] <= 0xEF ? 3
               : s[0] >= 0xF0 && s[0] <= 0xF4 ? 4 : 0;
    if (!len || len > n) return 0;
    for (size_t i = 1; i < len; i++)
        if ((s[i] & 0xC0) != 0x80) return 0;
    if (len == 3 && ((s[0] == 0xE0 && s[1] < 0xA0) || (s[0] == 0xED && s[1] >= 0xA0))) return 0; /* overlong, surrogate */
    if (len == 4 && ((s[0] == 0xF0 && s[1] < 0x90) || (s[0] == 0xF4 && s[1] >= 0x90))) return 0;
    return len;
}

/* Writes text as valid UTF-8: each byte that is not part of a valid sequence as \xNN. */
static void put_utf8(const char *text) {
    const unsigned char *s = (const unsigned char *)text;
    for (size_t n = strlen(text), i = 0; i < n;) {
        size_t k = utf8_len(s + i, n - i);
        if (k) fwrite(s + i, 1, k, stdout), i += k;
        else printf("\\x%02X", s[i++]);
    }
}

static genc_status show_one(void *user, const genc_task_problem *p, const char *response, const genc_reward *r) {
    show_state *s = user;
    if (s->left <= 0) return GENC_OK;
    s->left--;
    printf("--- %s\n", p->prompt);
    put_utf8(response);
    printf("\n[reward %.2f, accuracy %d, format %d, think %d, reference %s]\n", r->reward, r->accuracy, r->format,
           r->think, p->answer);
    return GENC_OK;
}

/* --task: pass@1 over k samples and cons@k on held-out (or the user's) problems. */
static genc_status eval_task(genc_ctx *ctx, genc_lm *m, genc_tokenizer *tok, const genc_task_flags *tf,
                             genc_task_eval_opts *o, const char *tmpl, int64_t show) {
    genc_task_cfg cfg;
    genc_task_set set = {0};
    genc_task_eval e;
    show_state ss = {show};
    o->show = show > 0 ? show_one : NULL, o->user = &ss;
    genc_status s = genc_task_flags_apply(ctx, tf, &cfg, &o->reward);
    if (!s) s = genc_grpo_template_parse(ctx, tmpl, &o->template_kind);
    if (!s) s = genc_sampler_check(ctx, &o->sampler);
    if (!s) s = genc_task_flags_heldout(ctx, tf, &cfg, &set);
    if (!s) s = genc_task_evaluate(ctx, m, tok, &set, o, &e);
    if (!s) genc_task_baselines_print(stdout, &set);
    if (!s)
        printf("%s: %lld problems x %lld samples (temperature %g%s): pass@1 %.2f%%, cons@%lld %.2f%%, format %.2f%%, "
               "think %.2f%%, think tokens %.1f, correct after thinking %.2f%%, mean length %.1f tokens\n",
               tf->problems ? tf->problems : tf->task, (long long)e.problems, (long long)o->k, o->sampler.temperature,
               o->empty_think ? ", think forced empty" : "", 100 * e.pass1, (long long)o->k, 100 * e.consk,
               100 * e.format_rate, 100 * e.think_rate, e.think_len, 100 * e.correct_think, e.mean_len);
    genc_task_set_free(&set);
    return s;
}

typedef struct {
    const char *ckpt, *data, *dump, *tmpl, *weights;
    int64_t seq, batch, threads, show, seed;
    genc_task_flags tf;
    genc_task_eval_opts o;
    bool task_mode;
} eval_args;

/* Text perplexity (and the logits dump) of the model on the --data files. */
static genc_status eval_text(genc_ctx *ctx, const eval_args *a, genc_lm *m, genc_tokenizer *tok) {
    int n_files = 0;
    char **files = genc_cli_split_list(a->data, &n_files);
    int32_t *tokens = NULL;
    int64_t n = 0, count = 0;
    double loss = 0;
    genc_status s = files ? tokens_of(ctx, tok, files, n_files, &tokens, &n) : genc_error(ctx, GENC_ENOMEM, "out of memory");
    if (!s && a->seq > m->cfg.max_seq)
        s = genc_error(ctx, GENC_EINVAL, "--seq %lld exceeds the model's %d", (long long)a->seq, m->cfg.max_seq);
    if (!s) s = genc_lm_eval_loss(ctx, m, tokens, n, a->seq, a->batch, &loss, &count);
    if (!s && !isfinite(loss)) /* finite but huge weights can overflow: never report "loss -nan" as a result */
        s = genc_error(ctx, GENC_EFORMAT, "%s: the loss on --data is %g, not a finite number: the model's weights "
                       "overflow (a diverged run?)", a->ckpt, loss);
    if (!s) printf("%lld tokens scored: loss %.4f nats/token, perplexity %.2f\n", (long long)count, loss, exp(loss));
    if (!s && a->dump) s = dump_logits(ctx, m, tokens, n, a->dump);
    free(tokens);
    genc_cli_free_list(files, n_files);
    return s;
}

static genc_status run_eval(genc_ctx *ctx, void *args) {
    eval_args *a = args;
    genc_lm m = {0};
    genc_tokenizer *tok = NULL;
    genc_status s = genc_lm_load(ctx, a->ckpt, true, &m, &tok);
    if (!s && !strcmp(a->weights, "fp8")) s = genc_cli_hold_fp8(ctx, &m);
    if (!s && a->task_mode) s = eval_task(ctx, &m, tok, &a->tf, &a->o, a->tmpl, a->show);
    if (!s && a->data) s = eval_text(ctx, a, &m, tok);
    genc_tokenizer_free(tok);
    genc_lm_free(&m);
    return s;
}

int genc_cli_lm_eval(int argc, char **argv) {
    eval_args a = {.weights = "f32", .ckpt = "runs/lm/checkpoint.safetensors", .seq = 128, .batch = 8, .seed = 1, .tmpl = "r1",
                   .tf = GENC_TASK_FLAGS_DEFAULT};
    genc_task_eval_opts_default(&a.o);
    a.o.max_new = 48;
    a.tf.task = NULL; /* --task switches to task scoring */
    genc_flag flags[] = {
        {"weights", FLAG_STRING, &a.weights, "how the blocks' linear weights are held in memory (fp8: E4M3 with "
         "128x128 block scales, 1 byte per weight, decoded in the GEMM)", .choices = "f32|fp8"},
        GENC_TASK_FLAG_ENTRIES(a.tf),
        {"k", FLAG_INT, &a.o.k, "task: samples per problem (pass@1 averaged over them, cons@k)", 1, 4096},
        {"max-new", FLAG_INT, &a.o.max_new, "task: response length limit", 1, 1 << 20},
        {"temperature", FLAG_DOUBLE, &a.o.sampler.temperature, "task: sampling temperature", 0, 100},
        {"top-p", FLAG_DOUBLE, &a.o.sampler.top_p, "task: nucleus mass", 0, 1},
        {"template", FLAG_STRING, &a.tmpl, "task: prompt template: r1 (the R1-Zero paper's) or short", .choices = "r1|short"},
        {"empty-think", FLAG_BOOL, &a.o.empty_think, "task: prompts end <think></think> (the no-thinking ablation)"},
        {"show", FLAG_INT, &a.show, "task: print N prompts with their responses and rewards", 0, 1e9},
        {"seed", FLAG_INT, &a.seed, "task: sampling seed", 0, 9.2e18},
        {"checkpoint", FLAG_STRING, &a.ckpt, "language-model checkpoint"},
        {"data", FLAG_STRING, &a.data, "text files to score, comma-separated (this or --task)"},
        {"seq", FLAG_INT, &a.seq, "tokens per scored window", 2, 1 << 20},
        {"batch", FLAG_INT, &a.batch, "windows per forward", 1, 4096},
        {"dump-logits", FLAG_STRING, &a.dump, "write tokens [T] and logits [T, vocab] of the text's first tokens here"},
        GENC_THREADS_FLAG_ENTRY(a),
    };
    int n = (int)(sizeof flags / sizeof *flags);
    int r = genc_flags_parse("lm eval", "Loss and perplexity of a language model on text, or its accuracy on a task.",
                             flags, n, argc, argv);
    if (r) return r == 1 ? 0 : 2;
    if (!a.data && !a.tf.task && !a.tf.problems)
        return fprintf(stderr, "genc: error: lm eval: --data (text files) or --task (arith, countdown) is required\n"), 2;
    a.task_mode = a.tf.task || a.tf.problems;
    if (!a.task_mode) r = genc_flag_refuse("lm eval", flags, n, "k max-new temperature top-p template empty-think show seed "
                                           "reward w-acc w-fmt acc-needs-format heldout heldout-seed", "without --task or --problems");
    if (!r && a.task_mode) r = genc_task_flags_refuse("lm eval", flags, n, &a.tf);
    if (!r && a.tf.problems)
        r = genc_flag_refuse("lm eval", flags, n, "heldout heldout-seed", "with --problems (the file is the held-out set)");
    if (!r && !a.data) r = genc_flag_refuse("lm eval", flags, n, "seq batch dump-logits", "without --data (text to score)");
    if (r) return 2;
    if (!a.tf.task) a.tf.task = "arith";
    return genc_cli_run(a.threads, a.seed, run_eval, &a);
}
