/* Inference checks for the language model: the absorbed latent-cache decode gives the
 * training forward's logits (genc_lm_logits) at every position, token by token and after a
 * multi-token prefill, for an MoE model with a low-rank query, expert groups and MTP, and
 * for a dense model with a plain query; left-padded batch rows equal each row alone; greedy
 * self-speculative decoding equals plain greedy decoding; samplers (greedy ties, top-k = 1,
 * top-p sets, seeded reproducibility); generation (eos, stop strings, batched rows); the
 * cache memory formulas. */
#include "genc/lm_infer.h"
#include "test.h"

#include <stdlib.h>

#define RTOL 1e-4
#define ATOL 1e-5

static genc_lm_config moe_config(void) {
    genc_lm_config c;
    genc_lm_preset(NULL, "tiny", &c); /* q_lora 32, 8 experts in 2 groups, MTP D = 1 */
    c.vocab_size = 300, c.max_seq = 64, c.topk_groups = 1;
    return c;
}

static genc_lm_config dense_config(void) {
    genc_lm_config c = moe_config();
    c.q_lora_rank = 0, c.n_routed = 0, c.mtp_depth = 0, c.n_heads = 2, c.kv_lora_rank = 24;
    return c;
}

/* YaRN rope_scaling with both scales away from 1 (cos/sin magnitude m(4, 1) / m(4, 0.8) and the
 * softmax scale times (0.1 * 0.8 ln 4 + 1)^2), so the cache path must apply them as the
 * full forward does. */
static genc_lm_config yarn_config(void) {
    genc_lm_config c = dense_config();
    c.yarn_factor = 4, c.yarn_orig_max_pos = 16, c.yarn_beta_fast = 32, c.yarn_beta_slow = 1;
    c.yarn_mscale = 1, c.yarn_mscale_all_dim = 0.8;
    return c;
}

static void random_tokens(int32_t *t, int64_t n, int V, uint64_t seed) {
    for (int64_t i = 0; i < n; i++) t[i] = (int32_t)(genc_philox_u32(seed, (uint64_t)i) % (uint32_t)V);
}

/* max over elements of |a - b| beyond the tolerance (0 when all close). */
static int count_far(const genc_real *a, const genc_real *b, int64_t n) {
    int bad = 0;
    for (int64_t i = 0; i < n; i++) bad += !(fabs((double)a[i] - b[i]) <= ATOL + RTOL * fabs((double)b[i]));
    return bad;
}

/* Full recomputation: logits [T, V] of row `tokens` (T tokens) copied to out. */
static void full_logits(genc_ctx *ctx, genc_lm *m, const int32_t *tokens, int64_t T, genc_real *out) {
    genc_tensor *y = genc_lm_logits(ctx, m, tokens, 1, T);
    CHECK(y != NULL);
    if (y) memcpy(out, y->data, (size_t)(T * m->cfg.vocab_size) * sizeof(genc_real));
    genc_step_reset(ctx);
}

/* Token-by-token and prefill-then-decode logits equal the full forward at every position. */
static void check_cache_equals_full(genc_ctx *ctx, genc_lm *m, const char *name) {
    enum { T = 24, P = 9 };
    int V = m->cfg.vocab_size;
    int32_t tok[T];
    random_tokens(tok, T, V, 7);
    genc_real *ref = malloc(sizeof(genc_real) * T * V), *got = malloc(sizeof(genc_real) * T * V);
    full_logits(ctx, m, tok, T, ref);
    genc_lm_cache *c;
    CHECK(genc_lm_cache_new(ctx, m, 1, T, false, &c) == GENC_OK);
    for (int t = 0; t < T; t++) CHECK(genc_lm_decode(ctx, m, c, tok + t, 1, got + t * V, false, NULL) == GENC_OK);
    CHECK_MSG(count_far(got, ref, (int64_t)T * V) == 0, "%s: token-by-token differs at %d logits", name,
              count_far(got, ref, (int64_t)T * V));
    genc_lm_cache_reset(ctx, c, NULL);
    CHECK(genc_lm_decode(ctx, m, c, tok, P, got, true, NULL) == GENC_OK);
    CHECK(genc_lm_decode(ctx, m, c, tok + P, 5, got + P * V, true, NULL) == GENC_OK);
    for (int t = P + 5; t < T; t++) CHECK(genc_lm_decode(ctx, m, c, tok + t, 1, got + t * V, false, NULL) == GENC_OK);
    CHECK_MSG(count_far(got, ref, (int64_t)T * V) == 0, "%s: prefill + decode differs at %d logits", name,
              count_far(got, ref, (int64_t)T * V));
    CHECK(genc_lm_cache_len(c) == T);
    CHECK(genc_lm_decode(ctx, m, c, tok, 1, got, false, NULL) == GENC_EINVAL); /* full */
    genc_clear_error(ctx);
    genc_lm_cache_free(c);
    free(ref), free(got);
}

