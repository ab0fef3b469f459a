/* libFuzzer target for genc's answer checkers. The first byte picks a mode:
 *   0  the rest is an expression: evaluation never crashes; a valid value is reduced with
 *      den > 0, and the countdown checker accepts the expression for its own literals and
 *      (integer) value;
 *   1  the rest is a model response, scored against an arithmetic and a countdown problem
 *      in every reward mode: rewards take only their documented values (the R1 rule:
 *      accuracy only in a well-formed reply, the format reward only for a non-blank think
 *      and an answer of the task's kind, right or wrong);
 *   2  the rest is "answer\nreference": the integer-answer rule is symmetric.
 * Crashes, sanitizer reports and broken invariants all abort. */
#include "genc/tasks.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(c) do { if (!(c)) __builtin_trap(); } while (0)

static uint64_t gcd(uint64_t a, uint64_t b) {
    while (b) {
        uint64_t t = a % b;
        a = b, b = t;
    }
    return a;
}

static void fuzz_expr(const char *s, size_t n) {
    genc_expr_value v, w;
    genc_check c = genc_expr_eval(s, n, &v);
    REQUIRE(genc_expr_eval(s, n, &w) == c);
    if (c != GENC_CHECK_OK) return;
    REQUIRE(v.den > 0 && v.num == w.num && v.den == w.den && v.n_literals <= GENC_EXPR_MAX_LITERALS);
    REQUIRE(gcd(v.num < 0 ? 0 - (uint64_t)v.num : (uint64_t)v.num, (uint64_t)v.den) == 1 || v.num == 0);
    REQUIRE(v.num != 0 || v.den == 1);
    genc_check k = genc_countdown_check(s, n, v.literals, v.n_literals, v.den == 1 ? v.num : 0);
    REQUIRE(v.den == 1 ? k == GENC_CHECK_OK : k == GENC_CHECK_WRONG_VALUE);
}

static void fuzz_response(const char *r, size_t n) {
    genc_task_problem a = {GENC_TASK_ARITH, '+', 2, {482, 317}, 0, "What is 482 + 317?", "799", 0};
    genc_task_problem c = {GENC_TASK_COUNTDOWN, 0, 4, {3, 7, 25, 50}, 178, "make 178", "(50 - 25) * 7 + 3", 0};
    genc_task_problem u = {GENC_TASK_USER, 0, 0, {0}, 0, "Capital?", "Paris", 0};
    genc_task_problem *ps[] = {&a, &c, &u};
    genc_reward_cfg w, tz;
    genc_reward_cfg_default(&w);
    tz = w, tz.mode = GENC_REWARD_TINYZERO;
    for (int i = 0; i < 3; i++) {
        genc_reward x = genc_task_reward(ps[i], r, n, &w), y = genc_task_reward(ps[i], r, n, &tz);
        REQUIRE(x.reward == x.accuracy + 0.1 * (x.think && x.valid)); /* format: a think and an answer */
        REQUIRE(!x.format || x.has_answer);
        REQUIRE(!x.think || x.format);
        REQUIRE(!x.accuracy || x.format);
        REQUIRE(x.think == genc_response_think(r, n));
        REQUIRE(!x.accuracy || (x.has_answer && x.check == GENC_CHECK_OK));
        REQUIRE(y.reward == 0.0 || y.reward == 0.1 || y.reward == 1.0);
        REQUIRE((y.reward == 0.0) == !y.has_answer);
        REQUIRE(x.format == genc_response_format_ok(r, n));
    }
}

static void fuzz_integer(const char *s, size_t n) {
    const char *nl = memchr(s, '\n', n);
    if (!nl) return;
    size_t la = (size_t)(nl - s), lb = n - la - 1;
    char *a = malloc(la + 1), *b = malloc(lb + 1);
    memcpy(a, s, la), a[la] = 0;
    memcpy(b, nl + 1, lb), b[lb] = 0;
    if (!memchr(a, 0, la) && !memchr(b, 0, lb)) {
        genc_check x = genc_integer_answer_check(a, la, b), y = genc_integer_answer_check(b, lb, a);
        REQUIRE((x == GENC_CHECK_OK) == (y == GENC_CHECK_OK));
    }
    free(a), free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    const char *s = (const char *)data + 1;
    size_t n = size - 1;
    switch (data[0] % 3) {
    case 0: fuzz_expr(s, n); break;
    case 1: fuzz_response(s, n); break;
    default: fuzz_integer(s, n); break;
    }
    return 0;
}
