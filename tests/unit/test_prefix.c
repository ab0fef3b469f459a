/* Prefix-tuning checks (prefix.h) on tiny random models: the training forward with a prefix
 * equals the latent-cache decode with the same prefix prefilled (every position); a batch
 * mixing rows with different prefixes and a row without one gives each row's tokens alone;
 * a zero-length-free sanity: the prefix changes the logits; gradients of a loss with respect
 * to the prefix latents (c_kv and k_pe) against float central differences (h = 1e-2,
 * |d| <= 2e-3 + 5e-2 |fd|: float32 rounding of the loss is ~1e-6 relative, so the
 * difference quotient carries ~1e-4 of noise; the tolerance still catches a wrong or missing
 * term, which is O(|g|)); prefix save/load round trip, and a prefix loaded onto another
 * base model rejected naming both hashes; prefix training leaves base parameters unchanged;
 * the input/output examples reader. */
#include "genc/prefix.h"
#include "genc/ops.h"
#include "genc/train.h"
#include "test.h"

#include <stdlib.h>

static genc_lm_config config(bool moe) {
    genc_lm_config c;
    genc_lm_preset(NULL, "tiny", &c);
    c.vocab_size = 300, c.max_seq = 64, c.topk_groups = 1, c.mtp_depth = 0;
    if (!moe) c.q_lora_rank = 0, c.n_routed = 0, c.n_heads = 2, c.kv_lora_rank = 24;
    return c;
}

static void random_prefix(genc_lm_prefix *p, uint64_t seed) {
    int64_t n = p->n_layers * p->len * (p->rank + p->rope);
    for (int64_t i = 0; i < n; i++) p->data[i] = (genc_real)((genc_philox_u32(seed, (uint64_t)i) % 2001) / 1000.0 - 1.0);
}

/* Training forward with the prefix vs. cache prefilled with it, then a prefill + token steps. */
static void check_forward_equals_decode(genc_ctx *ctx, genc_lm *m, const genc_lm_prefix *p) {
    enum { T = 12 };
    int32_t tok[T];
    int nl = m->cfg.n_layers;
    int64_t V = m->cfg.vocab_size;
    for (int i = 0; i < T; i++) tok[i] = (int32_t)(genc_philox_u32(7, (uint64_t)i) % 300);
    genc_tensor *ckv[16], *kpe[16];
    CHECK(genc_lm_prefix_views(ctx, p, ckv, kpe) == GENC_OK);
    genc_tensor *y = genc_lm_prefix_logits(ctx, m, ckv, kpe, tok, 1, T);
    genc_tensor *y0 = genc_lm_logits(ctx, m, tok, 1, T);
    CHECK(y && y0);
    if (!y || !y0) return;
    double diff = 0;
    for (int64_t i = 0; i < T * V; i++) diff = fmax(diff, fabs(y->data[i] - y0->data[i]));
    CHECK_MSG(diff > 1e-3, "the prefix does not change the logits (max diff %g)", diff);
    genc_lm_cache *c = NULL;
    genc_real *lg = malloc((size_t)(T * V) * sizeof *lg);
    int32_t start = (int32_t)p->len;
    CHECK(genc_lm_cache_new(ctx, m, 1, p->len + T, false, &c) == GENC_OK);
    CHECK(genc_lm_cache_reset(ctx, c, &start) == GENC_OK);
    CHECK(genc_lm_cache_set_prefix(ctx, c, 0, p) == GENC_OK);
    /* pad the prefix slots: a prefill of L pad tokens then the sequence */
    int32_t ids[64] = {0};
    memcpy(ids + p->len, tok, sizeof tok);
    genc_real *all = malloc((size_t)((p->len + T) * V) * sizeof *all);
    CHECK(genc_lm_decode(ctx, m, c, ids, p->len + 5, all, true, NULL) == GENC_OK);
    for (int t = 5; t < T; t++) CHECK(genc_lm_decode(ctx, m, c, tok + t, 1, all + (p->len + t) * V, false, NULL) == GENC_OK);
    int bad = 0;
    for (int64_t i = 0; i < T * V; i++)
        bad += !(fabs(all[p->len * V + i] - y->data[i]) <= 1e-4 + 1e-4 * fabs(y->data[i]));
    CHECK_MSG(bad == 0, "%d logits of the decode with a prefix differ from the training forward (%d layers)", bad, nl);
    genc_lm_cache_free(c);
    free(lg), free(all);
    genc_step_reset(ctx);
}

