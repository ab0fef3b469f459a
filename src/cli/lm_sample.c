/* genc lm sample: generate text from a language-model checkpoint with the latent-cache
 * decoder, streaming each token's text to stdout as it is produced, optionally with
 * self-speculative decoding through the MTP modules. The summary (speed, KV-cache bytes
 * per token, speculative acceptance and speed-up over plain decoding) goes to stderr. */
#include "cli/cli.h"
#include "cli/lm_common.h"
#include "genc/lm_infer.h"
#include "genc/prefix.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *checkpoint, *prompt, *prompt_file, *stop, *prefix, *weights;
    int64_t max_tokens, top_k, seed, threads;
    double temperature, top_p;
    bool speculative, echo;
} sample_args;

static int stream_token(void *user, int64_t row, int32_t id, const uint8_t *text, size_t n) {
    if (n) fwrite(text, 1, n, stdout);
    fflush(stdout);
    return genc_cli_stop;
}

/* "\n", "\t", "\\" and "\," in a stop string; the list is comma-separated. */
static char **parse_stops(const char *spec, int *n) {
    char *tmp = malloc(strlen(spec) * 2 + 1), *o = tmp;
    if (!tmp) return NULL;
    for (const char *p = spec; *p; p++) {
        if (*p != '\\' || !p[1]) {
            *o++ = *p;
            continue;
        }
        char c = *++p;
        *o++ = c == 'n' ? '\n' : c == 't' ? '\t' : c == ',' ? '\x1f' : c;
    }
    *o = 0;
    char **list = genc_cli_split_list(tmp, n);
    for (int i = 0; list && i < *n; i++)
        for (char *q = list[i]; *q; q++) *q = *q == '\x1f' ? ',' : *q;
    free(tmp);
    return list;
}

static genc_status encode_prompt(genc_ctx *ctx, genc_tokenizer *tok, const char *prompt, int32_t **ids, size_t *n) {
    genc_status s = genc_tokenizer_encode(tok, ctx, (const uint8_t *)prompt, strlen(prompt), true, ids, n);
    if (s || *n > 0) return s;
    free(*ids);
    if (!(*ids = malloc(sizeof **ids))) return genc_error(ctx, GENC_ENOMEM, "out of memory");
    (*ids)[0] = genc_tokenizer_special(tok, "<|eos|>"); /* an empty prompt starts a new document */
    *n = 1;
    return GENC_OK;
}

static const char *finish_name(genc_gen_finish f) {
    return f == GENC_GEN_EOS ? "eos" : f == GENC_GEN_STOP ? "stop string" : f == GENC_GEN_ABORT ? "interrupted" : "max tokens";
}

static void summary(const genc_lm *m, const genc_gen_result *r, int64_t plen) {
    double rate = r->len[0] / (r->seconds > 0 ? r->seconds : 1e-9);
    int64_t lat = genc_lm_cache_bytes_per_token(m), mha = genc_lm_mha_cache_bytes_per_token(m);
    printf("\n");
    fflush(stdout);
    fprintf(stderr, "%lld tokens in %.3f s: %.1f tokens/s (prompt %lld tokens, prefill %.3f s; stopped at %s)\n",
            (long long)r->len[0], r->seconds, rate, (long long)plen, r->prefill_seconds, finish_name(r->finish[0]));
    fprintf(stderr, "KV cache per token: %lld bytes latent (c_kv + k_pe) vs %lld bytes multi-head K/V (%.1fx smaller)\n",
            (long long)lat, (long long)mha, (double)mha / (double)lat);
}

/* With --speculative: the acceptance rate, and plain decoding at the same settings (same
 * seed, not streamed) for the speed-up. */
