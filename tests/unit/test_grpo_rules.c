/* The R1-Zero rules around GRPO, table-driven: cons@k voting (canonical answers of
 * well-formed responses only), the trivial baselines, the think statistics of the R1 rule
 * (an empty think block is well-formed but earns no format reward), and the prompt
 * templates with their "<think>" prefill. */
#include "test.h"

#include "genc/grpo.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static genc_task_problem arith(int64_t a, int64_t b, const char *ans) {
    genc_task_problem p = {GENC_TASK_ARITH, '+', 2, {a, b}, 0, NULL, (char *)ans, 0};
    p.key = genc_task_problem_key(&p);
    return p;
}

static void test_majority(void) {
    genc_task_problem p = arith(482, 317, "799");
    genc_reward_cfg strict, lenient;
    genc_reward_cfg_default(&strict);
    lenient = strict, lenient.accuracy_needs_format = false;
    struct {
        const char *r[4];
        int64_t k, want_strict, want_lenient;
    } cases[] = {
        /* unparseable and malformed responses never vote: the one well-formed answer wins */
        {{"<answer>800</answer>", "<answer>800</answer>", "<think>x</think><answer>799</answer>", "junk"}, 4, 2, 0},
        /* canonical integers: "0799" and "799" are one answer */
        {{"<think>a</think><answer>0799</answer>", "<think>b</think><answer>800</answer>",
          "<think>c</think><answer> 799 </answer>", "<think>d</think><answer>800</answer>"}, 4, 0, 0},
        /* a tie goes to the answer seen first */
        {{"<think>a</think><answer>800</answer>", "<think>b</think><answer>799</answer>"}, 2, 0, 0},
        /* nothing votes */
        {{"no answer", "<answer>1</answer><answer>2</answer>"}, 2, -1, -1},
        /* "-0" and "0" agree, "+5" is not an integer */
        {{"<think>a</think><answer>-0</answer>", "<think>a</think><answer>+5</answer>",
          "<think>a</think><answer>+5</answer>", "<think>a</think><answer>0</answer>"}, 4, 0, 0},
        /* empty think: well-formed, so it votes */
        {{"<think></think><answer>799</answer>", "<think>x</think><answer>800</answer>",
          "<think> </think><answer>799</answer>"}, 3, 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        int64_t s = genc_task_majority(&p, cases[i].r, cases[i].k, &strict);
        int64_t l = genc_task_majority(&p, cases[i].r, cases[i].k, &lenient);
        CHECK_MSG(s == cases[i].want_strict && l == cases[i].want_lenient, "case %zu: strict %lld lenient %lld", i,
                  (long long)s, (long long)l);
    }
    /* countdown: two different solutions are one answer; they outvote a repeated wrong one */
    genc_task_problem c = {GENC_TASK_COUNTDOWN, 0, 3, {3, 7, 25}, 46, NULL, "3 * 7 + 25", 0};
    const char *r[5] = {"<think>a</think><answer>1 + 2</answer>", "<think>a</think><answer>1 + 2</answer>",
                        "<think>a</think><answer>3 * 7 + 25</answer>", "<think>a</think><answer>25 + 7 * 3</answer>",
                        "<think>a</think><answer>(7 * 3) + 25</answer>"};
    CHECK(genc_task_majority(&c, r, 5, &strict) == 2);
}

static void test_baselines(void) {
    genc_ctx *ctx = genc_ctx_new();
    genc_task_set set = {0};
    genc_task_problem ps[] = {arith(1, 5, "6"), arith(6, 0, "6"), arith(2, 4, "6"), arith(3, 4, "7")};
    for (size_t i = 0; i < 4; i++) {
        bool added;
        CHECK(genc_task_set_add(ctx, &set, &ps[i], &added) == GENC_OK && added);
    }
    genc_task_baseline b[GENC_TASK_MAX_BASELINES];
    int n = genc_task_baselines(&set, b, GENC_TASK_MAX_BASELINES);
    CHECK(n == 3);
    CHECK(!strcmp(b[0].name, "first number") && b[0].accuracy == 0.25);   /* 6 + 0 */
    CHECK(!strcmp(b[1].name, "second number") && b[1].accuracy == 0.0);
    CHECK(!strcmp(b[2].name, "most common answer") && b[2].accuracy == 0.75); /* always 6 */
    genc_task_set_free(&set);

    genc_task_problem cd[] = {{GENC_TASK_COUNTDOWN, 0, 3, {3, 7, 25}, 35, NULL, "3 + 7 + 25", 0},
                              {GENC_TASK_COUNTDOWN, 0, 3, {2, 3, 4}, 24, NULL, "2 * 3 * 4", 0},
                              {GENC_TASK_COUNTDOWN, 0, 3, {2, 3, 4}, 10, NULL, "2 * 3 + 4", 0}};
    for (size_t i = 0; i < 3; i++) {
        bool added;
        cd[i].key = genc_task_problem_key(&cd[i]);
        CHECK(genc_task_set_add(ctx, &set, &cd[i], &added) == GENC_OK && added);
    }
    n = genc_task_baselines(&set, b, GENC_TASK_MAX_BASELINES);
    CHECK(n == 3);
    CHECK(!strcmp(b[0].name, "first number") && b[0].accuracy == 0.0); /* uses one number only */
    CHECK(!strcmp(b[1].name, "sum of all numbers") && fabs(b[1].accuracy - 1.0 / 3) < 1e-12);
    CHECK(!strcmp(b[2].name, "product of all numbers") && fabs(b[2].accuracy - 1.0 / 3) < 1e-12);
    genc_task_set_free(&set);
    genc_ctx_free(ctx);
}

static void test_templates(void) {
    char *r1 = genc_grpo_prompt(GENC_TEMPLATE_R1, false, "What is 1 + 2?");
    char *sh = genc_grpo_prompt(GENC_TEMPLATE_SHORT, false, "What is 1 + 2?");
    char *ab = genc_grpo_prompt(GENC_TEMPLATE_R1, true, "What is 1 + 2?");
    CHECK(r1 && sh && ab);
    CHECK(strstr(r1, "A conversation between User and Assistant.") == r1);
    CHECK(strstr(r1, "User: What is 1 + 2? Assistant: <think>") && r1[strlen(r1) - 1] == '>');
    size_t n = strlen(ab);
    CHECK(n > 15 && !strcmp(ab + n - 15, "<think></think>"));
    CHECK(strstr(sh, "User: What is 1 + 2? Assistant: <think>"));
    genc_grpo_config c;
    genc_grpo_config_default(&c);
    CHECK(c.template_kind == GENC_TEMPLATE_R1 && c.reward.accuracy_needs_format);
    genc_task_eval_opts o;
    genc_task_eval_opts_default(&o);
    CHECK(o.template_kind == GENC_TEMPLATE_R1 && o.reward.accuracy_needs_format);
    free(r1), free(sh), free(ab);
}

/* Exact advantages: rewards [1, 0, 0, 1] have mean 0.5 and sample std sqrt(1/3), so
 * A = +-0.5 / sqrt(1/3) = +-0.866; equal rewards carry no signal and A = 0 exactly. */
static void test_advantages(void) {
    genc_grpo_config c;
    genc_grpo_config_default(&c);
    c.adv_eps = 0;
    double r[8] = {1, 0, 0, 1, 0.1, 0.1, 0.1, 0.1}, adv[8];
    bool keep[2];
    CHECK(genc_grpo_advantages(r, 2, 4, &c, adv, keep) == 1);
    double a = 0.5 / sqrt(1.0 / 3.0);
    CHECK_CLOSE(adv[0], a, 1e-12, 0);
    CHECK_CLOSE(adv[1], -a, 1e-12, 0);
    CHECK_CLOSE(adv[2], -a, 1e-12, 0);
    CHECK_CLOSE(adv[3], a, 1e-12, 0);
    CHECK(adv[4] == 0 && adv[7] == 0 && keep[0] && keep[1]);
    c.scale_std = false; /* Dr. GRPO: r - mean */
    genc_grpo_advantages(r, 2, 4, &c, adv, keep);
    CHECK(adv[0] == 0.5 && adv[1] == -0.5);
    c.scale_std = true, c.skip_equal = true;
    genc_grpo_advantages(r, 2, 4, &c, adv, keep);
    CHECK(keep[0] && !keep[1]);
    c.skip_equal = false, c.keep_groups = 1; /* dynamic sampling: the first group with a signal */
    double r3[12] = {1, 1, 1, 1, 0, 1, 0, 0, 1, 0, 0, 0};
    bool k3[3];
    double a3[12];
    CHECK(genc_grpo_advantages(r3, 3, 4, &c, a3, k3) == 2);
    CHECK(!k3[0] && k3[1] && !k3[2]);
}

/* Row layout: prompt P tokens, response L tokens; the loss mask covers P-1 .. P+L-2 and
 * actions[k] = tokens[k + 1]; a response cut at max_new has no mask under overlong_filter. */
static void test_rows(void) {
    genc_ctx *ctx = genc_ctx_new();
    int32_t p0[3] = {10, 11, 12}, p1[2] = {20, 21};
    const int32_t *pids[2] = {p0, p1};
    int64_t plen[2] = {3, 2}, len[4] = {2, 4, 1, 3};
    int32_t toks[4 * 4] = {30, 31, 0, 0, 40, 41, 42, 43, 50, 0, 0, 0, 60, 61, 62, 0};
    genc_gen_finish fin[4] = {GENC_GEN_STOP, GENC_GEN_LENGTH, GENC_GEN_EOS, GENC_GEN_STOP};
    genc_gen_result res = {.batch = 4, .max_new = 4, .tokens = toks, .len = len, .finish = fin};
    double adv[4] = {0.5, -0.5, 1, -1};
    bool keep[2] = {true, true};
    for (int filter = 0; filter < 2; filter++) {
        genc_grpo_rollouts o = {.n_all = 4};
        CHECK(genc_grpo_build_rows(ctx, &o, pids, plen, &res, adv, keep, 2, 99, filter) == GENC_OK);
        CHECK(o.rows == 4 && o.T == 7); /* the longest: 3 + 4 */
        for (int64_t i = 0; i < 4; i++) {
            int64_t P = plen[i / 2], L = len[i];
            for (int64_t k = 0; k < o.T; k++) {
                int64_t at = i * o.T + k;
                bool want = k >= P - 1 && k <= P + L - 2 && !(filter && fin[i] == GENC_GEN_LENGTH);
                CHECK_MSG((o.mask[at] != 0) == want, "filter %d row %lld pos %lld", filter, (long long)i, (long long)k);
                CHECK(o.actions[at] == (k + 1 < o.T ? o.tokens[at + 1] : 99));
                CHECK(o.adv[at] == (genc_real)adv[i]);
            }
            CHECK(o.tokens[i * o.T + P] == toks[i * 4] && o.tokens[i * o.T + P + L - 1] == toks[i * 4 + L - 1]);
        }
        genc_grpo_rollouts_free(&o);
    }
    genc_ctx_free(ctx);
}

int main(void) {
    test_advantages();
    test_rows();
    test_majority();
    test_baselines();
    test_templates();
    return test_report("test_grpo_rules");
}
