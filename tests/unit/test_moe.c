/* DeepSeekMoE balancing and routing rules checked exactly, where the PyTorch reference
 * comparison cannot see them: the auxiliary-loss-free bias update moves every expert's bias
 * by exactly +gamma (load below the mean), -gamma (above) or 0 (at the mean), from
 * fabricated loads, and only in aux_free mode with gamma > 0; MaxVio from the same loads; routing ties (a zero router:
 * every score equal) go to the lower index, for groups and for experts. */
#include "genc/lm.h"
#include "test.h"

#include <stdlib.h>

/* 8 experts in 4 groups of 2, 2 groups kept, 3 experts per token; layers 1 and 2 MoE. */
static genc_lm_config moe_config(void) {
    genc_lm_config c;
    genc_lm_preset(NULL, "tiny", &c);
    c.vocab_size = 64, c.max_seq = 32, c.n_layers = 3, c.n_groups = 4, c.topk_groups = 2, c.n_active = 3;
    c.bias_gamma = 0.25; /* exact in binary: b + gamma is exact for the biases below */
    return c;
}

/* Fill each routed block's loads (tokens N = 8, K = 3, E = 8: mean load 3) and biases. */
static void fabricate(genc_lm *m, const int64_t *load) {
    for (int i = 0; i < m->cfg.n_layers + m->cfg.mtp_depth; i++) {
        genc_lm_block *k = &m->blocks[i];
        if (!k->router) continue;
        k->load_tokens = 8;
        for (int e = 0; e < m->cfg.n_routed; e++) k->load[e] = load[e], k->router_bias->data[e] = (genc_real)(0.125 * e - 0.5);
    }
}

static void test_bias_update(genc_ctx *ctx) {
    genc_lm_config c = moe_config();
    genc_lm m;
    CHECK(genc_lm_init(ctx, &m, &c, 0.1) == GENC_OK);
    /* loads sum to N * K = 24; signs of mean - load: + 0 - + - 0 + 0 */
    const int64_t load[8] = {0, 3, 7, 1, 5, 3, 2, 3};
    const int sign[8] = {1, 0, -1, 1, -1, 0, 1, 0};
    fabricate(&m, load);
    m.blocks[2].load_tokens = 0; /* a block that routed nothing keeps its bias */
    genc_lm_update_bias(&m);
    int routed = 0, bad = 0;
    for (int i = 0; i < c.n_layers + c.mtp_depth; i++) {
        genc_lm_block *k = &m.blocks[i];
        if (!k->router) continue;
        routed++;
        for (int e = 0; e < 8; e++) {
            double want = 0.125 * e - 0.5 + (i == 2 ? 0 : c.bias_gamma * sign[e]);
            if (k->router_bias->data[e] != want) {
                fprintf(stderr, "block %d expert %d (load %lld): bias %.9g, expected %.9g\n", i, e,
                        (long long)load[e], (double)k->router_bias->data[e], want);
                bad++;
            }
        }
    }
    CHECK_MSG(routed == 3 && bad == 0, "%d routed blocks, %d biases off", routed, bad);
    /* MaxVio = (max load - mean) / mean = (7 - 3) / 3; a dense block and one that routed nothing: 0 */
    CHECK_CLOSE(genc_lm_maxvio(&m, 1), 4.0 / 3.0, 1e-12, 0);
    CHECK(genc_lm_maxvio(&m, 0) == 0 && genc_lm_maxvio(&m, 2) == 0);
    /* twice: the step is the same (a sign, not a proportional step) */
    fabricate(&m, load);
    genc_lm_update_bias(&m), genc_lm_update_bias(&m);
    CHECK(m.blocks[1].router_bias->data[0] == (genc_real)(-0.5 + 0.5) &&
          m.blocks[1].router_bias->data[2] == (genc_real)(-0.25 - 0.5) && m.blocks[1].router_bias->data[1] == (genc_real)-0.375);
    /* other balancing modes and gamma 0 leave the biases alone */
    genc_balance_mode modes[2] = {GENC_BAL_AUX_LOSS, GENC_BAL_NONE};
    for (int i = 0; i < 3; i++) {
        fabricate(&m, load);
        m.cfg.balance = i < 2 ? modes[i] : GENC_BAL_AUX_FREE;
        m.cfg.bias_gamma = i < 2 ? 0.25 : 0;
        genc_lm_update_bias(&m);
        int moved = 0;
        for (int e = 0; e < 8; e++) moved += m.blocks[1].router_bias->data[e] != (genc_real)(0.125 * e - 0.5);
        CHECK_MSG(moved == 0, "case %d: %d biases moved", i, moved);
    }
    genc_lm_free(&m);
}

