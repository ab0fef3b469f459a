/* Trivial baselines for a problem set: answers that need no reasoning (copy an operand,
 * always the most common reference answer; for Countdown the sum, or the product, of all the
 * numbers in the order given, or the first number alone), scored by the same checker as the
 * model. Printed beside every task score so a shortcut can never pass for skill. */
#include "genc/tasks.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Accuracy of answering ans(p) to every problem. */
typedef void (*answer_fn)(const genc_task_problem *p, char *buf, size_t cap);

static void first_number(const genc_task_problem *p, char *b, size_t n) { snprintf(b, n, "%lld", (long long)p->numbers[0]); }
static void second_number(const genc_task_problem *p, char *b, size_t n) { snprintf(b, n, "%lld", (long long)p->numbers[1]); }

static void join_numbers(const genc_task_problem *p, char op, char *b, size_t n) {
    size_t at = 0;
    b[0] = 0;
    for (int i = 0; i < p->n_numbers && at < n; i++) {
        if (i) at += (size_t)snprintf(b + at, n - at, " %c ", op);
        if (at < n) at += (size_t)snprintf(b + at, n - at, "%lld", (long long)p->numbers[i]);
    }
}
static void all_sum(const genc_task_problem *p, char *b, size_t n) { join_numbers(p, '+', b, n); }
static void all_product(const genc_task_problem *p, char *b, size_t n) { join_numbers(p, '*', b, n); }

static double score(const genc_task_set *set, answer_fn f) {
    char buf[512];
    double ok = 0;
    for (int64_t i = 0; i < set->n; i++) {
        f(&set->problems[i], buf, sizeof buf);
        ok += genc_task_check_answer(&set->problems[i], buf, strlen(buf)) == GENC_CHECK_OK;
    }
    return set->n ? ok / (double)set->n : 0;
}

/* Accuracy of always giving the reference answer that occurs most often in the set. */
static double most_common(const genc_task_set *set, const char **which) {
    int64_t best = 0, best_n = 0;
    for (int64_t i = 0; i < set->n; i++) {
        int64_t c = 0;
        for (int64_t j = 0; j < set->n; j++) c += !strcmp(set->problems[i].answer, set->problems[j].answer);
        if (c > best_n) best = i, best_n = c;
    }
    *which = set->n ? set->problems[best].answer : "";
    double ok = 0;
    for (int64_t i = 0; i < set->n; i++) {
        const char *a = *which;
        ok += genc_task_check_answer(&set->problems[i], a, strlen(a)) == GENC_CHECK_OK;
    }
    return set->n ? ok / (double)set->n : 0;
}

int genc_task_baselines(const genc_task_set *set, genc_task_baseline *out, int cap) {
    int n = 0;
    bool countdown = set->n > 0 && set->problems[0].kind == GENC_TASK_COUNTDOWN;
    bool numbers = set->n > 0 && set->problems[0].kind != GENC_TASK_USER;
    if (numbers && n < cap) out[n++] = (genc_task_baseline){"first number", score(set, first_number)};
    if (numbers && !countdown && n < cap) out[n++] = (genc_task_baseline){"second number", score(set, second_number)};
    if (countdown && n < cap) out[n++] = (genc_task_baseline){"sum of all numbers", score(set, all_sum)};
    if (countdown && n < cap) out[n++] = (genc_task_baseline){"product of all numbers", score(set, all_product)};
    if (!countdown && n < cap) {
        const char *which;
        out[n].accuracy = most_common(set, &which);
        out[n++].name = "most common answer";
    }
    return n;
}

double genc_task_baselines_print(FILE *f, const genc_task_set *set) {
    genc_task_baseline b[GENC_TASK_MAX_BASELINES];
    int n = genc_task_baselines(set, b, GENC_TASK_MAX_BASELINES);
    double best = 0;
    fprintf(f, "trivial baselines on these %lld problems:", (long long)set->n);
    for (int i = 0; i < n; i++) {
        fprintf(f, "%s %s %.2f%%", i ? "," : "", b[i].name, 100 * b[i].accuracy);
        best = b[i].accuracy > best ? b[i].accuracy : best;
    }
    fprintf(f, "\n");
    return best;
}