/* Rows of lengths 11, 6 and 3 left-padded into one batch give each row's own logits. */
static void check_left_padding(genc_ctx *ctx, genc_lm *m) {
    enum { B = 3, L = 11, NEW = 4 };
    int V = m->cfg.vocab_size, lens[B] = {11, 6, 3};
    int32_t rows[B][L + NEW], batch[B * L], start[B], step[B];
    genc_real *got = malloc(sizeof(genc_real) * B * V), *ref = malloc(sizeof(genc_real) * (L + NEW) * V);
    for (int b = 0; b < B; b++) {
        random_tokens(rows[b], L + NEW, V, 100 + b);
        start[b] = L - lens[b];
        for (int i = 0; i < L; i++) batch[b * L + i] = i < start[b] ? 2 : rows[b][i - start[b]];
    }
    genc_lm_cache *c;
    CHECK(genc_lm_cache_new(ctx, m, B, L + NEW, false, &c) == GENC_OK);
    CHECK(genc_lm_cache_reset(ctx, c, start) == GENC_OK);
    CHECK(genc_lm_decode(ctx, m, c, batch, L, got, false, NULL) == GENC_OK);
    for (int j = 0; j <= NEW; j++) {
        for (int b = 0; b < B; b++) {
            full_logits(ctx, m, rows[b], lens[b] + j, ref);
            CHECK_MSG(count_far(got + b * V, ref + (lens[b] + j - 1) * V, V) == 0, "row %d after %d new tokens", b, j);
            if (j < NEW) step[b] = rows[b][lens[b] + j];
        }
        if (j < NEW) CHECK(genc_lm_decode(ctx, m, c, step, 1, got, false, NULL) == GENC_OK);
    }
    genc_lm_cache_free(c);
    free(got), free(ref);
}

/* The MTP module through the cache equals the training forward's MTP logits. */
static void check_mtp_decode(genc_ctx *ctx, genc_lm *m) {
    enum { T = 16 };
    int V = m->cfg.vocab_size, dim = m->cfg.dim;
    int32_t tok[T + 1];
    random_tokens(tok, T + 1, V, 55);
    genc_lm_losses L;
    CHECK(genc_lm_forward_train(ctx, m, tok, 1, T, &L) == GENC_OK);
    genc_real *ref = malloc(sizeof(genc_real) * (T - 1) * V), *got = malloc(sizeof(genc_real) * (T - 1) * V);
    genc_real *h = malloc(sizeof(genc_real) * T * dim);
    memcpy(ref, L.mtp_logits[0]->data, sizeof(genc_real) * (T - 1) * V);
    genc_step_reset(ctx);
    genc_lm_cache *c;
    CHECK(genc_lm_cache_new(ctx, m, 1, T, true, &c) == GENC_OK);
    CHECK(genc_lm_decode(ctx, m, c, tok, T, NULL, false, h) == GENC_OK);
    CHECK(genc_lm_mtp_decode(ctx, m, c, 1, h, tok + 1, 6, got, true, NULL) == GENC_OK); /* prefill 6 */
    for (int i = 6; i < T - 1; i++)
        CHECK(genc_lm_mtp_decode(ctx, m, c, 1, h + i * dim, tok + 1 + i, 1, got + i * V, false, NULL) == GENC_OK);
    CHECK_MSG(count_far(got, ref, (int64_t)(T - 1) * V) == 0, "MTP logits differ at %d", count_far(got, ref, (int64_t)(T - 1) * V));
    genc_lm_cache_free(c);
    free(ref), free(got), free(h);
}