/* Route B x T tokens through a model whose routers are zero (every score sigmoid(0)) and
 * whose biases are `bias`; load gets block 1's loads (block 2, also MoE, must agree). */
static void route_zero(genc_ctx *ctx, genc_lm *m, const genc_real *bias, int64_t *load) {
    for (int i = 0; i < m->cfg.n_layers + m->cfg.mtp_depth; i++) {
        genc_lm_block *k = &m->blocks[i];
        if (!k->router) continue;
        memset(k->router->data, 0, (size_t)genc_numel(k->router) * sizeof(genc_real));
        for (int e = 0; e < m->cfg.n_routed; e++) k->router_bias->data[e] = bias[e];
    }
    int32_t tokens[2 * 6];
    for (int i = 0; i < 12; i++) tokens[i] = (int32_t)(i * 5 % 64);
    genc_step_reset(ctx);
    CHECK(genc_lm_logits(ctx, m, tokens, 2, 6) != NULL);
    CHECK(m->blocks[1].load_tokens == 12 && m->blocks[2].load_tokens == 12);
    for (int e = 0; e < 8; e++) load[e] = m->blocks[1].load[e];
    for (int e = 0; e < 8; e++) CHECK(m->blocks[2].load[e] == load[e]);
}

static void test_ties(genc_ctx *ctx) {
    genc_lm_config c = moe_config();
    genc_lm m;
    CHECK(genc_lm_init(ctx, &m, &c, 0.1) == GENC_OK);
    int64_t load[8];
    /* all equal: groups 0 and 1 are kept, then experts 0, 1, 2 */
    const genc_real zero[8] = {0};
    route_zero(ctx, &m, zero, load);
    const int64_t want0[8] = {12, 12, 12, 0, 0, 0, 0, 0};
    CHECK_MSG(!memcmp(load, want0, sizeof load), "all tied: loads %lld %lld %lld %lld %lld %lld %lld %lld",
              (long long)load[0], (long long)load[1], (long long)load[2], (long long)load[3], (long long)load[4],
              (long long)load[5], (long long)load[6], (long long)load[7]);
    /* groups 0 and 3 tie (0.5 each) above groups 1 and 2; experts 1 and 6 tie first, then 0 and 7 */
    const genc_real b1[8] = {0, 0.5, 0, 0, 0, 0, 0.5, 0};
    route_zero(ctx, &m, b1, load);
    const int64_t want1[8] = {12, 12, 0, 0, 0, 0, 12, 0};
    CHECK_MSG(!memcmp(load, want1, sizeof load), "tied pairs: loads %lld %lld %lld %lld %lld %lld %lld %lld",
              (long long)load[0], (long long)load[1], (long long)load[2], (long long)load[3], (long long)load[4],
              (long long)load[5], (long long)load[6], (long long)load[7]);
    /* groups 1, 2, 3 tie (0.25 each) below group 0 (0.5): groups 0 and 1 kept */
    const genc_real b2[8] = {0.25, 0.25, 0.125, 0.125, 0.125, 0.125, 0.125, 0.125};
    route_zero(ctx, &m, b2, load);
    const int64_t want2[8] = {12, 12, 12, 0, 0, 0, 0, 0};
    CHECK_MSG(!memcmp(load, want2, sizeof load), "tied groups: loads %lld %lld %lld %lld %lld %lld %lld %lld",
              (long long)load[0], (long long)load[1], (long long)load[2], (long long)load[3], (long long)load[4],
              (long long)load[5], (long long)load[6], (long long)load[7]);
    genc_lm_free(&m);
}

int main(void) {
    genc_ctx *ctx = genc_ctx_new();
    test_bias_update(ctx);
    test_ties(ctx);
    genc_ctx_free(ctx);
    return test_report("test_moe");
}