static genc_status compare_plain(genc_ctx *ctx, genc_lm *m, const int32_t *const *prompts, const int64_t *plen,
                                 genc_gen_config cf, const genc_gen_result *spec, uint64_t seed) {
    genc_gen_result plain;
    cf.speculative = false, cf.on_token = NULL;
    genc_rng_seed(ctx, seed);
    genc_status s = genc_lm_generate(ctx, m, prompts, plen, 1, &cf, &plain);
    if (s) return s;
    double rs = spec->len[0] / spec->seconds, rp = plain.len[0] / plain.seconds;
    fprintf(stderr, "speculative (MTP depth %d): %lld of %lld drafts accepted (%.1f%%), %.2f tokens per main forward\n",
            m->cfg.mtp_depth, (long long)spec->accepted, (long long)spec->drafted,
            spec->drafted ? 100.0 * (double)spec->accepted / (double)spec->drafted : 0.0,
            (double)spec->len[0] / (double)(spec->forwards + 1));
    fprintf(stderr, "plain decoding: %lld tokens in %.3f s: %.1f tokens/s; speculative speed-up %.2fx%s\n",
            (long long)plain.len[0], plain.seconds, rp, rs / rp,
            cf.sampler.temperature == 0 && (plain.len[0] != spec->len[0] ||
                memcmp(plain.tokens, spec->tokens, (size_t)plain.len[0] * sizeof(int32_t)))
                ? " (WARNING: tokens differ from plain greedy decoding)" : "");
    genc_gen_result_free(&plain);
    return GENC_OK;
}

/* --prefix FILE: the prefix prefills the latent cache (genc_lm_prefix_generate: stop strings
 * and streaming as without a prefix; not speculative decoding). */
static genc_status prefix_generate(genc_ctx *ctx, genc_lm *m, const sample_args *a, genc_lm_prefix *pre,
                                   const int32_t *const *prompts, const int64_t *plen, genc_gen_config *cf,
                                   genc_gen_result *r) {
    if (a->speculative) return genc_error(ctx, GENC_EINVAL, "--prefix: expected no --speculative with a prefix");
    genc_status s = genc_lm_prefix_load(ctx, a->prefix, m, pre);
    if (!s && cf->max_new > m->cfg.max_seq - *plen - pre->len) cf->max_new = m->cfg.max_seq - *plen - pre->len;
    if (!s && cf->max_new >= 1 && cf->max_new < a->max_tokens)
        fprintf(stderr, "note: --max-new capped at %lld by the model's %d positions (prefix %lld + prompt %lld)\n",
                (long long)cf->max_new, m->cfg.max_seq, (long long)pre->len, (long long)*plen);
    if (!s && cf->max_new < 1)
        s = genc_error(ctx, GENC_EINVAL, "--prefix: the prefix (%lld slots) and prompt leave no room in %d positions",
                       (long long)pre->len, m->cfg.max_seq);
    const genc_lm_prefix *rows[1] = {pre};
    if (!s) s = genc_lm_prefix_generate(ctx, m, rows, prompts, plen, 1, cf, r);
    return s;
}

static genc_status run_sample(genc_ctx *ctx, void *args) {
    const sample_args *a = args;
    genc_lm m = {0};
    genc_tokenizer *tok = NULL;
    int32_t *ids = NULL;
    size_t n = 0;
    int n_stops = 0;
    char **stops = a->stop ? parse_stops(a->stop, &n_stops) : NULL;
    genc_status s = a->stop && !stops ? genc_error(ctx, GENC_ENOMEM, "out of memory") : 0;
    uint8_t *file_text = NULL;
    size_t file_n = 0;
    if (!s && a->prompt_file) s = genc_file_read_all(ctx, a->prompt_file, GENC_TEXT_MAX_BYTES, &file_text, &file_n);
    const char *prompt = file_text ? (const char *)file_text : a->prompt;
    if (!s) s = genc_lm_load(ctx, a->checkpoint, true, &m, &tok);
    if (!s && !strcmp(a->weights, "fp8")) s = genc_cli_hold_fp8(ctx, &m);
    if (!s) s = encode_prompt(ctx, tok, prompt, &ids, &n);
    if (!s && a->echo) fputs(prompt, stdout); /* the generated text follows it, streamed */
    int64_t plen = (int64_t)n, room = m.cfg.max_seq - plen;
    if (!s && room < 1)
        s = genc_error(ctx, GENC_EINVAL, "--prompt: %lld tokens leave no room in the model's %d positions",
                       (long long)plen, m.cfg.max_seq);
    if (!s && a->speculative && m.cfg.mtp_depth < 1)
        s = genc_error(ctx, GENC_EINVAL, "--speculative: %s has no MTP modules (train with --mtp 1 or more)", a->checkpoint);
    genc_gen_config cf = {.max_new = a->max_tokens < room ? a->max_tokens : room,
                          .sampler = {a->temperature, a->top_k, a->top_p}, .eos_id = tok ? genc_tokenizer_special(tok, "<|eos|>") : -1,
                          .pad_id = 0, .tok = tok, .stops = (const char *const *)stops, .n_stops = n_stops,
                          .on_token = stream_token, .speculative = a->speculative};
    if (!s && !a->prefix && cf.max_new < a->max_tokens) /* with --prefix, prefix_generate says it */
        fprintf(stderr, "note: --max-new capped at %lld by the model's %d positions\n", (long long)cf.max_new, m.cfg.max_seq);
    const int32_t *prompts[1] = {ids};
    genc_gen_result r = {0};
    genc_lm_prefix pre = {0};
    if (!s && a->prefix) s = prefix_generate(ctx, &m, a, &pre, prompts, &plen, &cf, &r);
    else if (!s) s = genc_lm_generate(ctx, &m, prompts, &plen, 1, &cf, &r);
    genc_lm_prefix_free(&pre);
    if (!s) summary(&m, &r, plen);
    if (!s && a->speculative) s = compare_plain(ctx, &m, prompts, &plen, cf, &r, (uint64_t)a->seed);
    genc_gen_result_free(&r);
    genc_cli_free_list(stops, n_stops);
    free(ids), free(file_text);
    genc_tokenizer_free(tok);
    if (m.blocks) genc_lm_free(&m);
    return s;
}