/* Greedy self-speculative generation gives plain greedy generation's tokens. */
static void check_speculative(genc_ctx *ctx, genc_lm *m) {
    int32_t prompt[5] = {3, 17, 42, 99, 7};
    const int32_t *prompts[1] = {prompt};
    int64_t plen = 5;
    genc_gen_config cf = {.max_new = 48, .sampler = {0, 0, 1}, .eos_id = -1};
    genc_gen_result plain, spec;
    CHECK(genc_lm_generate(ctx, m, prompts, &plen, 1, &cf, &plain) == GENC_OK);
    cf.speculative = true;
    CHECK(genc_lm_generate(ctx, m, prompts, &plen, 1, &cf, &spec) == GENC_OK);
    CHECK(plain.len[0] == 48 && spec.len[0] == 48);
    int same = 0;
    for (int i = 0; i < 48; i++) same += plain.tokens[i] == spec.tokens[i];
    CHECK_MSG(same == 48, "speculative greedy agrees on %d of 48 tokens", same);
    for (int i = 0; i < 48; i++) CHECK_CLOSE(spec.logprobs[i], plain.logprobs[i], 1e-3, 1e-4);
    CHECK(spec.drafted > 0 && spec.accepted >= 0 && spec.accepted <= spec.drafted);
    CHECK(spec.forwards < plain.forwards + 1);
    for (int i = 0; getenv("GENC_TEST_VERBOSE") && i < 48; i++) printf("%d%c", plain.tokens[i], i == 47 ? '\n' : ' ');
    printf("speculative: %lld of %lld drafts accepted, %lld forwards vs %lld\n",
           (long long)spec.accepted, (long long)spec.drafted, (long long)spec.forwards, (long long)plain.forwards);
    genc_gen_result_free(&plain), genc_gen_result_free(&spec);
    /* temperature > 0 runs and stays in the vocabulary */
    cf.sampler = (genc_sampler){0.8, 50, 0.95};
    CHECK(genc_lm_generate(ctx, m, prompts, &plen, 1, &cf, &spec) == GENC_OK);
    for (int i = 0; i < spec.len[0]; i++) CHECK(spec.tokens[i] >= 0 && spec.tokens[i] < m->cfg.vocab_size);
    genc_gen_result_free(&spec);
}

/* With every lm_head row zeroed all logits tie, so main model and drafts all pick token 0:
 * every draft is accepted (the full-acceptance path and its bonus token). */
static void check_speculative_zero_head(genc_ctx *ctx, genc_lm *m) {
    int64_t n = genc_numel(m->lm_head);
    genc_real *keep = malloc(sizeof(genc_real) * n);
    memcpy(keep, m->lm_head->data, sizeof(genc_real) * n);
    memset(m->lm_head->data, 0, sizeof(genc_real) * n);
    check_speculative(ctx, m);
    memcpy(m->lm_head->data, keep, sizeof(genc_real) * n);
    free(keep);
}

