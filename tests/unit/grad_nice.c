/* Gradient check of NICE's training objective in double precision: src/image/nice.c is
 * compiled into this test with GENC_DOUBLE (CMakeLists.txt) and linked with libgenc_f64,
 * and gradcheck.h compares d log p(x) / d theta from autograd with central differences
 * (rtol 1e-6, atol 1e-8) for every element of every parameter: all coupling weights and
 * biases and the scaling s, for both priors, with s at its zero initialisation and after
 * the data-dependent initialisation, with odd and even numbers of couplings. Each input's
 * gradient is pre-filled (gradcheck.h), so a coupling that overwrote instead of adding its
 * share would fail too.
 *
 * nice.c references three float-only functions this test never calls (checkpoint loading,
 * its parameter budget, and the dataset's permutation helper); they are defined below: the
 * checkpoint loader fails, the budget is a no-op, and the permutation is a plain Fisher-Yates shuffle (NICE only needs some fixed
 * permutation; the gradient does not flow through it). */
#include "genc/data.h"
#include "genc/flow.h"
#include "genc/train.h"
#include "gradcheck.h"

genc_status genc_checkpoint_load(genc_ctx *ctx, const genc_st *st, const genc_params *p, genc_optim *optim,
                                 genc_train_state *state) {
    return genc_error(ctx, GENC_ESTATE, "grad_nice: checkpoints are float-only");
}

void genc_checkpoint_param_budget(genc_ctx *ctx, const genc_st *st) { (void)ctx, (void)st; }

void genc_data_permutation(int64_t *perm, int64_t n, uint64_t key) {
    for (int64_t i = 0; i < n; i++) perm[i] = i;
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)(genc_philox_u32(key, (uint64_t)i) % (uint64_t)(i + 1)), t = perm[i];
        perm[i] = perm[j], perm[j] = t;
    }
}

typedef struct {
    genc_nice *m;
    genc_tensor *x;
} nice_case;

static genc_tensor *f_log_prob(genc_ctx *c, genc_tensor **in, void *u) {
    const nice_case *nc = u;
    return genc_nice_log_prob(c, nc->m, nc->x, NULL);
}

/* Check every parameter of m, at most 8 tensors per gradcheck call. */
static void check_all(genc_ctx *ctx, const char *label, genc_nice *m, genc_tensor *x) {
    nice_case nc = {m, x};
    int n = m->params.n;
    for (int first = 0; first < n; first += 8) {
        int k = n - first < 8 ? n - first : 8;
        char name[128];
        snprintf(name, sizeof name, "%s: parameters %d..%d of %d", label, first, first + k - 1, n);
        gradcheck(ctx, name, f_log_prob, m->params.t + first, k, &nc, 1e-6, 1e-8);
    }
}

static void run(genc_ctx *ctx, genc_nice_prior prior, int couplings, int layers) {
    genc_nice_config cfg = genc_nice_defaults();
    cfg.rows = 2, cfg.cols = 4, cfg.hidden = 5, cfg.layers = layers, cfg.couplings = couplings, cfg.prior = prior;
    cfg.perm_seed = 3;
    genc_nice m;
    CHECK(genc_nice_init(ctx, &m, &cfg) == GENC_OK);
    int64_t shape[2] = {3, 8};
    genc_tensor *x = genc_tensor_new(ctx, 2, shape);
    for (int i = 0; i < 24; i++) x->data[i] = (genc_real)genc_philox_uniform(11, (uint64_t)i);
    char label[96];
    snprintf(label, sizeof label, "%s prior, %d couplings, %d hidden layers",
             prior == GENC_NICE_GAUSSIAN ? "gaussian" : "logistic", couplings, layers);
    check_all(ctx, label, &m, x);
    /* non-zero scaling s, as after training starts */
    genc_step_reset(ctx);
    CHECK(genc_nice_data_init(ctx, &m, x) == GENC_OK);
    int nonzero = 0;
    for (int d = 0; d < 8; d++) nonzero += m.s->data[d] != 0;
    CHECK(nonzero == 8);
    snprintf(label + strlen(label), sizeof label - strlen(label), ", data-initialised s");
    check_all(ctx, label, &m, x);
    genc_tensor_free(x);
    genc_nice_free(&m);
}

int main(void) {
    genc_ctx *ctx = genc_ctx_new();
    genc_rng_seed(ctx, 5);
    run(ctx, GENC_NICE_LOGISTIC, 4, 2);
    run(ctx, GENC_NICE_GAUSSIAN, 3, 1);
    run(ctx, GENC_NICE_LOGISTIC, 1, 0);
    genc_ctx_free(ctx);
    return test_report("grad_nice");
}
