/* Unit tests for genc's RL tasks: deterministic generators with recomputed answers,
 * train/held-out separation, the expression evaluator and countdown checker, answer
 * rules, response format and rewards, JSON-lines loading errors, and the corpus rules. */
#include "genc/tasks.h"
#include "test.h"

#include <stdlib.h>
#include <unistd.h>

static char tmpdir[64];

/* ---- helpers ---- */

static void u128_str(unsigned __int128 v, char *out) {
    char tmp[64];
    int n = 0;
    do tmp[n++] = (char)('0' + (int)(v % 10)), v /= 10;
    while (v);
    for (int i = 0; i < n; i++) out[i] = tmp[n - 1 - i];
    out[n] = 0;
}

/* The answer of an arithmetic problem, computed independently of the library. */
static void arith_answer(const genc_task_problem *p, char *out) {
    int64_t a = p->numbers[0], b = p->numbers[1];
    if (p->op == '*') u128_str((unsigned __int128)a * (unsigned __int128)b, out);
    else snprintf(out, 64, "%lld", (long long)(p->op == '+' ? a + b : a - b));
}

static int n_digits(int64_t v) {
    int n = 1;
    while (v >= 10) v /= 10, n++;
    return n;
}

static bool one_line(const char *m) { return m[0] && !strchr(m, '\n'); }

static genc_task_cfg arith_cfg(int ad, int bd, const char *ops, bool neg) {
    genc_task_cfg c;
    genc_task_cfg_default(&c, GENC_TASK_ARITH);
    c.a_digits = ad, c.b_digits = bd, c.allow_negative = neg;
    snprintf(c.ops, sizeof c.ops, "%s", ops);
    return c;
}

static genc_task_cfg countdown_cfg(int n, int max, int64_t tmin, int64_t tmax) {
    genc_task_cfg c;
    genc_task_cfg_default(&c, GENC_TASK_COUNTDOWN);
    c.n_numbers = n, c.max_number = max, c.target_min = tmin, c.target_max = tmax;
    return c;
}

/* ---- generators ---- */

static void check_problem(const genc_task_cfg *c, const genc_task_problem *p) {
    char want[256];
    if (c->kind == GENC_TASK_ARITH) {
        int64_t a = p->numbers[0], b = p->numbers[1];
        arith_answer(p, want);
        CHECK_MSG(!strcmp(p->answer, want), "%s: %s vs %s", p->prompt, p->answer, want);
        CHECK(strchr(c->ops, p->op) != NULL);
        bool swapped = p->op == '-' && !c->allow_negative && c->a_digits != c->b_digits && n_digits(a) == c->b_digits;
        CHECK(c->a_digits == 1 || n_digits(swapped ? b : a) == c->a_digits);
        CHECK(c->b_digits == 1 || n_digits(swapped ? a : b) == c->b_digits);
        CHECK(p->op != '-' || c->allow_negative || a >= b);
        snprintf(want, sizeof want, "What is %lld %c %lld?", (long long)a, p->op, (long long)b);
        CHECK(!strcmp(p->prompt, want));
    } else {
        CHECK(genc_countdown_check(p->answer, strlen(p->answer), p->numbers, p->n_numbers, p->target) == GENC_CHECK_OK);
        CHECK(p->n_numbers == c->n_numbers && p->target >= c->target_min && p->target <= c->target_max);
        for (int i = 0; i < p->n_numbers; i++) CHECK(p->numbers[i] >= 1 && p->numbers[i] <= c->max_number);
        snprintf(want, sizeof want, ", make %lld.", (long long)p->target);
        CHECK(strstr(p->prompt, "Using the numbers ") == p->prompt && strstr(p->prompt, want));
    }
    CHECK(p->key == genc_task_problem_key(p) && p->key != 0);
}

static void test_generators(genc_ctx *ctx) {
    genc_task_cfg cfgs[] = {arith_cfg(3, 3, "+-*", false), arith_cfg(18, 18, "*", false), arith_cfg(18, 17, "+-", false),
                            arith_cfg(1, 1, "-", true),    arith_cfg(5, 2, "-", false),   arith_cfg(2, 6, "*+", true),
                            countdown_cfg(3, 100, 1, 1000), countdown_cfg(4, 100, 1, 1000), countdown_cfg(6, 10000, 0, 1000000)};
    for (size_t c = 0; c < sizeof cfgs / sizeof *cfgs; c++) {
        int differs = 0;
        for (uint64_t i = 0; i < 300; i++) {
            genc_task_problem p, q, r;
            CHECK(genc_task_generate(ctx, &cfgs[c], 42, i, &p) == GENC_OK);
            CHECK(genc_task_generate(ctx, &cfgs[c], 42, i, &q) == GENC_OK);
            CHECK(genc_task_generate(ctx, &cfgs[c], 43, i, &r) == GENC_OK);
            CHECK(!strcmp(p.prompt, q.prompt) && !strcmp(p.answer, q.answer) && p.key == q.key);
            differs += strcmp(p.prompt, r.prompt) != 0;
            check_problem(&cfgs[c], &p);
            genc_task_problem_free(&p), genc_task_problem_free(&q), genc_task_problem_free(&r);
        }
        CHECK_MSG(differs > 200, "config %zu: seeds 42 and 43 differ on only %d of 300", c, differs);
    }
    genc_task_problem p;
    CHECK(genc_task_generate(ctx, &cfgs[0], 7, 5, &p) == GENC_OK);
    printf("example: %s -> %s\n", p.prompt, p.answer);
    genc_task_problem_free(&p);
    CHECK(genc_task_generate(ctx, &cfgs[7], 7, 5, &p) == GENC_OK);
    printf("example: %s -> %s\n", p.prompt, p.answer);
    genc_task_problem_free(&p);
}

