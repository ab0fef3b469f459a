/* Embedding genc from C: a two-layer perceptron learns XOR with the engine's ops, autograd and
 * AdamW, then a tiny DeepSeek-V3-architecture language model is built and scores a few tokens.
 * Build against an installed genc:  cc train_tiny.c $(pkg-config --cflags --libs genc)
 * Prints the losses and exits 0 when the XOR loss fell below a tenth of its start. */
#include <genc/genc.h>

#include <stdio.h>

static int fail(genc_ctx *ctx, const char *what) {
    fprintf(stderr, "train_tiny: %s: %s\n", what, genc_last_error(ctx));
    genc_ctx_free(ctx);
    return 1;
}

/* logits [4, 2] of the four XOR inputs through tanh(x W1 + b1) W2 */
static genc_tensor *forward(genc_ctx *ctx, genc_params *p, genc_tensor *x) {
    genc_tensor *h = genc_add(ctx, genc_matmul(ctx, x, p->t[0]), p->t[1]);
    return genc_matmul(ctx, genc_tanh(ctx, h), p->t[2]);
}

static double xor_steps(genc_ctx *ctx, genc_params *p, genc_optim *o, int steps, double *first) {
    static const genc_real in[8] = {0, 0, 0, 1, 1, 0, 1, 1};
    static const int32_t target[4] = {0, 1, 1, 0};
    double loss = -1;
    for (int i = 0; i < steps; i++) {
        genc_zero_grad(p);
        genc_tensor *x = genc_tensor_new2(ctx, 4, 2);
        for (int k = 0; k < 8; k++) x->data[k] = in[k];
        genc_tensor *l = genc_cross_entropy(ctx, forward(ctx, p, x), target, -1);
        if (!l || genc_backward(ctx, l)) return -1;
        loss = l->data[0];
        if (i == 0) *first = loss;
        genc_optim_step(o, 0.05);
        genc_step_reset(ctx);
    }
    return loss;
}

static int tiny_lm(genc_ctx *ctx) {
    genc_lm_config c;
    genc_lm m = {0};
    if (genc_lm_preset(ctx, "tiny", &c) || genc_lm_init(ctx, &m, &c, 0.02)) return -1;
    int32_t tokens[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    double loss;
    int64_t count;
    genc_status s = genc_lm_eval_loss(ctx, &m, tokens, 8, 7, 1, &loss, &count);
    if (!s) printf("tiny lm: %lld parameters, untrained loss %.3f over %lld tokens\n",
                   (long long)genc_params_numel(&m.params), loss, (long long)count);
    genc_lm_free(&m);
    return s ? -1 : 0;
}

int main(void) {
    genc_ctx *ctx = genc_ctx_new();
    if (!ctx) return 1;
    genc_set_threads(ctx, 1);
    genc_rng_seed(ctx, 7);
    genc_params p = {0};
    genc_tensor *w1 = genc_params_new(ctx, &p, "w1", 2, (int64_t[]){2, 8});
    genc_tensor *b1 = genc_params_new(ctx, &p, "b1", 1, (int64_t[]){8});
    genc_tensor *w2 = genc_params_new(ctx, &p, "w2", 2, (int64_t[]){8, 2});
    if (!w1 || !b1 || !w2) return fail(ctx, "parameters");
    genc_fill_normal(ctx, w1, 0, 1), genc_fill(b1, 0), genc_fill_normal(ctx, w2, 0, 0.5);
    genc_optim o = {0};
    genc_optim_config oc = genc_optim_defaults(GENC_OPT_ADAMW);
    if (genc_optim_init(ctx, &o, &p, &oc)) return fail(ctx, "optimiser");
    double first = 0, last = xor_steps(ctx, &p, &o, 300, &first);
    genc_optim_free(&o);
    genc_params_free_all(&p);
    if (last < 0) return fail(ctx, "xor");
    printf("xor: loss %.4f -> %.4f after 300 AdamW steps\n", first, last);
    if (tiny_lm(ctx)) return fail(ctx, "tiny lm");
    genc_ctx_free(ctx);
    return last < first / 10 ? 0 : 1;
}