/* Rows with prefix p, prefix q (another length) and none, in one batch, equal each alone. */
static void check_mixed_batch(genc_ctx *ctx, genc_lm *m, const genc_lm_prefix *p, const genc_lm_prefix *q) {
    int32_t a[5] = {3, 14, 15, 92, 65}, b[3] = {35, 89, 79}, d[7] = {32, 38, 46, 26, 43, 38, 32};
    const int32_t *prompts[3] = {a, b, d};
    int64_t plen[3] = {5, 3, 7};
    const genc_lm_prefix *pre[3] = {p, q, NULL};
    genc_gen_config cf = {.max_new = 8, .sampler = {0, 0, 1}, .eos_id = -1, .pad_id = 0};
    genc_gen_result all, one;
    CHECK(genc_lm_prefix_generate(ctx, m, pre, prompts, plen, 3, &cf, &all) == GENC_OK);
    for (int r = 0; r < 3; r++) {
        CHECK(genc_lm_prefix_generate(ctx, m, pre + r, prompts + r, plen + r, 1, &cf, &one) == GENC_OK);
        CHECK_MSG(!memcmp(one.tokens, all.tokens + r * 8, 8 * sizeof(int32_t)), "row %d of the mixed batch differs", r);
        genc_gen_result_free(&one);
    }
    /* different prefixes give different continuations of the same prompt (not a no-op) */
    const genc_lm_prefix *pq[2] = {p, q};
    const int32_t *same[2] = {a, a};
    int64_t sl[2] = {5, 5};
    genc_gen_result two;
    CHECK(genc_lm_prefix_generate(ctx, m, pq, same, sl, 2, &cf, &two) == GENC_OK);
    CHECK(memcmp(two.tokens, two.tokens + 8, 8 * sizeof(int32_t)) != 0);
    genc_gen_result_free(&two);
    genc_gen_result_free(&all);
}

typedef struct {
    genc_lm *m;
    const int32_t *tok;
    int64_t T;
    genc_tensor **ckv, **kpe;
} loss_in;

static double prefix_loss(genc_ctx *ctx, loss_in *li, bool backward) {
    genc_step_reset(ctx);
    bool old = genc_set_grad_enabled(ctx, backward);
    genc_tensor *y = genc_lm_prefix_logits(ctx, li->m, li->ckv, li->kpe, li->tok, 1, li->T - 1);
    genc_tensor *l = genc_cross_entropy(ctx, y, li->tok + 1, -1);
    double v = l ? l->data[0] : NAN;
    if (backward && l) CHECK(genc_backward(ctx, l) == GENC_OK);
    genc_set_grad_enabled(ctx, old);
    return v;
}