static void test_cfg_errors(genc_ctx *ctx) {
    struct {
        genc_task_cfg cfg;
        const char *msg;
    } cases[] = {
        {arith_cfg(0, 3, "+", false), "a_digits"},   {arith_cfg(3, 19, "+", false), "b_digits"},
        {arith_cfg(3, 3, "", false), "ops"},         {arith_cfg(3, 3, "+/", false), "\"+/\""},
        {arith_cfg(3, 3, "++", false), "repeats"},   {countdown_cfg(1, 100, 1, 10), "n_numbers in 2..6, found 1"},
        {countdown_cfg(7, 100, 1, 10), "found 7"},   {countdown_cfg(4, 0, 1, 10), "max_number"},
        {countdown_cfg(4, 20000, 1, 10), "max_number"}, {countdown_cfg(4, 100, 10, 1), "target_min"},
        {countdown_cfg(4, 100, -1, 10), "target_min"},  {countdown_cfg(2, 1, 5, 5), "found none in 10000"},
    };
    cases[2].cfg.ops[0] = 0;
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        genc_task_problem p;
        genc_clear_error(ctx);
        CHECK_MSG(genc_task_generate(ctx, &cases[i].cfg, 1, 0, &p) == GENC_EINVAL, "case %zu", i);
        CHECK_MSG(strstr(genc_last_error(ctx), cases[i].msg) && one_line(genc_last_error(ctx)), "case %zu: %s", i,
                  genc_last_error(ctx));
    }
    genc_task_cfg user = arith_cfg(3, 3, "+", false);
    user.kind = GENC_TASK_USER;
    genc_clear_error(ctx);
    CHECK(genc_task_cfg_check(ctx, &user) == GENC_EINVAL);
    genc_clear_error(ctx);
}

