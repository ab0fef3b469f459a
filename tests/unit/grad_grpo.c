/* Gradient checks (double precision) of the fused GRPO objective, for each aggregation, with
 * and without the KL term, with ratios inside and outside the clip range, and in the
 * on-policy case (old log-probs equal to the current ones: every ratio exactly 1). */
#include "gradcheck.h"

enum { N = 9, V = 6, ROWS = 3, T = 3 };

typedef struct {
    genc_grpo_batch b;
    int32_t actions[N];
    genc_real old_logp[N], ref_logp[N], adv[N], weight[N], mask[N];
} fixture;

static genc_tensor *f_grpo(genc_ctx *c, genc_tensor **in, void *u) {
    fixture *f = u;
    return genc_grpo_loss(c, in[0], &f->b, NULL);
}

static void current_logp(const genc_tensor *z, const int32_t *a, genc_real *out) {
    for (int i = 0; i < N; i++) {
        double mx = -1e300, s = 0;
        for (int v = 0; v < V; v++) mx = z->data[i * V + v] > mx ? z->data[i * V + v] : mx;
        for (int v = 0; v < V; v++) s += exp(z->data[i * V + v] - mx);
        out[i] = (genc_real)(z->data[i * V + a[i]] - mx - log(s));
    }
}

static void setup(fixture *f, const genc_tensor *z, genc_grpo_agg agg, double beta, double shift, uint64_t seed,
                  double tau) {
    for (int i = 0; i < N; i++) {
        f->actions[i] = (int32_t)(genc_philox_u32(seed, (uint64_t)i) % V);
        f->mask[i] = (i % T) != 0 || i == 0; /* the first token of rows 1 and 2 is "prompt" */
        f->adv[i] = (genc_real)genc_philox_normal(seed + 1, (uint64_t)(i / T));
    }
    current_logp(z, f->actions, f->old_logp);
    for (int i = 0; i < N; i++) {
        /* shift > 0 moves ratios to exp(+-shift): some inside, some outside the clip range */
        f->old_logp[i] += (genc_real)(shift * (i % 3 - 1));
        f->ref_logp[i] = f->old_logp[i] + (genc_real)(0.3 * genc_philox_normal(seed + 2, (uint64_t)i));
    }
    genc_grpo_weights(agg, f->mask, ROWS, T, 4, f->weight);
    f->b = (genc_grpo_batch){f->actions, f->old_logp, f->ref_logp, f->adv, f->weight, 0.2, 0.28, beta, tau};
}

int main(void) {
    genc_ctx *ctx = genc_ctx_new();
    int64_t shape[2] = {N, V};
    genc_tensor *z = gc_input(ctx, 2, shape, 42);
    const char *names[3] = {"grpo", "dr_grpo", "dapo"};
    fixture f;
    char label[96];
    for (int agg = 0; agg < 3; agg++)
        for (int k = 0; k < 2; k++)
            for (int sh = 0; sh < 2; sh++) {
                double beta = k ? 0.04 : 0, shift = sh ? 0.5 : 0;
                setup(&f, z, (genc_grpo_agg)agg, beta, shift, 7, 1.0);
                snprintf(label, sizeof label, "grpo %s beta %g %s", names[agg], beta, sh ? "off-policy" : "on-policy");
                gradcheck(ctx, label, f_grpo, &z, 1, &f, 1e-6, 1e-9);
                setup(&f, z, (genc_grpo_agg)agg, beta, shift, 7, 0.7); /* the sampling temperature */
                snprintf(label, sizeof label, "grpo %s beta %g %s tau 0.7", names[agg], beta, sh ? "off-policy" : "on-policy");
                gradcheck(ctx, label, f_grpo, &z, 1, &f, 1e-6, 1e-9);
            }
    { /* stats: on-policy ratios are 1, nothing clipped, KL 0 when ref == old == current */
        setup(&f, z, GENC_GRPO_AGG_SEQ, 0.04, 0, 7, 1.0);
        memcpy(f.ref_logp, f.old_logp, sizeof f.ref_logp);
        genc_grpo_stats st;
        genc_step_reset(ctx);
        genc_tensor *l = genc_grpo_loss(ctx, z, &f.b, &st);
        CHECK(l != NULL);
        CHECK_CLOSE(st.ratio, 1.0, 1e-12, 1e-12);
        CHECK_CLOSE(st.clip_frac, 0.0, 0, 1e-12);
        CHECK_CLOSE(st.kl, 0.0, 0, 1e-12);
        CHECK(st.entropy > 0 && st.entropy < log((double)V) + 1e-9);
        /* on policy the objective is sum_n w_n A_n */
        double want = 0;
        for (int i = 0; i < N; i++) want -= f.weight[i] * f.adv[i];
        CHECK_CLOSE(l->data[0], want, 1e-10, 1e-12);
    }
    { /* weights: SEQ rows sum to 1/rows; TOKEN all equal; CONST uses max_len */
        genc_real mask[6] = {1, 1, 0, 1, 0, 0}, w[6];
        genc_grpo_weights(GENC_GRPO_AGG_SEQ, mask, 2, 3, 3, w);
        CHECK_CLOSE(w[0] + w[1], 0.5, 1e-12, 0);
        CHECK_CLOSE(w[3], 0.5, 1e-12, 0);
        CHECK(w[2] == 0);
        genc_grpo_weights(GENC_GRPO_AGG_TOKEN, mask, 2, 3, 3, w);
        CHECK_CLOSE(w[0], 1.0 / 3, 1e-12, 0);
        genc_grpo_weights(GENC_GRPO_AGG_CONST, mask, 2, 3, 10, w);
        CHECK_CLOSE(w[3], 1.0 / 20, 1e-12, 0);
    }
    { /* errors */
        setup(&f, z, GENC_GRPO_AGG_SEQ, 0.04, 0, 7, 1.0);
        f.b.ref_logp = NULL;
        genc_step_reset(ctx);
        CHECK(genc_grpo_loss(ctx, z, &f.b, NULL) == NULL && genc_ctx_status(ctx) == GENC_EINVAL);
        genc_clear_error(ctx);
        f.b.ref_logp = f.ref_logp, f.actions[0] = V;
        CHECK(genc_grpo_loss(ctx, z, &f.b, NULL) == NULL && strstr(genc_last_error(ctx), "actions[0]"));
        genc_clear_error(ctx);
    }
    genc_tensor_free(z);
    genc_ctx_free(ctx);
    return test_report("grad_grpo");
}