/* d loss / d prefix latents against central differences on a few entries of each layer. */
static void check_gradient(genc_ctx *ctx, genc_lm *m) {
    enum { L = 3, T = 10 };
    int nl = m->cfg.n_layers, bad = 0, checked = 0;
    int32_t tok[T];
    for (int i = 0; i < T; i++) tok[i] = (int32_t)(genc_philox_u32(11, (uint64_t)i) % 300);
    genc_tensor *ckv[16], *kpe[16];
    for (int l = 0; l < nl; l++) {
        ckv[l] = genc_param_new(ctx, "ckv", 3, (int64_t[]){1, L, m->cfg.kv_lora_rank});
        kpe[l] = genc_param_new(ctx, "kpe", 3, (int64_t[]){1, L, m->cfg.qk_rope_dim});
        genc_fill_normal(ctx, ckv[l], 0, 1), genc_fill_normal(ctx, kpe[l], 0, 1);
    }
    for (int i = 0; i < m->params.n; i++) m->params.t[i]->requires_grad = false;
    loss_in li = {m, tok, T, ckv, kpe};
    prefix_loss(ctx, &li, true);
    for (int l = 0; l < nl; l++)
        for (int w = 0; w < 2; w++) {
            genc_tensor *t = w ? kpe[l] : ckv[l];
            for (int64_t i = 1; i < genc_numel(t); i += 5) {
                genc_real x = t->data[i], h = 1e-2f;
                t->data[i] = x + h;
                double up = prefix_loss(ctx, &li, false);
                t->data[i] = x - h;
                double dn = prefix_loss(ctx, &li, false);
                t->data[i] = x;
                double fd = (up - dn) / (2 * h), g = t->grad[i];
                bad += !(fabs(g - fd) <= 2e-3 + 5e-2 * fabs(fd)), checked++;
            }
        }
    CHECK_MSG(bad == 0, "%d of %d prefix gradient entries differ from central differences", bad, checked);
    for (int i = 0; i < m->params.n; i++) m->params.t[i]->requires_grad = true;
    for (int l = 0; l < nl; l++) genc_tensor_free(ckv[l]), genc_tensor_free(kpe[l]);
    genc_step_reset(ctx);
}

/* Save/load round trip; another base model is rejected naming both hashes; a prefix as long
 * as the context is refused naming the file. */
static void check_files(genc_ctx *ctx, genc_lm *m, genc_lm *other, const genc_lm_prefix *p) {
    const char *path = "/tmp/genc_test_prefix.safetensors";
    genc_lm_prefix back;
    CHECK(genc_lm_prefix_save(ctx, m, p, path) == GENC_OK);
    CHECK(genc_lm_prefix_load(ctx, path, m, &back) == GENC_OK);
    CHECK(back.len == p->len && !memcmp(back.data, p->data, (size_t)(p->n_layers * p->len * (p->rank + p->rope)) * sizeof(genc_real)));
    genc_lm_prefix_free(&back);
    CHECK(genc_lm_prefix_load(ctx, path, other, &back) != GENC_OK);
    char want[40];
    snprintf(want, sizeof want, "%016llx", (unsigned long long)genc_lm_param_hash(other));
    CHECK_MSG(strstr(genc_last_error(ctx), want) != NULL, "error does not name the base hash: %s", genc_last_error(ctx));
    genc_clear_error(ctx);
    /* a file whose prefix is as long as the context: refused naming the file */
    genc_lm_prefix big = *p;
    big.len = m->cfg.max_seq;
    big.data = calloc((size_t)(big.n_layers * big.len * (big.rank + big.rope)), sizeof(genc_real));
    CHECK(big.data && genc_lm_prefix_save(ctx, m, &big, path) == GENC_OK);
    CHECK(genc_lm_prefix_load(ctx, path, m, &back) == GENC_EFORMAT && back.data == NULL);
    CHECK_MSG(strstr(genc_last_error(ctx), path) == genc_last_error(ctx) && strstr(genc_last_error(ctx), "length"), "%s",
              genc_last_error(ctx));
    genc_clear_error(ctx);
    free(big.data);
    remove(path);
}

/* A few prefix-training steps (reparameterised) lower the loss and leave the base parameters
 * bit for bit; with std 0 (the zero start) the prefix is exactly 0 before the first step. */