int genc_cli_lm_sample(int argc, char **argv) {
    sample_args a = {.weights = "f32", .prompt = "", .max_tokens = 128, .top_k = 0, .seed = 1, .threads = 0, .temperature = 0.8,
                     .top_p = 1.0, .echo = true};
    genc_flag flags[] = {
        {"checkpoint", FLAG_STRING, &a.checkpoint, "model checkpoint (genc lm train's checkpoint.safetensors)"},
        {"prompt", FLAG_STRING, &a.prompt, "text to continue (special tokens allowed)", .unset = "empty: a new document"},
        {"prompt-file", FLAG_STRING, &a.prompt_file, "read the prompt from this file (-: standard input)"},
        {"echo", FLAG_BOOL, &a.echo, "print the prompt before the generated text (--echo=false: the new text only)"},
        {"max-new", FLAG_INT, &a.max_tokens, "tokens to generate at most", 1, 1 << 24},
        {"max-tokens", FLAG_INT, &a.max_tokens, "", 1, 1 << 24, .alias_of = "max-new"},
        {"temperature", FLAG_DOUBLE, &a.temperature, "softmax temperature (0: greedy)", 0, 100},
        {"top-k", FLAG_INT, &a.top_k, "sample among the k most likely tokens (0: all)", 0, 1 << 24},
        {"top-p", FLAG_DOUBLE, &a.top_p, "nucleus: the smallest set with this much mass (1: all)", 1e-9, 1},
        {"seed", FLAG_INT, &a.seed, "random seed of the sampler", 0, 9.2e18},
        {"stop", FLAG_STRING, &a.stop, "stop strings, comma-separated (\\n, \\t, \\, escapes)"},
        {"speculative", FLAG_BOOL, &a.speculative, "self-speculative decoding with the MTP modules (one row)"},
        {"weights", FLAG_STRING, &a.weights, "how the blocks' linear weights are held in memory (fp8: E4M3 with "
         "128x128 block scales, 1 byte per weight, decoded in the GEMM)", .choices = "f32|fp8"},
        GENC_THREADS_FLAG_ENTRY(a),
        {"prefix", FLAG_STRING, &a.prefix, "prefix file (genc lm prefix-tune) made for this checkpoint"},
    };
    int n = (int)(sizeof flags / sizeof *flags);
    int r = genc_flags_parse("lm sample", "Generate text from a language-model checkpoint (streamed to stdout).", flags, n,
                             argc, argv);
    if (!r && a.prompt_file) r = genc_flag_refuse("lm sample", flags, n, "prompt", "with --prompt-file (give one of them)");
    if (!r && a.temperature == 0)
        r = genc_flag_refuse("lm sample", flags, n, "top-k top-p", "with --temperature 0 (greedy decoding takes the most likely token)");
    if (r) return r == 1 ? 0 : 2;
    if (!a.checkpoint) {
        fprintf(stderr, "genc: error: lm sample: --checkpoint is required\n");
        return 2;
    }
    return genc_cli_run(a.threads, a.seed, run_sample, &a);
}