static void decimal_cases(void) {
    struct {
        char op;
        const char *a, *b, *want;
    } cases[] = {
        {'+', "999", "1", "1000"}, {'-', "5", "12", "-7"}, {'-', "100", "100", "0"}, {'*', "0", "12345", "0"},
        {'*', "999999999999999999", "999999999999999999", "999999999999999998000000000000000001"},
        {'-', "1000000000000000000000", "1", "999999999999999999999"}, {'+', "007", "3", "10"},
        {'+', "12a", "1", NULL}, {'+', "", "1", NULL}, {'/', "4", "2", NULL}, {'-', "-3", "1", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char out[160];
        bool ok = genc_task_decimal(cases[i].op, cases[i].a, cases[i].b, out, sizeof out);
        CHECK_MSG(ok == (cases[i].want != NULL) && (!ok || !strcmp(out, cases[i].want)), "case %zu", i);
    }
}

/* ---- train / held-out separation ---- */

/* Canonical form computed here, independently of the library's keys. */
static void canon(const genc_task_problem *p, char *out) {
    int64_t a = p->numbers[0], b = p->numbers[1];
    if (p->kind == GENC_TASK_ARITH && p->op != '-' && a > b) a = p->numbers[1], b = p->numbers[0];
    if (p->kind == GENC_TASK_ARITH) snprintf(out, 64, "%c %lld %lld", p->op, (long long)a, (long long)b);
    else {
        int64_t v[GENC_TASK_MAX_NUMBERS];
        memcpy(v, p->numbers, sizeof v);
        for (int i = 0; i < p->n_numbers; i++)
            for (int j = i + 1; j < p->n_numbers; j++)
                if (v[j] < v[i]) a = v[i], v[i] = v[j], v[j] = a;
        int k = snprintf(out, 64, "%lld:", (long long)p->target);
        for (int i = 0; i < p->n_numbers; i++) k += snprintf(out + k, (size_t)(64 - k), "%lld,", (long long)v[i]);
    }
}

static int cmp_str(const void *a, const void *b) { return strcmp((const char *)a, (const char *)b); }

static void no_overlap(genc_ctx *ctx, const genc_task_cfg *cfg, int64_t n_held, uint64_t train_seed) {
    genc_task_set held;
    CHECK(genc_task_set_make(ctx, cfg, 1000, n_held, &held) == GENC_OK && held.n == n_held);
    char(*keys)[64] = malloc((size_t)n_held * sizeof *keys);
    for (int64_t i = 0; i < held.n; i++) canon(&held.problems[i], keys[i]);
    qsort(keys, (size_t)n_held, sizeof *keys, cmp_str);
    for (int64_t i = 1; i < n_held; i++) CHECK(strcmp(keys[i - 1], keys[i]) != 0); /* distinct */
    uint64_t index = 0;
    int leaks = 0;
    for (int d = 0; d < 20000; d++) {
        genc_task_problem p;
        char k[64];
        CHECK(genc_task_next_train(ctx, cfg, &held, train_seed, &index, &p) == GENC_OK);
        canon(&p, k);
        leaks += bsearch(k, keys, (size_t)n_held, sizeof *keys, cmp_str) != NULL;
        genc_task_problem_free(&p);
    }
    CHECK_MSG(leaks == 0, "%d held-out problems drawn for training", leaks);
    CHECK_MSG(index > 20000, "no held-out problem was ever skipped (index %llu): the test does not bite",
              (unsigned long long)index);
    free(keys);
    genc_task_set_free(&held);
}

static void test_overlap(genc_ctx *ctx) {
    genc_task_cfg a = arith_cfg(2, 2, "+-*", false), c = countdown_cfg(3, 12, 1, 30);
    no_overlap(ctx, &a, 2000, 5);
    no_overlap(ctx, &c, 200, 5);
    no_overlap(ctx, &c, 200, 1000); /* the held-out seed itself: every early index is skipped */
    genc_task_cfg tiny = arith_cfg(1, 1, "+", false);
    genc_task_set s;
    genc_clear_error(ctx);
    CHECK(genc_task_set_make(ctx, &tiny, 1, 100, &s) == GENC_EINVAL);
    CHECK(strstr(genc_last_error(ctx), "problem space is too small") && one_line(genc_last_error(ctx)));
    genc_clear_error(ctx);
    CHECK(genc_task_set_make(ctx, &tiny, 1, 55, &s) == GENC_OK && s.n == 55); /* every a + b, a <= b */
    uint64_t index = 0;
    genc_task_problem p;
    CHECK(genc_task_next_train(ctx, &tiny, &s, 2, &index, &p) == GENC_EINVAL);
    CHECK(strstr(genc_last_error(ctx), "held-out") != NULL);
    genc_clear_error(ctx);
    genc_task_set_free(&s);
}

/* ---- expressions ---- */

static char *repeat(const char *pre, int n, const char *mid, const char *post, int m) {
    size_t lp = strlen(pre), lm = strlen(mid), lq = strlen(post);
    char *s = malloc(lp * (size_t)n + lm + lq * (size_t)m + 1), *q = s;
    for (int i = 0; i < n; i++) memcpy(q, pre, lp), q += lp;
    memcpy(q, mid, lm), q += lm;
    for (int i = 0; i < m; i++) memcpy(q, post, lq), q += lq;
    *q = 0;
    return s;
}

static void test_expr(void) {
    struct {
        const char *s;
        genc_check want;
        int64_t num, den;
    } cases[] = {
        {"1 + 2 * 3", GENC_CHECK_OK, 7, 1}, {"(1 + 2) * 3", GENC_CHECK_OK, 9, 1}, {"10 / 4", GENC_CHECK_OK, 5, 2},
        {"3 / 2 * 4", GENC_CHECK_OK, 6, 1}, {"  8 - 3 - 2 ", GENC_CHECK_OK, 3, 1}, {"8 / 4 / 2", GENC_CHECK_OK, 1, 1},
        {"2 - 5", GENC_CHECK_OK, -3, 1},    {"(1 / 3) * 3", GENC_CHECK_OK, 1, 1}, {"1\t+\t2", GENC_CHECK_OK, 3, 1},
        {"007 + 1", GENC_CHECK_OK, 8, 1},   {"2 / (1 - 3)", GENC_CHECK_OK, -1, 1},
        {"999999999999999999", GENC_CHECK_OK, 999999999999999999LL, 1},
        {"999999999999999999 + 999999999999999999", GENC_CHECK_OK, 1999999999999999998LL, 1},
        {"", GENC_CHECK_EMPTY, 0, 1},        {"   ", GENC_CHECK_EMPTY, 0, 1},    {"-3", GENC_CHECK_SYNTAX, 0, 1},
        {"3 * -2", GENC_CHECK_SYNTAX, 0, 1}, {"+3", GENC_CHECK_SYNTAX, 0, 1},    {"1 +", GENC_CHECK_SYNTAX, 0, 1},
        {"(1 + 2", GENC_CHECK_SYNTAX, 0, 1}, {"1 + 2)", GENC_CHECK_SYNTAX, 0, 1}, {"1 2", GENC_CHECK_SYNTAX, 0, 1},
        {"1.5", GENC_CHECK_SYNTAX, 0, 1},    {"1e3", GENC_CHECK_SYNTAX, 0, 1},   {"x", GENC_CHECK_SYNTAX, 0, 1},
        {"()", GENC_CHECK_SYNTAX, 0, 1},     {"1\n+ 2", GENC_CHECK_SYNTAX, 0, 1}, {"3 \xef\xbc\x97", GENC_CHECK_SYNTAX, 0, 1},
        {"2 ** 3", GENC_CHECK_SYNTAX, 0, 1}, {"1 = 1", GENC_CHECK_SYNTAX, 0, 1},
        {"1 / 0", GENC_CHECK_DIV_ZERO, 0, 1}, {"1 / (2 - 2)", GENC_CHECK_DIV_ZERO, 0, 1},
        {"9999999999999999999", GENC_CHECK_OVERFLOW, 0, 1},
        {"999999999999999999 * 999999999999999999", GENC_CHECK_OVERFLOW, 0, 1},
        {"1 / 999999999999999999 - 1 / 999999999999999998", GENC_CHECK_OVERFLOW, 0, 1},
        {"999999999999999999 * 10 - 999999999999999999 * 10", GENC_CHECK_OVERFLOW, 0, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        genc_expr_value v;
        genc_check c = genc_expr_eval(cases[i].s, strlen(cases[i].s), &v);
        CHECK_MSG(c == cases[i].want, "\"%s\": %s, expected %s", cases[i].s, genc_check_name(c), genc_check_name(cases[i].want));
        if (c == GENC_CHECK_OK) CHECK_MSG(v.num == cases[i].num && v.den == cases[i].den, "\"%s\"", cases[i].s);
    }
    genc_expr_value v;
    CHECK(genc_expr_eval("(25 + 7) * 5", 12, &v) == GENC_CHECK_OK && v.n_literals == 3 && v.literals[0] == 25 &&
          v.literals[1] == 7 && v.literals[2] == 5 && v.num == 160);
    CHECK(genc_expr_eval("1 + 2junk", 5, &v) == GENC_CHECK_OK && v.num == 3); /* only len bytes are read */
    struct {
        const char *pre, *mid, *post;
        int n;
        genc_check want;
    } big[] = {
        {"(", "1", ")", 64, GENC_CHECK_OK},      {"(", "1", ")", 65, GENC_CHECK_TOO_DEEP},
        {"(", "1", ")", 500, GENC_CHECK_TOO_DEEP}, {"(", "", "", 10000, GENC_CHECK_TOO_LONG},
        {"9", "", "", 400, GENC_CHECK_OVERFLOW},  {"1+", "1", "", 31, GENC_CHECK_OK},
        {"1+", "1", "", 32, GENC_CHECK_TOO_MANY}, {"", "1", "+1", 2000, GENC_CHECK_TOO_LONG},
    };
    for (size_t i = 0; i < sizeof big / sizeof *big; i++) {
        char *s = repeat(big[i].pre, big[i].n, big[i].mid, big[i].post, big[i].n);
        genc_check c = genc_expr_eval(s, strlen(s), &v);
        CHECK_MSG(c == big[i].want, "big case %zu: %s", i, genc_check_name(c));
        free(s);
    }
}

static void test_countdown_check(void) {
    static const int64_t N[] = {3, 7, 25, 50}, D[] = {5, 5, 2}, F[] = {3, 4, 6}, H[] = {7, 2};
    struct {
        const char *s;
        const int64_t *nums;
        int n;
        int64_t target;
        genc_check want;
    } cases[] = {
        {"(50 - 25) * 7 + 3", N, 4, 178, GENC_CHECK_OK},      {"3+7*(50-25)", N, 4, 178, GENC_CHECK_OK},
        {" 3 + (50 - 25) * 7 ", N, 4, 178, GENC_CHECK_OK},    {"(50 - 25) * 7 - 3", N, 4, 178, GENC_CHECK_WRONG_VALUE},
        {"(50 - 25) * 7 + 7", N, 4, 178, GENC_CHECK_WRONG_NUMBERS}, /* 7 reused, 3 missing */
        {"(50 - 25) * 7", N, 4, 175, GENC_CHECK_WRONG_NUMBERS},     /* 3 missing */
        {"(50 - 25) * 7 + 3 + 0", N, 4, 178, GENC_CHECK_WRONG_NUMBERS}, /* extra number */
        {"(50 - 25) * 7 + 3 * 1", N, 4, 178, GENC_CHECK_WRONG_NUMBERS},
        {"3 / (50 - 50) + 7 + 25", N, 4, 178, GENC_CHECK_DIV_ZERO},
        {"-3 + (50 - 25) * 7", N, 4, 172, GENC_CHECK_SYNTAX},    /* no unary minus */
        {"(50 - 25) * 7 + 3 = 178", N, 4, 178, GENC_CHECK_SYNTAX},
        {"", N, 4, 178, GENC_CHECK_EMPTY},
        {"5 + 5 + 2", D, 3, 12, GENC_CHECK_OK},               {"5 + 2 + 2", D, 3, 9, GENC_CHECK_WRONG_NUMBERS},
        {"5 * 2 + 5", D, 3, 15, GENC_CHECK_OK},
        {"4 / 3 * 6", F, 3, 8, GENC_CHECK_OK},                /* a non-integer intermediate is fine */
        {"7 / 2", H, 2, 3, GENC_CHECK_WRONG_VALUE},            /* a non-integer result is not */
        {"7 / 2", H, 2, 7, GENC_CHECK_WRONG_VALUE},            /* ... even when its numerator is the target */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        genc_check c = genc_countdown_check(cases[i].s, strlen(cases[i].s), cases[i].nums, cases[i].n, cases[i].target);
        CHECK_MSG(c == cases[i].want, "\"%s\": %s, expected %s", cases[i].s, genc_check_name(c), genc_check_name(cases[i].want));
    }
}

static void test_integer_answers(void) {
    char nines[401];
    memset(nines, '9', 400), nines[400] = 0;
    struct {
        const char *s, *ref;
        genc_check want;
    } cases[] = {
        {"799", "799", GENC_CHECK_OK},       {"0799", "799", GENC_CHECK_OK},          {"-799", "799", GENC_CHECK_WRONG_VALUE},
        {"800", "799", GENC_CHECK_WRONG_VALUE}, {"+799", "799", GENC_CHECK_NOT_INTEGER}, {"799.0", "799", GENC_CHECK_NOT_INTEGER},
        {"7,99", "799", GENC_CHECK_NOT_INTEGER}, {"1,000", "1000", GENC_CHECK_NOT_INTEGER}, {"7.99e2", "799", GENC_CHECK_NOT_INTEGER},
        {"7 99", "799", GENC_CHECK_NOT_INTEGER}, {"-", "799", GENC_CHECK_NOT_INTEGER},   {"--7", "-7", GENC_CHECK_NOT_INTEGER},
        {"\xef\xbc\x97\xef\xbc\x99\xef\xbc\x99", "799", GENC_CHECK_NOT_INTEGER}, {"", "799", GENC_CHECK_EMPTY},
        {"-165", "-165", GENC_CHECK_OK},    {"165", "-165", GENC_CHECK_WRONG_VALUE}, {"-0", "0", GENC_CHECK_OK},
        {"000", "0", GENC_CHECK_OK},        {nines, "799", GENC_CHECK_WRONG_VALUE},  {nines, nines, GENC_CHECK_OK},
        {"999999999999999998000000000000000001", "999999999999999998000000000000000001", GENC_CHECK_OK},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        genc_check c = genc_integer_answer_check(cases[i].s, strlen(cases[i].s), cases[i].ref);
        CHECK_MSG(c == cases[i].want, "case %zu \"%.20s\": %s", i, cases[i].s, genc_check_name(c));
    }
}

/* ---- responses and rewards ---- */

static genc_task_problem arith_problem(void) {
    genc_task_problem p = {GENC_TASK_ARITH, '+', 2, {482, 317}, 0, "What is 482 + 317?", "799", 0};
    p.key = genc_task_problem_key(&p);
    return p;
}

static void test_rewards(void) {
    char nines[480];
    snprintf(nines, sizeof nines, "<think>x</think><answer>%0400d</answer>", 0);
    memset(nines + 24, '9', 400);
    struct {
        const char *r;
        int format, has, acc;
        double tz;
        int blank;   /* 1: the think block is blank (no format reward) */
        int invalid; /* 1: the answer block holds no integer (no format reward) */
    } cases[] = {
        {"<think>add</think><answer>799</answer>", 1, 1, 1, 1.0},
        {" \n<think>\nadd 2 and 7\n</think>\n<answer> 799 </answer>\n", 1, 1, 1, 1.0},
        {"<think>x</think><answer>800</answer>", 1, 1, 0, 0.1},
        {"<think>x</think> <answer></answer>", 1, 1, 0, 0.1, 0, 1},
        {"<think>x</think><answer>abc</answer>", 1, 1, 0, 0.1, 0, 1},
        {"<think>x</think><answer>1,000</answer>", 1, 1, 0, 0.1, 0, 1},
        {"<think>x</think><answer>799.0</answer>", 1, 1, 0, 0.1, 0, 1},
        {"<answer>799</answer>", 0, 1, 1, 1.0},                             /* no think block */
        {"<think>x<answer>799</answer>", 0, 1, 1, 1.0},                     /* missing </think> */
        {"<think>x</think><answer><answer>799</answer></answer>", 0, 0, 0, 0.1}, /* nested */
        {"<think>x</think><answer>1</answer><answer>799</answer>", 0, 0, 0, 1.0}, /* two blocks */
        {"<think>x</think><answer>799</answer> trailing", 0, 1, 1, 1.0},    /* text after */
        {"</think><think>x<answer>799</answer>", 0, 1, 1, 1.0},             /* wrong order */
        {"<think>a</think><think>b</think><answer>799</answer>", 0, 1, 1, 1.0},
        {"hello <think>x</think><answer>799</answer>", 0, 1, 1, 1.0},
        {"<think>x</think>words<answer>799</answer>", 0, 1, 1, 1.0},
        {"<think>x <answer>1</answer></think><answer>799</answer>", 0, 0, 0, 1.0},
        {"<think>x</think><answer>799", 0, 0, 0, 0.0},
        {"<think>x</think></answer>799<answer>", 0, 0, 0, 0.0},
        {"the answer is 799", 0, 0, 0, 0.0},
        {"", 0, 0, 0, 0.0},
        {"<think>\xc3\xa9\xe2\x9c\x93</think><answer>\xef\xbc\x97\xef\xbc\x99\xef\xbc\x99</answer>", 1, 1, 0, 0.1, 0, 1},
        {"<think>x</think><answer>\n799\n</answer>", 1, 1, 1, 0.0}, /* TinyZero's regex does not span lines */
        {"<think>x</think><answer>-799</answer>", 1, 1, 0, 0.1},
        {nines, 1, 1, 0, 0.1},
        /* an empty or blank think block: well-formed (accuracy counts), but no format reward */
        {"<think></think><answer>799</answer>", 1, 1, 1, 1.0, 1},
        {"<think> \n\t</think>\n<answer>800</answer>", 1, 1, 0, 0.1, 1},
        {"<think></think><answer>799</answer> trailing", 0, 1, 1, 1.0, 1},
    };
    genc_task_problem p = arith_problem();
    genc_reward_cfg w, tz, strict, heavy;
    genc_reward_cfg_default(&strict);
    CHECK(strict.accuracy_needs_format); /* the R1 rule is the default */
    w = strict, w.accuracy_needs_format = false;
    tz = w, tz.mode = GENC_REWARD_TINYZERO;
    heavy = w, heavy.w_acc = 2.0, heavy.w_fmt = 0.5;
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const char *r = cases[i].r;
        size_t n = strlen(r);
        int think = cases[i].format && !cases[i].blank, paid = think && !cases[i].invalid;
        genc_reward a = genc_task_reward(&p, r, n, &w), b = genc_task_reward(&p, r, n, &tz);
        genc_reward c = genc_task_reward(&p, r, n, &strict), d = genc_task_reward(&p, r, n, &heavy);
        CHECK_MSG(a.format == cases[i].format && a.has_answer == (cases[i].has != 0) && a.accuracy == cases[i].acc,
                  "case %zu: format %d has %d acc %d (%s)", i, a.format, a.has_answer, a.accuracy, genc_check_name(a.check));
        CHECK_MSG(a.think == think && c.think == think && genc_response_think(r, n) == (think != 0), "case %zu: think %d",
                  i, a.think);
        CHECK_MSG(a.valid == (cases[i].has && !cases[i].invalid && a.check != GENC_CHECK_NO_ANSWER), "case %zu: valid %d", i, a.valid);
        CHECK_CLOSE(a.reward, cases[i].acc + 0.1 * paid, 0, 1e-12);
        CHECK_CLOSE(d.reward, 2.0 * cases[i].acc + 0.5 * paid, 0, 1e-12);
        CHECK_CLOSE(c.reward, (cases[i].acc && cases[i].format) + 0.1 * paid, 0, 1e-12);
        CHECK(c.accuracy == (cases[i].acc && cases[i].format));
        CHECK_MSG(fabs(b.reward - cases[i].tz) < 1e-12, "case %zu: tinyzero %g", i, b.reward);
        CHECK(genc_response_format_ok(r, n) == (cases[i].format != 0));
    }
    /* bytes past len are never read; NUL bytes inside are ordinary bytes */
    CHECK(genc_task_reward(&p, "<think>x</think><answer>799</answer>XYZ", 36, &w).format == 1);
    CHECK(genc_task_reward(&p, "<think>x\0y</think><answer>799</answer>", 38, &w).format == 1);
    genc_task_problem_free(&(genc_task_problem){0});
}

static void test_countdown_rewards(void) {
    genc_task_problem p = {GENC_TASK_COUNTDOWN, 0, 4, {3, 7, 25, 50}, 178, "make 178", "(50 - 25) * 7 + 3", 0};
    genc_reward_cfg w, tz;
    genc_reward_cfg_default(&w);
    tz = w, tz.mode = GENC_REWARD_TINYZERO;
    struct {
        const char *r;
        double weighted, tz;
        genc_check check;
    } cases[] = {
        {"<think>try 50-25</think><answer>(50 - 25) * 7 + 3</answer>", 1.1, 1.0, GENC_CHECK_OK},
        {"<think>x</think><answer>(50-25)*7+7</answer>", 0.1, 0.1, GENC_CHECK_WRONG_NUMBERS},
        {"<think>x</think><answer>(50-25)*7</answer>", 0.1, 0.1, GENC_CHECK_WRONG_NUMBERS},
        {"<think>x</think><answer>(50-25)*7-3</answer>", 0.1, 0.1, GENC_CHECK_WRONG_VALUE},
        {"<think>x</think><answer>3/(50-50)+7+25</answer>", 0.0, 0.1, GENC_CHECK_DIV_ZERO}, /* not a value: no format reward */
        {"<think>x</think><answer>178</answer>", 0.1, 0.1, GENC_CHECK_WRONG_NUMBERS},
        {"<answer>3+7*(50-25)</answer>", 0.0, 1.0, GENC_CHECK_OK}, /* correct, not well-formed: the R1 rule */
        {"<think>x</think>", 0.0, 0.0, GENC_CHECK_NO_ANSWER},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        genc_reward a = genc_task_reward(&p, cases[i].r, strlen(cases[i].r), &w);
        genc_reward b = genc_task_reward(&p, cases[i].r, strlen(cases[i].r), &tz);
        CHECK_MSG(fabs(a.reward - cases[i].weighted) < 1e-12 && fabs(b.reward - cases[i].tz) < 1e-12 &&
                      a.check == cases[i].check,
                  "case %zu: %g %g %s", i, a.reward, b.reward, genc_check_name(a.check));
    }
    genc_task_problem u = {GENC_TASK_USER, 0, 0, {0}, 0, "Capital of France?", " Paris ", 0};
    CHECK(genc_task_check_answer(&u, "Paris", 5) == GENC_CHECK_OK);
    CHECK(genc_task_check_answer(&u, "paris", 5) == GENC_CHECK_WRONG_VALUE);
    u.answer = "42";
    CHECK(genc_task_check_answer(&u, " 042\n", 5) == GENC_CHECK_OK);
    CHECK(genc_task_check_answer(&u, "42.0", 4) == GENC_CHECK_NOT_INTEGER);
    /* a negative integer reference is compared as an integer too (not as text) */
    u.answer = " -7 ";
    CHECK(genc_task_check_answer(&u, "-07", 3) == GENC_CHECK_OK);
    CHECK(genc_task_check_answer(&u, "-7", 2) == GENC_CHECK_OK);
    CHECK(genc_task_check_answer(&u, "7", 1) == GENC_CHECK_WRONG_VALUE);
    CHECK(genc_task_check_answer(&u, "-7.0", 4) == GENC_CHECK_NOT_INTEGER);
    u.answer = "+7"; /* not an integer literal: compared as text */
    CHECK(genc_task_check_answer(&u, "+7", 2) == GENC_CHECK_OK);
    CHECK(genc_task_check_answer(&u, "7", 1) == GENC_CHECK_WRONG_VALUE);
    /* an arithmetic problem with a negative answer, through the reward */
    genc_task_problem n = {GENC_TASK_ARITH, '-', 2, {5, 12}, 0, "5 - 12 =", "-7", 0};
    genc_reward_cfg rc;
    genc_reward_cfg_default(&rc);
    const char *good = "<think>5 - 12</think> <answer>-7</answer>", *flip = "<think>5 - 12</think> <answer>7</answer>";
    genc_reward rg = genc_task_reward(&n, good, strlen(good), &rc), rf = genc_task_reward(&n, flip, strlen(flip), &rc);
    CHECK_MSG(rg.check == GENC_CHECK_OK && rf.check == GENC_CHECK_WRONG_VALUE && rg.reward > rf.reward,
              "-7: %s %g, 7: %s %g", genc_check_name(rg.check), rg.reward, genc_check_name(rf.check), rf.reward);
}

/* ---- JSON lines ---- */

static void write_tmp(const char *name, const char *text, char *path) {
    snprintf(path, 256, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "wb");
    fputs(text, f);
    fclose(f);
}

static void test_jsonl(genc_ctx *ctx) {
    char path[256];
    genc_task_set s;
    write_tmp("ok.jsonl",
              "{\"prompt\": \"What is 2 + 2?\", \"answer\": \"4\"}\n\n   \n"
              "{\"prompt\": \"make 178\", \"numbers\": [3, 7, 25, 50], \"target\": 178, \"answer\": \"(50-25)*7+3\"}\n"
              "{\"prompt\": \"make 10\", \"numbers\": [2, 5], \"target\": 10}\n"
              "{\"prompt\": \"What is 2 + 2?\", \"answer\": \"4\"}\n",
              path);
    CHECK(genc_task_set_load_jsonl(ctx, path, &s) == GENC_OK && s.n == 3);
    if (s.n == 3) {
        CHECK(s.problems[0].kind == GENC_TASK_USER && !strcmp(s.problems[0].answer, "4"));
        CHECK(s.problems[1].kind == GENC_TASK_COUNTDOWN && s.problems[1].n_numbers == 4 && s.problems[1].target == 178);
        CHECK(genc_task_set_contains(&s, s.problems[2].key));
        CHECK(genc_task_check_answer(&s.problems[2], "2 * 5", 5) == GENC_CHECK_OK);
    }
    genc_task_set_free(&s);
    struct {
        const char *text, *msg;
    } cases[] = {
        {"{\"prompt\": \"a\"}\n", ":1: expected a \"answer\" string, found no \"answer\" key"},
        {"{\"prompt\": \"a\", \"answer\": \"1\"}\n{\"prompt\": }\n", ":2: expected a JSON object, found invalid JSON"},
        {"[1, 2]\n", ":1: expected a JSON object, found an array"},
        {"\n\n7\n", ":3: expected a JSON object, found an integer"},
        {"{\"prompt\": 3, \"answer\": \"1\"}\n", ":1: expected \"prompt\" to be a string, found an integer"},
        {"{\"answer\": \"1\"}\n", ":1: expected a \"prompt\" string"},
        {"{\"prompt\": \"a\", \"answer\": null}\n", ":1: expected \"answer\" to be a string, found null"},
        {"{\"prompt\": \"a\", \"anwser\": \"1\"}\n", ":1: expected keys prompt, answer, numbers, target, found \"anwser\""},
        {"{\"prompt\": \"a\", \"a\\nb\": \"1\"}\n", "found \"a?b\""},
        {"{\"prompt\": \"a\", \"answer\": \"1\", \"answer\": \"2\"}\n", ":1: expected a JSON object, found invalid JSON"},
        {"{\"prompt\": \"a\", \"numbers\": 3, \"target\": 1}\n", "expected \"numbers\" to be an array, found an integer"},
        {"{\"prompt\": \"a\", \"numbers\": [3], \"target\": 3}\n", "expected 2 to 6 \"numbers\", found 1"},
        {"{\"prompt\": \"a\", \"numbers\": [3, 0], \"target\": 3}\n", "\"numbers\"[1] to be an integer in 1..10000"},
        {"{\"prompt\": \"a\", \"numbers\": [3, \"4\"], \"target\": 3}\n", "found a string"},
        {"{\"prompt\": \"a\", \"numbers\": [3, 4]}\n", "expected a \"target\" with \"numbers\", found none"},
        {"{\"prompt\": \"a\", \"numbers\": [3, 4], \"target\": 1.5}\n", "\"target\" to be an integer"},
        {"{\"prompt\": \"a\", \"target\": 7}\n", "expected \"numbers\" with \"target\""},
        {"{\"prompt\": \"a\", \"numbers\": [3, 4], \"target\": 7, \"answer\": \"3*4\"}\n",
         "expected \"answer\" to solve the countdown problem, found \"3*4\" (wrong value)"},
        {"{\"prompt\": \"a\", \"answer\": \"1\"}\n{\"prompt\": \"\\u0000\", \"answer\": \"1\"}\n", ":2: expected a JSON object, found invalid JSON"},
        {"{\"prompt\": \"\xff\", \"answer\": \"1\"}\n", ":1: expected a JSON object, found invalid JSON"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        genc_clear_error(ctx);
        write_tmp("bad.jsonl", cases[i].text, path);
        genc_status st = genc_task_set_load_jsonl(ctx, path, &s);
        const char *m = genc_last_error(ctx);
        CHECK_MSG(st == GENC_EFORMAT && strstr(m, cases[i].msg) && strstr(m, "bad.jsonl:") && one_line(m),
                  "case %zu: %s", i, m);
        CHECK(s.n == 0 && s.problems == NULL);
    }
    genc_clear_error(ctx);
    snprintf(path, sizeof path, "%s/missing.jsonl", tmpdir);
    CHECK(genc_task_set_load_jsonl(ctx, path, &s) == GENC_EIO && strstr(genc_last_error(ctx), "missing.jsonl"));
    genc_clear_error(ctx);
}

/* ---- corpus ---- */

static char *corpus_style(genc_ctx *ctx, const genc_task_cfg *cfg, const genc_task_set *held, uint64_t seed, int n,
                          size_t *len, genc_corpus_style style) {
    FILE *f = tmpfile();
    CHECK(genc_task_corpus_write_style(ctx, f, cfg, held, seed, n, style) == GENC_OK);
    *len = (size_t)ftell(f);
    char *s = malloc(*len + 1);
    rewind(f);
    CHECK(fread(s, 1, *len, f) == *len);
    s[*len] = 0;
    fclose(f);
    return s;
}

static char *corpus(genc_ctx *ctx, const genc_task_cfg *cfg, const genc_task_set *held, uint64_t seed, int n, size_t *len) {
    return corpus_style(ctx, cfg, held, seed, n, len, GENC_CORPUS_PLAIN);
}

/* Every training problem the corpus shows, parsed back from its text, is outside `held`. */
static int corpus_leaks(const char *s, const genc_task_set *held, int *seen) {
    int leaks = 0;
    for (const char *l = s; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
        genc_task_problem p = {GENC_TASK_ARITH};
        long long a, b, v[6], t;
        char op;
        if (sscanf(l, "Q: %lld %c %lld = ?", &a, &op, &b) == 3 || sscanf(l, "Problem: What is %lld %c %lld?", &a, &op, &b) == 3) {
            p.op = op, p.n_numbers = 2, p.numbers[0] = a, p.numbers[1] = b;
        } else {
            const char *u = strstr(l, "Using the numbers ");
            int k = u ? sscanf(u, "Using the numbers %lld, %lld, %lld, %lld", &v[0], &v[1], &v[2], &v[3]) : 0;
            const char *m = u ? strstr(u, "make ") : NULL;
            if (k < 3 || !m || sscanf(m, "make %lld.", &t) != 1) continue;
            p.kind = GENC_TASK_COUNTDOWN, p.n_numbers = k, p.target = t;
            for (int i = 0; i < k; i++) p.numbers[i] = v[i];
        }
        (*seen)++;
        leaks += genc_task_set_contains(held, genc_task_problem_key(&p));
    }
    return leaks;
}

/* Markup blocks in s whose made-up tag ("<kori>") is closed by the same name ("</kori>")
 * later in its document; -1 when one is left open or closed without being opened. */
static int markup_balanced(const char *s) {
    int blocks = 0;
    for (const char *o = strchr(s, '<'); o; o = strchr(o + 1, '<')) {
        size_t n = strspn(o + 1, "abcdefghijklmnopqrstuvwxyz");
        if (!n || o[1 + n] != '>' || (n == 6 && !memcmp(o + 1, "answer", 6))) continue;
        char close[32];
        snprintf(close, sizeof close, "</%.*s>", (int)n, o + 1);
        const char *c = strstr(o, close), *end = strstr(o, "\n\n");
        if (!c || (end && end < c)) return -1;
        blocks++;
    }
    for (const char *c = strstr(s, "</"); c; c = strstr(c + 2, "</")) {
        size_t n = strspn(c + 2, "abcdefghijklmnopqrstuvwxyz");
        char open[32];
        snprintf(open, sizeof open, "<%.*s>", (int)n, c + 2);
        const char *start = c;
        while (start > s && !(start[-1] == '\n' && start - 1 > s && start[-2] == '\n')) start--;
        char *doc = strndup(start, (size_t)(c - start));
        bool opened = doc && strstr(doc, open);
        free(doc);
        if (!opened) return -1;
    }
    return blocks;
}

/* Q/A pages whose reply sits in a made-up tag: answered directly ("<ko> A: 537 + 552 =
 * 1089.") or worked ("<ko>\nA: Add 537 and 552 ...", "A: Multiply ..."). */
static void qa_wrapped_count(const char *s, int *direct, int *worked) {
    *direct = *worked = 0;
    for (const char *a = strstr(s, "A: "); a; a = strstr(a + 3, "A: ")) {
        if (a - s < 2 || a[-2] != '>' || (a[-1] != ' ' && a[-1] != '\n')) continue;
        if (a[3] >= '0' && a[3] <= '9') (*direct)++;
        else if (a[3] >= 'A' && a[3] <= 'Z') (*worked)++;
    }
}

static void test_corpus(genc_ctx *ctx) {
    struct {
        const char *s;
        bool ok;
    } rule[] = {{"", true}, {"<think></think>", true}, {"a <think></think> b </answer>", true}, {"<think>x</think>", true}, {"<think>x = y</think>", false}, {"<think>I hope the baker kept a warm coat.</think>", true}, {"<think>Add the tens column.</think>", false}, {"<think>Then carry one.</think>", false},
                {"<think>", false}, {"</think>", false}, {"<think> </think>", true}, {"<think", true},
                {"<think></think></think>", false}, {"<think><think></think>", false}, {"<think>\n\t</think>", true},
                {"<think> 1 </think>", false}, {"User: What is 1 + 2? Assistant: 3", true}, {"Assistant: <answer>3</answer>", false},
                {"User: 1 + 2? Assistant: so\n<think></think>", true},
                {"User: 1 + 2? Assistant: <think></think> <answer>3</answer>", false},
                {"User: a question Assistant: <think> ... </think> <answer> answer here </answer>", true},
                {"Assistant: <think> ... </think> <answer> 3 </answer>\n\n<answer>3</answer>", false}, {"Assistant: 3\n\n<think></think>", true},
                {"<think> reasoning process here </think>", true}, {"<think> 3 + 4 = 7 </think>", false}};
    for (size_t i = 0; i < sizeof rule / sizeof *rule; i++)
        CHECK_MSG(genc_corpus_think_rule_ok(rule[i].s, strlen(rule[i].s)) == rule[i].ok, "rule case %zu", i);
    genc_task_cfg cfgs[] = {arith_cfg(2, 2, "+-*", false), arith_cfg(4, 3, "+-*", true), arith_cfg(18, 18, "*-", true),
                            countdown_cfg(4, 100, 1, 1000), countdown_cfg(3, 12, 1, 30)};
    int64_t held_n[] = {2000, 100, 10, 100, 200};
    for (size_t c = 0; c < sizeof cfgs / sizeof *cfgs; c++) {
        genc_task_set held;
        size_t len, len2;
        int n = c == 2 ? 100 : 600, seen = 0;
        CHECK(genc_task_set_make(ctx, &cfgs[c], 99, held_n[c], &held) == GENC_OK);
        char *s = corpus(ctx, &cfgs[c], &held, 7, n, &len), *s2 = corpus(ctx, &cfgs[c], &held, 7, n, &len2);
        CHECK(len == len2 && !memcmp(s, s2, len)); /* deterministic */
        CHECK_MSG(genc_corpus_think_rule_ok(s, len) && strstr(s, "<think>") && strstr(s, "Assistant: "), "config %zu", c);
        /* The markup style: the same rule, every made-up tag closed by its own name. */
        char *m = corpus_style(ctx, &cfgs[c], &held, 7, n, &len2, GENC_CORPUS_MARKUP);
        CHECK_MSG(genc_corpus_think_rule_ok(m, len2) && strstr(m, "</think>") && !strstr(m, "Reply format"), "config %zu", c);
        CHECK_MSG(markup_balanced(m) > n / 5 && markup_balanced(s) >= 0, "config %zu: %d markup blocks", c,
                  markup_balanced(m));
        if (c == 0) { /* a short direct reply is the base's likeliest: direct Q/A pages outnumber worked ones */
            int direct, worked, pd, pw;
            qa_wrapped_count(m, &direct, &worked), qa_wrapped_count(s, &pd, &pw);
            CHECK_MSG(worked > 0 && direct > 2 * worked && pd + pw == 0, "wrapped Q/A: %d direct, %d worked (plain %d)",
                      direct, worked, pd + pw);
        }
        free(m);
        CHECK(strlen(s) == len && strstr(s, "<answer>") && strstr(s, "Q: ") && !strstr(s, "\n\n\n"));
        int docs = 1;
        for (const char *q = strstr(s, "\n\n"); q; q = strstr(q + 2, "\n\n")) docs++;
        CHECK_MSG(docs == n && s[len - 1] == '\n', "config %zu: %d documents, expected %d", c, docs, n);
        int leaks = corpus_leaks(s, &held, &seen);
        CHECK_MSG(leaks == 0 && seen > n / 3, "config %zu: %d held-out problems in the corpus (%d seen)", c, leaks, seen);
        if (c == 0) { /* the check bites: without the held-out set the corpus would leak */
            char *u = corpus(ctx, &cfgs[c], NULL, 7, n, &len2);
            int seen2 = 0;
            CHECK(corpus_leaks(u, &held, &seen2) > 0);
            free(u);
        }
        if (c == 0 || c == 3) printf("corpus sample:\n%.*s\n", (int)(strstr(s + 800, "\n\n") - s), s);
        free(s), free(s2);
        genc_task_set_free(&held);
    }
}

/* Chain sums: "What is a + b + c ...?" with the exact total; one key for any order of the
 * terms; the corpus works them one term at a time; bad chains are refused. */
static void test_chains(genc_ctx *ctx) {
    genc_task_cfg c = arith_cfg(1, 1, "+", false);
    c.terms = 5;
    CHECK(genc_task_cfg_check(ctx, &c) == GENC_OK);
    for (uint64_t i = 0; i < 200; i++) {
        genc_task_problem p;
        CHECK(genc_task_generate(ctx, &c, 3, i, &p) == GENC_OK);
        long long t[5], sum = 0;
        CHECK(sscanf(p.prompt, "What is %lld + %lld + %lld + %lld + %lld?", &t[0], &t[1], &t[2], &t[3], &t[4]) == 5);
        for (int k = 0; k < 5; k++) {
            sum += t[k];
            CHECK(t[k] == p.numbers[k] && t[k] >= 0 && t[k] <= 9);
        }
        CHECK(p.n_numbers == 5 && p.op == '+' && atoll(p.answer) == sum);
        genc_task_problem q = p;
        q.numbers[0] = p.numbers[4], q.numbers[4] = p.numbers[0];
        CHECK(genc_task_problem_key(&q) == p.key);
        genc_task_problem_free(&p);
    }
    genc_task_set held;
    size_t len;
    CHECK(genc_task_set_make(ctx, &c, 99, 100, &held) == GENC_OK);
    char *s = corpus(ctx, &c, &held, 7, 300, &len);
    CHECK(strstr(s, "Add the numbers one at a time, from the left.\n") && strstr(s, " + ") && genc_corpus_think_rule_ok(s, len));
    free(s);
    genc_task_set_free(&held);
    c.terms = 7;
    CHECK(genc_task_cfg_check(ctx, &c) == GENC_EINVAL);
    genc_clear_error(ctx);
    c.terms = 3, snprintf(c.ops, sizeof c.ops, "+-");
    CHECK(genc_task_cfg_check(ctx, &c) == GENC_EINVAL && strstr(genc_last_error(ctx), "chain"));
    genc_clear_error(ctx);
}

int main(void) {
    genc_ctx *ctx = genc_ctx_new();
    snprintf(tmpdir, sizeof tmpdir, "/tmp/genc_tasks_XXXXXX");
    CHECK(mkdtemp(tmpdir) != NULL);
    test_generators(ctx);
    test_cfg_errors(ctx);
    decimal_cases();
    test_overlap(ctx);
    test_expr();
    test_countdown_check();
    test_integer_answers();
    test_rewards();
    test_countdown_rewards();
    test_jsonl(ctx);
    test_corpus(ctx);
    test_chains(ctx);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    CHECK(system(cmd) == 0);
    genc_ctx_free(ctx);
    return test_report("test_tasks");
}
