/* Pre-training corpus for the base model: documents that teach arithmetic and Countdown
 * as ordinary text (question/answer lists, worked solutions in prose, questions followed
 * by <answer> tags), built only from training problems. The corpus never puts reasoning
 * inside think tags: every "<think>" is immediately followed by "</think>" (and every
 * "</think>" immediately preceded by "<think>"), checked on each document before writing. */
#include "genc/tasks.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *p;
    size_t n, cap;
    bool oom;
} text;

static void put(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(text *t, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (t->oom || k < 0) return;
    if (t->n + (size_t)k + 1 > t->cap) {
        size_t cap = (t->n + (size_t)k + 1) * 2;
        char *p = realloc(t->p, cap);
        if (!p) {
            t->oom = true;
            return;
        }
        t->p = p, t->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(t->p + t->n, (size_t)k + 1, fmt, ap);
    va_end(ap);
    t->n += (size_t)k;
}

typedef struct {
    uint64_t key, ctr;
} draws;

static uint32_t draw(draws *d, uint32_t n) { return genc_philox_u32(d->key, d->ctr++) % n; }

bool genc_corpus_think_rule_ok(const char *s, size_t len) {
    static const char o[] = "<think>", c[] = "</think>";
    for (size_t i = 0; i < len; i++) {
        if (s[i] != '<') continue;
        if (len - i >= 7 && !memcmp(s + i, o, 7) && (len - i < 15 || memcmp(s + i + 7, c, 8))) return false;
        if (len - i >= 8 && !memcmp(s + i, c, 8) && (i < 7 || memcmp(s + i - 7, o, 7))) return false;
    }
    return true;
}

/* ---- arithmetic worked solutions ---- */

static const char *PLACE[] = {"Ones", "Tens", "Hundreds", "Thousands", "Ten-thousands", "Hundred-thousands",
                              "Millions", "Ten-millions", "Hundred-millions", "Billions", "Ten-billions",
                              "Hundred-billions", "Trillions", "Ten-trillions", "Hundred-trillions", "Quadrillions",
                              "Ten-quadrillions", "Hundred-quadrillions", "Quintillions"};

static const char *place(int i) { return i < (int)(sizeof PLACE / sizeof *PLACE) ? PLACE[i] : "Next"; }

static void column_add(text *t, const char *a, const char *b) {
    int la = (int)strlen(a), lb = (int)strlen(b), carry = 0;
    put(t, "Add %s and %s column by column, starting from the ones place.\n", a, b);
    for (int i = 0; i < la || i < lb; i++) {
        int x = i < la ? a[la - 1 - i] - '0' : 0, y = i < lb ? b[lb - 1 - i] - '0' : 0, s = x + y + carry;
        put(t, "%s place: %d + %d", place(i), x, y);
        if (carry) put(t, " + 1 carried");
        put(t, " = %d. Write %d%s.\n", s, s % 10, s >= 10 ? " and carry 1" : "");
        carry = s / 10;
    }
    if (carry) put(t, "Write the carried 1 in front.\n");
}

/* Digit-by-digit a - b for a >= b (decimal strings). */
static void column_sub(text *t, const char *a, const char *b) {
    int la = (int)strlen(a), lb = (int)strlen(b), borrow = 0;
    put(t, "Subtract %s from %s column by column, starting from the ones place.\n", b, a);
    for (int i = 0; i < la; i++) {
        int x = a[la - 1 - i] - '0' - borrow, y = i < lb ? b[lb - 1 - i] - '0' : 0;
        if (borrow) put(t, "%s place: %d minus the borrowed 1 is %d. ", place(i), x + 1, x);
        else put(t, "%s place: ", place(i));
        borrow = x < y;
        if (borrow) put(t, "%d is less than %d, so borrow 1: %d - %d = %d. Write %d.\n", x, y, x + 10, y, x + 10 - y, x + 10 - y);
        else put(t, "%d - %d = %d. Write %d.\n", x, y, x - y, x - y);
    }
}

static void partial_products(text *t, const char *a, const char *b) {
    int lb = (int)strlen(b);
    char digit[2] = {0}, part[160], shifted[200], sum[160] = "0", tmp[160];
    put(t, "Multiply %s by each digit of %s, starting from the right, and add the partial products.\n", a, b);
    for (int i = 0; i < lb; i++) {
        digit[0] = b[lb - 1 - i];
        GENC_ASSERT(genc_task_decimal('*', a, digit, part, sizeof part));
        put(t, "%s * %s = %s", a, digit, part);
        snprintf(shifted, sizeof shifted, "%s%.*s", part, strcmp(part, "0") ? i : 0, "000000000000000000");
        if (i && strcmp(part, "0")) put(t, ", shifted %d place%s: %s", i, i > 1 ? "s" : "", shifted);
        put(t, ".\n");
        GENC_ASSERT(genc_task_decimal('+', sum, shifted, tmp, sizeof tmp));
        memcpy(sum, tmp, sizeof sum);
    }
    if (lb > 1) put(t, "The partial products add up to %s.\n", sum);
}

/* The steps of an arithmetic problem, ending "So a op b = c." */
static void arith_steps(text *t, const genc_task_problem *p) {
    char a[24], b[24];
    snprintf(a, sizeof a, "%lld", (long long)p->numbers[0]);
    snprintf(b, sizeof b, "%lld", (long long)p->numbers[1]);
    if (p->op == '+') column_add(t, a, b);
    else if (p->op == '*') partial_products(t, a, b);
    else if (p->numbers[0] >= p->numbers[1]) column_sub(t, a, b);
    else {
        put(t, "%s is smaller than %s, so compute %s - %s and make the result negative.\n", a, b, b, a);
        column_sub(t, b, a);
    }
    put(t, "So %s %c %s = %s.\n", a, p->op, b, p->answer);
}

static void arith_worked(text *t, const genc_task_problem *p) {
    put(t, "Problem: %s\n", p->prompt);
    arith_steps(t, p);
}

/* ---- countdown tries ---- */

/* One random sequence of integer steps over the numbers; returns the final value. */
static int64_t countdown_try(text *t, draws *d, const genc_task_problem *p) {
    int64_t v[GENC_TASK_MAX_NUMBERS];
    int m = p->n_numbers;
    memcpy(v, p->numbers, (size_t)m * sizeof *v);
    put(t, "Try:");
    for (; m > 1; m--) {
        int i = (int)draw(d, (uint32_t)m), j = (int)draw(d, (uint32_t)m - 1);
        if (j >= i) j++;
        if (v[i] < v[j]) {
            int64_t x = v[i];
            v[i] = v[j], v[j] = x;
        }
        char op = "+-*/"[draw(d, 4)];
        int64_t r; /* values stay >= 0: v[i] >= v[j]; an impossible or overflowing step falls back */
        if (op == '/' && (v[j] == 0 || v[i] % v[j])) op = '+';
        if (op == '*' && __builtin_mul_overflow(v[i], v[j], &r)) op = '+';
        if (op == '+' && __builtin_add_overflow(v[i], v[j], &r)) op = '-';
        r = op == '+' ? v[i] + v[j] : op == '-' ? v[i] - v[j] : op == '*' ? v[i] * v[j] : v[i] / v[j];
        put(t, " %lld %c %lld = %lld%s", (long long)v[i], op, (long long)v[j], (long long)r, m > 2 ? "," : ".");
        v[i] = r, v[j] = v[m - 1];
    }
    return v[0];
}

static void countdown_worked(text *t, draws *d, const genc_task_problem *p) {
    put(t, "Countdown. Numbers:");
    for (int i = 0; i < p->n_numbers; i++) put(t, "%s %lld", i ? "," : "", (long long)p->numbers[i]);
    put(t, ". Target: %lld. Each number is used exactly once.\n", (long long)p->target);
    for (int k = 0, n = 1 + (int)draw(d, 3); k < n; k++) {
        int64_t r = countdown_try(t, d, p);
        if (r == p->target) put(t, " That makes %lld, which works.\n", (long long)r);
        else put(t, " That gives %lld, %s than %lld.\n", (long long)r, r < p->target ? "less" : "more", (long long)p->target);
    }
    put(t, "A solution: %s = %lld.\n", p->answer, (long long)p->target);
}

/* ---- documents ---- */

static void qa_line(text *t, const genc_task_problem *p) {
    if (p->kind == GENC_TASK_ARITH)
        put(t, "Q: %lld %c %lld = ? A: %s\n", (long long)p->numbers[0], p->op, (long long)p->numbers[1], p->answer);
    else
        put(t, "Q: %s A: %s\n", p->prompt, p->answer);
}

static void tagged(text *t, draws *d, const genc_task_problem *p, bool format_note) {
    static const char *lead[] = {"Question: ", "", "Problem: "};
    int k = (int)draw(d, 3);
    if (format_note)
        put(t, "In the reply format, the reasoning tags are written <think></think> and the answer tags "
               "<answer></answer>. For example:\n");
    put(t, "%s%s\n%s", lead[k], p->prompt, k == 2 ? "The final answer goes in answer tags.\n" : "");
    put(t, "<answer>%s</answer>\n", p->answer);
}

/* A chat exchange: the assistant answers in answer tags, directly or after working the
 * problem out as ordinary text (never inside think tags). */
static void dialogue(text *t, draws *d, const genc_task_problem *p, bool worked) {
    put(t, "User: %s Assistant: ", p->prompt);
    if (worked && p->kind == GENC_TASK_ARITH) arith_steps(t, p);
    else if (worked) countdown_worked(t, d, p);
    put(t, "<answer>%s</answer>\n", p->answer);
}

typedef struct {
    genc_ctx *ctx;
    const genc_task_cfg *cfg;
    const genc_task_set *heldout;
    uint64_t seed, index;
} source;

/* One document: style 0-2 a Q/A list, 3-6 a worked solution, 7-8 a tagged answer, 9 a
 * tagged answer after a note on the reply format, 10-12 a chat exchange answered directly
 * in answer tags, 13-15 one where the assistant works the problem out in plain text first. */
static genc_status document(source *src, draws *d, text *t) {
    genc_task_problem p;
    int style = (int)draw(d, 16), n = style < 3 ? 2 + (int)draw(d, 4) : 1;
    for (int k = 0; k < n; k++) {
        genc_status s = genc_task_next_train(src->ctx, src->cfg, src->heldout, src->seed, &src->index, &p);
        if (s) return s;
        if (style < 3) qa_line(t, &p);
        else if (style < 7 && p.kind == GENC_TASK_ARITH) arith_worked(t, &p);
        else if (style < 7) countdown_worked(t, d, &p);
        else if (style < 10) tagged(t, d, &p, style == 9);
        else dialogue(t, d, &p, style >= 13);
        genc_task_problem_free(&p);
    }
    return GENC_OK;
}

genc_status genc_task_corpus_write(genc_ctx *ctx, FILE *f, const genc_task_cfg *cfg, const genc_task_set *heldout,
                                   uint64_t seed, int64_t n_docs) {
    genc_status s = genc_task_cfg_check(ctx, cfg);
    if (s) return s;
    if (n_docs < 0) return genc_error(ctx, GENC_EINVAL, "corpus: expected a document count >= 0, found %lld", (long long)n_docs);
    source src = {ctx, cfg, heldout, seed, 0};
    text t = {0};
    draws d = {genc_philox_u32(seed, 0x636F72707573ull) | (uint64_t)genc_philox_u32(seed, 0x636F72707574ull) << 32, 0};
    for (int64_t i = 0; !s && i < n_docs; i++) {
        t.n = 0;
        if ((s = document(&src, &d, &t))) break;
        if (t.oom) s = genc_error(ctx, GENC_ENOMEM, "corpus: out of memory");
        else {
            GENC_ASSERT(genc_corpus_think_rule_ok(t.p, t.n) && !strstr(t.p, "\n\n"));
            if (fprintf(f, "%s%s", i ? "\n" : "", t.p) < 0) s = genc_error(ctx, GENC_EIO, "corpus: write error");
        }
    }
    if (!s && fflush(f)) s = genc_error(ctx, GENC_EIO, "corpus: write error");
    free(t.p);
    return s;
}