static void check_samplers(genc_ctx *ctx) {
    enum { V = 6 };
    genc_real l[V] = {1.0f, 3.0f, 0.5f, 3.0f, -2.0f, 2.0f}, p[V];
    genc_sampler greedy = {0, 0, 1}, k1 = {1.5, 1, 1};
    double lp;
    CHECK(genc_sample(ctx, &greedy, l, V, &lp) == 1); /* tie 1 vs 3: the lowest id */
    CHECK_CLOSE(lp, genc_sample_logprob(&(genc_sampler){1, 0, 1}, l, V, 1), 1e-12, 1e-12);
    for (int i = 0; i < 20; i++) CHECK(genc_sample(ctx, &k1, l, V, NULL) == 1); /* top-k 1 = greedy */
    /* crafted distribution p = (0.4, 0.25, 0.2, 0.1, 0.05, 0): top-p 0.6 keeps {0, 1}, 0.7 keeps {0, 1, 2} */
    genc_real d[V] = {0.4f, 0.25f, 0.2f, 0.1f, 0.05f, 1e-30f}, ld[V];
    for (int i = 0; i < V; i++) ld[i] = logf(d[i]);
    CHECK(genc_sampler_probs(ctx, &(genc_sampler){1, 0, 0.6}, ld, V, p) == GENC_OK);
    CHECK(p[0] > 0 && p[1] > 0 && p[2] == 0 && p[3] == 0 && p[4] == 0 && p[5] == 0);
    CHECK_CLOSE(p[0], 0.4 / 0.65, 1e-5, 1e-6);
    CHECK(genc_sampler_probs(ctx, &(genc_sampler){1, 0, 0.7}, ld, V, p) == GENC_OK);
    CHECK(p[2] > 0 && p[3] == 0);
    CHECK(genc_sampler_probs(ctx, &(genc_sampler){1, 0, 0.01}, ld, V, p) == GENC_OK);
    CHECK(p[0] == 1 && p[1] == 0); /* at least one token */
    CHECK(genc_sampler_probs(ctx, &(genc_sampler){1, 4, 0.9}, ld, V, p) == GENC_OK); /* top-4 mass 0.95 */
    CHECK(p[3] > 0 && p[4] == 0);                                                  /* 0.9 * 0.95 needs 4 */
    /* same seed, same samples; draws follow the distribution */
    int32_t a[64], b[64], count0 = 0;
    genc_sampler t1 = {1, 0, 1};
    genc_rng_seed(ctx, 11);
    for (int i = 0; i < 64; i++) a[i] = genc_sample(ctx, &t1, ld, V, NULL), count0 += a[i] == 0;
    genc_rng_seed(ctx, 11);
    for (int i = 0; i < 64; i++) b[i] = genc_sample(ctx, &t1, ld, V, NULL);
    CHECK(!memcmp(a, b, sizeof a));
    CHECK(count0 > 10 && count0 < 45);
    CHECK(genc_sampler_check(ctx, &(genc_sampler){-1, 0, 1}) == GENC_EINVAL);
    genc_clear_error(ctx);
    CHECK(genc_sampler_check(ctx, &(genc_sampler){1, 0, 0}) == GENC_EINVAL);
    genc_clear_error(ctx);
}

typedef struct {
    char buf[4096];
    size_t n;
} sink;

static int collect(void *user, int64_t row, int32_t id, const uint8_t *text, size_t n) {
    sink *s = user;
    if (row == 0 && text && s->n + n < sizeof s->buf) memcpy(s->buf + s->n, text, n), s->n += n;
    return 0;
}

/* Batched rows equal rows alone; eos ends a row; stop strings end the text and are never streamed. */
static void check_generate(genc_ctx *ctx, genc_lm *m) {
    int32_t p0[6] = {5, 9, 200, 31, 4, 77}, p1[2] = {250, 8}, p2[4] = {1, 2, 3, 4};
    const int32_t *prompts[3] = {p0, p1, p2};
    int64_t plen[3] = {6, 2, 4};
    genc_gen_config cf = {.max_new = 12, .sampler = {0, 0, 1}, .eos_id = -1, .pad_id = 2};
    genc_gen_result all, one;
    CHECK(genc_lm_generate(ctx, m, prompts, plen, 3, &cf, &all) == GENC_OK);
    for (int b = 0; b < 3; b++) {
        CHECK(genc_lm_generate(ctx, m, prompts + b, plen + b, 1, &cf, &one) == GENC_OK);
        CHECK(all.len[b] == 12 && one.len[0] == 12);
        CHECK_MSG(!memcmp(all.tokens + b * 12, one.tokens, 12 * sizeof(int32_t)), "batched row %d differs", b);
        genc_gen_result_free(&one);
    }
    /* eos: make the second token of row 1 the eos */
    cf.eos_id = all.tokens[12 + 1];
    CHECK(genc_lm_generate(ctx, m, prompts, plen, 3, &cf, &one) == GENC_OK);
    CHECK(one.finish[1] == GENC_GEN_EOS && one.len[1] <= 2);
    genc_gen_result_free(&one);
    /* stop strings on decoded bytes (a byte-level tokenizer with no merges) */
    genc_tokenizer *tok;
    CHECK(genc_tokenizer_from_merges(ctx, NULL, 0, "test", &tok) == GENC_OK);
    cf.eos_id = -1, cf.tok = tok;
    CHECK(genc_lm_generate(ctx, m, prompts, plen, 1, &cf, &one) == GENC_OK);
    CHECK(one.text_len[0] > 0);
    char stop[3] = {(char)one.text[0][3], (char)one.text[0][4], 0}; /* bytes 3-4 of the full text */
    if (!stop[0] || !stop[1]) stop[0] = 'x', stop[1] = 0;
    const char *stops[1] = {stop};
    int64_t first = strstr((char *)one.text[0], stop) - (char *)one.text[0];
    sink s = {.n = 0};
    cf.stops = stops, cf.n_stops = 1, cf.on_token = collect, cf.user = &s;
    genc_gen_result st;
    CHECK(genc_lm_generate(ctx, m, prompts, plen, 1, &cf, &st) == GENC_OK);
    CHECK(st.finish[0] == GENC_GEN_STOP && (int64_t)st.text_len[0] == first);
    CHECK(s.n == st.text_len[0] && !memcmp(s.buf, st.text[0], s.n));
    genc_gen_result_free(&st), genc_gen_result_free(&one), genc_gen_result_free(&all);
    genc_tokenizer_free(tok);
}