static void check_frozen(genc_ctx *ctx, genc_lm *m, double std) {
    uint64_t h0 = genc_lm_param_hash(m);
    genc_lm_prefix_train t;
    genc_tensor *ckv[16], *kpe[16];
    int32_t tok[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    CHECK(genc_lm_prefix_train_init(ctx, m, 4, 16, std, NULL, &t) == GENC_OK);
    if (std == 0) {
        genc_lm_prefix z;
        CHECK(genc_lm_prefix_train_export(ctx, m, &t, &z) == GENC_OK);
        double worst = 0;
        for (int64_t i = 0; i < z.n_layers * z.len * (z.rank + z.rope); i++) worst = fmax(worst, fabs(z.data[i]));
        CHECK_MSG(worst == 0, "zero start: exported prefix has |p| up to %g", worst);
        genc_lm_prefix_free(&z);
        genc_step_reset(ctx);
    }
    for (int i = 0; i < m->params.n; i++) m->params.t[i]->requires_grad = false;
    genc_optim o;
    genc_optim_config oc = genc_optim_defaults(GENC_OPT_ADAMW);
    CHECK(genc_optim_init(ctx, &o, &t.params, &oc) == GENC_OK);
    double first = 0, last = 0;
    for (int step = 0; step < 20; step++) {
        genc_zero_grad(&t.params);
        CHECK(genc_lm_prefix_train_latents(ctx, m, &t, ckv, kpe) == GENC_OK);
        genc_tensor *l = genc_cross_entropy(ctx, genc_lm_prefix_logits(ctx, m, ckv, kpe, tok, 1, 8), tok + 1, -1);
        CHECK(l && genc_backward(ctx, l) == GENC_OK);
        if (l) last = l->data[0], first = step ? first : last;
        genc_optim_step(&o, 1e-2);
        genc_step_reset(ctx);
    }
    CHECK_MSG(last < first, "prefix training (std %g) did not lower the loss (%g -> %g)", std, first, last);
    CHECK(genc_lm_param_hash(m) == h0);
    genc_lm_prefix exp;
    CHECK(genc_lm_prefix_train_export(ctx, m, &t, &exp) == GENC_OK && exp.len == 4 && exp.base_hash == h0);
    genc_lm_prefix_free(&exp);
    genc_optim_free(&o);
    genc_lm_prefix_train_free(&t);
    for (int i = 0; i < m->params.n; i++) m->params.t[i]->requires_grad = true;
    genc_step_reset(ctx);
}

/* An initial prefix through the MLP: W2 is solved so that the exported prefix equals the
 * words' latents (here a random prefix) before any step; too small a hidden size is refused. */
static void check_mlp_init(genc_ctx *ctx, genc_lm *m, const genc_lm_prefix *p) {
    genc_lm_prefix_train t;
    genc_lm_prefix exp;
    CHECK(genc_lm_prefix_train_init(ctx, m, p->len, 16, 1.0, p, &t) == GENC_OK);
    CHECK(genc_lm_prefix_train_export(ctx, m, &t, &exp) == GENC_OK);
    double worst = 0, scale = 0;
    int64_t n = p->n_layers * p->len * (p->rank + p->rope);
    for (int64_t i = 0; i < n; i++) {
        worst = fmax(worst, fabs((double)exp.data[i] - (double)p->data[i]));
        scale = fmax(scale, fabs((double)p->data[i]));
    }
    CHECK_MSG(scale > 0.1 && worst <= 1e-4 * scale, "MLP init misses the prefix: max |d| %g (max |p| %g)", worst, scale);
    genc_lm_prefix_free(&exp);
    genc_lm_prefix_train_free(&t);
    CHECK(genc_lm_prefix_train_init(ctx, m, p->len, p->len - 1, 1.0, p, &t) != GENC_OK);
    genc_lm_prefix_train_free(&t);
    genc_clear_error(ctx);
    genc_step_reset(ctx);
}

/* genc_lm_examples_load: input, output, <|eos|> with n_in the input's length; blank lines
 * skipped; --limit; a bad line and an empty input refused naming FILE:LINE. */
static void check_examples(genc_ctx *ctx) {
    static const char text[] = "name[Strada] => Strada is a restaurant.";
    genc_tokenizer *tok = NULL;
    CHECK(genc_tokenizer_train_memory(ctx, (const uint8_t *)text, sizeof text - 1, 300, &tok) == GENC_OK);
    const char *path = "/tmp/genc_test_prefix_examples.jsonl";
    FILE *f = fopen(path, "w");
    fputs("{\"input\": \"name[Strada] =>\", \"output\": \" Strada is a restaurant.\"}\n\n"
          "{\"input\": \"x\", \"output\": \"\"}\n", f);
    fclose(f);
    genc_lm_examples e;
    int32_t *in = NULL, *out = NULL;
    size_t n_in = 0, n_out = 0;
    CHECK(genc_tokenizer_encode(tok, ctx, (const uint8_t *)"name[Strada] =>", 15, true, &in, &n_in) == GENC_OK);
    CHECK(genc_tokenizer_encode(tok, ctx, (const uint8_t *)" Strada is a restaurant.", 24, true, &out, &n_out) == GENC_OK);
    CHECK(genc_lm_examples_load(ctx, tok, path, 0, &e) == GENC_OK && e.n == 2);
    CHECK(e.ex[0].n_in == (int64_t)n_in && e.ex[0].n == (int64_t)(n_in + n_out + 1));
    CHECK(!memcmp(e.ex[0].ids, in, n_in * sizeof *in) && !memcmp(e.ex[0].ids + n_in, out, n_out * sizeof *out));
    CHECK(e.ex[0].ids[e.ex[0].n - 1] == genc_tokenizer_special(tok, "<|eos|>"));
    CHECK(!strcmp(e.ex[0].output, " Strada is a restaurant.") && e.ex[1].n == e.ex[1].n_in + 1);
    genc_lm_examples_free(&e);
    CHECK(genc_lm_examples_load(ctx, tok, path, 1, &e) == GENC_OK && e.n == 1);
    genc_lm_examples_free(&e);
    free(in), free(out);
    const char *bad[][2] = {{"{\"input\": \"a\"}\n{\"input\": 1, \"output\": \"b\"}\n", ":1: expected an object"},
                            {"\n{\"input\": \"\", \"output\": \"b\"}\n", ":2: expected a non-empty \"input\""},
                            {"\n \n", ": expected at least one example, found none"}};
    for (int i = 0; i < 3; i++) {
        f = fopen(path, "w");
        fputs(bad[i][0], f);
        fclose(f);
        CHECK(genc_lm_examples_load(ctx, tok, path, 0, &e) == GENC_EFORMAT && e.n == 0 && !e.ex);
        CHECK_MSG(strstr(genc_last_error(ctx), path) == genc_last_error(ctx) && strstr(genc_last_error(ctx), bad[i][1]),
                  "%d: %s", i, genc_last_error(ctx));
        genc_clear_error(ctx);
    }
    remove(path);
    genc_tokenizer_free(tok);
}

int main(void) {
    genc_ctx *ctx = genc_ctx_new();
    genc_set_threads(ctx, 2);
    for (int moe = 0; moe < 2; moe++) {
        genc_lm_config c = config(moe);
        genc_lm m, other;
        genc_rng_seed(ctx, 1 + moe);
        CHECK(genc_lm_init(ctx, &m, &c, 0.2) == GENC_OK);
        CHECK(genc_lm_init(ctx, &other, &c, 0.2) == GENC_OK);
        genc_lm_prefix p, q;
        CHECK(genc_lm_prefix_new(ctx, &m, 4, &p) == GENC_OK && genc_lm_prefix_new(ctx, &m, 6, &q) == GENC_OK);
        random_prefix(&p, 5), random_prefix(&q, 6);
        check_forward_equals_decode(ctx, &m, &p);
        check_mixed_batch(ctx, &m, &p, &q);
        if (!moe) check_gradient(ctx, &m);
        check_files(ctx, &m, &other, &p);
        check_frozen(ctx, &m, 1.0);
        check_frozen(ctx, &m, 0.0);
        check_mlp_init(ctx, &m, &q);
        genc_lm_prefix_free(&p), genc_lm_prefix_free(&q);
        genc_lm_free(&m), genc_lm_free(&other);
    }
    check_examples(ctx);
    genc_ctx_free(ctx);
    return test_report("test_prefix");
}