static void check_memory(genc_lm *m) {
    const genc_lm_config *c = &m->cfg;
    CHECK(genc_lm_cache_bytes_per_token(m) == 4 * c->n_layers * (c->kv_lora_rank + c->qk_rope_dim));
    CHECK(genc_lm_mha_cache_bytes_per_token(m) == 4 * c->n_layers * c->n_heads * (c->qk_nope_dim + c->qk_rope_dim + c->v_dim));
    genc_lm_config v3 = *c; /* the V3 numbers of the reference sheet: 576 vs 40,960 per layer */
    v3.n_layers = 1, v3.kv_lora_rank = 512, v3.qk_rope_dim = 64, v3.n_heads = 128, v3.qk_nope_dim = 128, v3.v_dim = 128;
    genc_lm mv = {.cfg = v3};
    CHECK(genc_lm_cache_bytes_per_token(&mv) == 576 * 4 && genc_lm_mha_cache_bytes_per_token(&mv) == 40960 * 4);
}

int main(void) {
    genc_ctx *ctx = genc_ctx_new();
    genc_set_threads(ctx, 2);
    genc_rng_seed(ctx, 1);
    genc_lm moe, dense, moe2, moe3, yarn;
    genc_lm_config cm = moe_config(), cd = dense_config(), c2 = moe_config(), c3 = moe_config(), cy = yarn_config();
    c2.mtp_depth = 2, c3.mtp_depth = 3;
    CHECK(genc_lm_init(ctx, &moe, &cm, 0.15) == GENC_OK);
    CHECK(genc_lm_init(ctx, &dense, &cd, 0.15) == GENC_OK);
    CHECK(genc_lm_init(ctx, &moe2, &c2, 0.15) == GENC_OK);
    CHECK(genc_lm_init(ctx, &moe3, &c3, 0.15) == GENC_OK);
    CHECK(genc_lm_init(ctx, &yarn, &cy, 0.15) == GENC_OK);
    check_cache_equals_full(ctx, &moe, "moe");
    check_cache_equals_full(ctx, &dense, "dense");
    check_cache_equals_full(ctx, &yarn, "yarn");
    check_left_padding(ctx, &moe);
    check_left_padding(ctx, &dense);
    check_mtp_decode(ctx, &moe);
    check_speculative(ctx, &moe);
    check_speculative(ctx, &moe2);
    check_speculative(ctx, &moe3); /* D = 3: a rejection cuts the MTP caches below n */
    check_speculative_zero_head(ctx, &moe2);
    check_speculative_zero_head(ctx, &moe3);
    check_samplers(ctx);
    check_generate(ctx, &moe);
    check_memory(&moe);
    genc_lm_free(&moe), genc_lm_free(&dense), genc_lm_free(&moe2), genc_lm_free(&moe3), genc_lm_free(&yarn);
    genc_ctx_free(ctx);
    return test_report("test_lm_decode");
}
