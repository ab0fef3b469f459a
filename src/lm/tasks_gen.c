/* Task generators: multi-digit arithmetic and Countdown problems as pure functions of
 * (cfg, seed, index) on Philox draws, exact decimal arithmetic for the answers,
 * canonical problem keys, key-hashed problem sets, and the held-out-skipping train stream. */
#include "genc/tasks.h"

#include <stdlib.h>
#include <string.h>

#define COUNTDOWN_TRIES 10000
#define SET_MAX_SKIPS 100000

/* ---- configuration ---- */

void genc_task_cfg_default(genc_task_cfg *cfg, genc_task_kind kind) {
    memset(cfg, 0, sizeof *cfg);
    cfg->kind = kind;
    cfg->a_digits = cfg->b_digits = 3, cfg->terms = 2;
    memcpy(cfg->ops, "+-*", 4);
    cfg->n_numbers = 4;
    cfg->max_number = 100;
    cfg->target_min = 1, cfg->target_max = 1000;
}

static genc_status check_ops(genc_ctx *ctx, const char ops[4]) {
    if (!memchr(ops, 0, 4) || !ops[0])
        return genc_error(ctx, GENC_EINVAL, "task config: expected ops a non-empty subset of \"+-*\", found none");
    for (int i = 0; ops[i]; i++)
        if (!strchr("+-*", ops[i]) || strchr(ops + i + 1, ops[i]))
            return genc_error(ctx, GENC_EINVAL, "task config: expected ops a subset of \"+-*\" without repeats, found \"%s\"",
                              ops);
    return GENC_OK;
}

genc_status genc_task_cfg_check(genc_ctx *ctx, const genc_task_cfg *cfg) {
    if (cfg->kind == GENC_TASK_ARITH) {
        if (cfg->a_digits < 1 || cfg->a_digits > GENC_TASK_MAX_DIGITS || cfg->b_digits < 1 ||
            cfg->b_digits > GENC_TASK_MAX_DIGITS)
            return genc_error(ctx, GENC_EINVAL, "task config: expected a_digits and b_digits in 1..%d, found %d and %d",
                              GENC_TASK_MAX_DIGITS, cfg->a_digits, cfg->b_digits);
        if (cfg->terms != 0 && (cfg->terms < 2 || cfg->terms > GENC_TASK_MAX_NUMBERS))
            return genc_error(ctx, GENC_EINVAL, "task config: expected terms in 2..%d, found %d", GENC_TASK_MAX_NUMBERS,
                              cfg->terms);
        if (cfg->terms > 2 && strcmp(cfg->ops, "+"))
            return genc_error(ctx, GENC_EINVAL, "task config: a chain of %d terms takes ops \"+\" only, found \"%s\"",
                              cfg->terms, cfg->ops);
        return check_ops(ctx, cfg->ops);
    }
    if (cfg->kind != GENC_TASK_COUNTDOWN)
        return genc_error(ctx, GENC_EINVAL, "task config: expected kind arithmetic or countdown, found %d", (int)cfg->kind);
    if (cfg->n_numbers < 2 || cfg->n_numbers > GENC_TASK_MAX_NUMBERS)
        return genc_error(ctx, GENC_EINVAL, "task config: expected n_numbers in 2..%d, found %d", GENC_TASK_MAX_NUMBERS,
                          cfg->n_numbers);
    if (cfg->max_number < 1 || cfg->max_number > GENC_TASK_MAX_NUMBER)
        return genc_error(ctx, GENC_EINVAL, "task config: expected max_number in 1..%d, found %d", GENC_TASK_MAX_NUMBER,
                          cfg->max_number);
    if (cfg->target_min < 0 || cfg->target_min > cfg->target_max || cfg->target_max > GENC_TASK_MAX_TARGET)
        return genc_error(ctx, GENC_EINVAL,
                          "task config: expected 0 <= target_min <= target_max <= %lld, found %lld and %lld",
                          GENC_TASK_MAX_TARGET, (long long)cfg->target_min, (long long)cfg->target_max);
    return GENC_OK;
}

/* ---- random draws: one Philox key per (seed, index), counters from 0 ---- */

typedef struct {
    uint64_t key, ctr;
} rng;

static uint64_t mix64(uint64_t x) { /* splitmix64 finaliser */
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

static rng rng_for(uint64_t seed, uint64_t index) {
    rng r = {mix64(mix64(seed) ^ mix64(index + 0x632BE59BD9B4E019ull)), 0};
    return r;
}

static uint64_t rng_u64(rng *r) {
    uint64_t hi = genc_philox_u32(r->key, r->ctr++);
    return hi << 32 | genc_philox_u32(r->key, r->ctr++);
}

/* Uniform in [lo, hi] without modulo bias. */
static int64_t rng_range(rng *r, int64_t lo, int64_t hi) {
    uint64_t span = (uint64_t)hi - (uint64_t)lo + 1, x;
    if (span == 0) return (int64_t)rng_u64(r);
    uint64_t limit = UINT64_MAX - UINT64_MAX % span;
    do x = rng_u64(r);
    while (x >= limit);
    return (int64_t)((uint64_t)lo + x % span);
}

/* ---- exact decimal arithmetic ---- */

#define DEC_MAX 64

/* Digits of s, least significant first; returns the count or 0 on bad input. */
static int dec_parse(const char *s, int *d) {
    size_t n = strlen(s);
    if (n == 0 || n > DEC_MAX) return 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return 0;
        d[n - 1 - i] = s[i] - '0';
    }
    while (n > 1 && d[n - 1] == 0) n--;
    return (int)n;
}

static int dec_cmp(const int *a, int na, const int *b, int nb) {
    if (na != nb) return na < nb ? -1 : 1;
    for (int i = na - 1; i >= 0; i--)
        if (a[i] != b[i]) return a[i] < b[i] ? -1 : 1;
    return 0;
}

/* r = a op b (a >= b for '-'); returns the digit count (r has room for 2 * DEC_MAX). */
static int dec_apply(char op, const int *a, int na, const int *b, int nb, int *r) {
    int n = op == '*' ? na + nb : (na > nb ? na : nb) + 1, carry = 0;
    memset(r, 0, (size_t)n * sizeof *r);
    if (op == '*') {
        for (int i = 0; i < na; i++)
            for (int j = 0; j < nb; j++) r[i + j] += a[i] * b[j];
        for (int i = 0; i < n; i++) r[i] += carry, carry = r[i] / 10, r[i] %= 10;
    } else {
        for (int i = 0; i < n; i++) {
            int x = (i < na ? a[i] : 0) + (op == '+' ? 1 : -1) * (i < nb ? b[i] : 0) + carry;
            carry = x < 0 ? -1 : x / 10;
            r[i] = x < 0 ? x + 10 : x % 10;
        }
    }
    while (n > 1 && r[n - 1] == 0) n--;
    return n;
}

bool genc_task_decimal(char op, const char *a, const char *b, char *out, size_t cap) {
    int da[DEC_MAX], db[DEC_MAX], r[2 * DEC_MAX + 1];
    int na = dec_parse(a, da), nb = dec_parse(b, db);
    if (!na || !nb || cap < 2 * DEC_MAX + 2 || !strchr("+-*", op) || !op) return false;
    bool neg = op == '-' && dec_cmp(da, na, db, nb) < 0;
    int n = neg ? dec_apply(op, db, nb, da, na, r) : dec_apply(op, da, na, db, nb, r);
    size_t k = 0;
    if (neg) out[k++] = '-';
    for (int i = n - 1; i >= 0; i--) out[k++] = (char)('0' + r[i]);
    out[k] = 0;
    return true;
}

/* ---- keys ---- */

static uint64_t fnv(uint64_t h, const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)s[i]) * 0x100000001B3ull;
    return h;
}

/* FNV-1a of prefix + s, mixed; never 0 (0 marks an empty slot). */
static uint64_t hash_key(const char *prefix, const char *s, size_t n) {
    uint64_t h = mix64(fnv(fnv(0xCBF29CE484222325ull, prefix, strlen(prefix)), s, n));
    return h ? h : 1;
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

uint64_t genc_task_problem_key(const genc_task_problem *p) {
    if (p->kind == GENC_TASK_USER) return hash_key("U:", p->prompt ? p->prompt : "", p->prompt ? strlen(p->prompt) : 0);
    int64_t v[GENC_TASK_MAX_NUMBERS];
    int n = p->n_numbers < 0 ? 0 : p->n_numbers > GENC_TASK_MAX_NUMBERS ? GENC_TASK_MAX_NUMBERS : p->n_numbers;
    memcpy(v, p->numbers, (size_t)n * sizeof *v);
    if (p->kind == GENC_TASK_COUNTDOWN || p->op == '+' || p->op == '*') qsort(v, (size_t)n, sizeof *v, cmp_i64);
    char buf[256];
    int k = snprintf(buf, sizeof buf, "%c%c:%lld", p->kind == GENC_TASK_COUNTDOWN ? 'C' : 'A', p->op ? p->op : '_',
                     (long long)p->target);
    for (int i = 0; i < n; i++) k += snprintf(buf + k, sizeof buf - (size_t)k, ",%lld", (long long)v[i]);
    return hash_key("", buf, (size_t)k);
}

void genc_task_problem_free(genc_task_problem *p) {
    if (!p) return;
    free(p->prompt), free(p->answer);
    memset(p, 0, sizeof *p);
}

static genc_status set_strings(genc_ctx *ctx, genc_task_problem *p, const char *prompt, const char *answer) {
    p->prompt = strdup(prompt), p->answer = strdup(answer);
    if (!p->prompt || !p->answer) {
        genc_task_problem_free(p);
        return genc_error(ctx, GENC_ENOMEM, "out of memory for a task problem");
    }
    return GENC_OK;
}

/* ---- arithmetic ---- */

static int64_t draw_digits(rng *r, int d) {
    int64_t lo = 1;
    for (int i = 1; i < d; i++) lo *= 10;
    return d == 1 ? rng_range(r, 0, 9) : rng_range(r, lo, lo * 10 - 1);
}

/* A chain sum of cfg->terms terms of a_digits digits: "What is 3 + 5 + 2 + 7?". */
static genc_status gen_chain(genc_ctx *ctx, const genc_task_cfg *cfg, rng *r, genc_task_problem *out) {
    char sum[2 * DEC_MAX + 2] = "0", next[2 * DEC_MAX + 2], term[24], prompt[256] = "What is ";
    size_t at = strlen(prompt);
    out->kind = GENC_TASK_ARITH, out->op = '+', out->n_numbers = cfg->terms;
    for (int i = 0; i < cfg->terms; i++) {
        out->numbers[i] = draw_digits(r, cfg->a_digits);
        snprintf(term, sizeof term, "%lld", (long long)out->numbers[i]);
        GENC_ASSERT(genc_task_decimal('+', sum, term, next, sizeof next));
        memcpy(sum, next, sizeof sum);
        at += (size_t)snprintf(prompt + at, sizeof prompt - at, "%s%s", i ? " + " : "", term);
    }
    snprintf(prompt + at, sizeof prompt - at, "?");
    return set_strings(ctx, out, prompt, sum);
}

static genc_status gen_arith(genc_ctx *ctx, const genc_task_cfg *cfg, rng *r, genc_task_problem *out) {
    if (cfg->terms > 2) return gen_chain(ctx, cfg, r, out);
    char op = cfg->ops[rng_range(r, 0, (int64_t)strlen(cfg->ops) - 1)];
    int64_t a = draw_digits(r, cfg->a_digits), b = draw_digits(r, cfg->b_digits);
    if (op == '-' && !cfg->allow_negative && a < b) {
        int64_t t = a;
        a = b, b = t;
    }
    char sa[24], sb[24], ans[2 * DEC_MAX + 2], prompt[96];
    snprintf(sa, sizeof sa, "%lld", (long long)a);
    snprintf(sb, sizeof sb, "%lld", (long long)b);
    GENC_ASSERT(genc_task_decimal(op, sa, sb, ans, sizeof ans));
    snprintf(prompt, sizeof prompt, "What is %s %c %s?", sa, op, sb);
    out->kind = GENC_TASK_ARITH, out->op = op, out->n_numbers = 2;
    out->numbers[0] = a, out->numbers[1] = b;
    return set_strings(ctx, out, prompt, ans);
}

/* ---- countdown ---- */

typedef struct {
    char s[128];
    char top; /* the operator at the top of the expression, 0 for a literal */
} item;

static int prec(char op) { return op == '+' || op == '-' ? 1 : 2; }

/* dst = l op r with only the parentheses the precedence rules need. */
static void combine(item *dst, const item *l, char op, const item *r) {
    bool pl = l->top && prec(l->top) < prec(op);
    bool pr = r->top && (prec(r->top) < prec(op) || (prec(r->top) == prec(op) && (op == '-' || op == '/')));
    char buf[128];
    snprintf(buf, sizeof buf, "%s%s%s %c %s%s%s", pl ? "(" : "", l->s, pl ? ")" : "", op, pr ? "(" : "", r->s,
             pr ? ")" : "");
    memcpy(dst->s, buf, sizeof buf);
    dst->top = op;
}

/* A random expression over nums (each used once): combine two random items until one is left. */
static void random_expr(rng *r, const int64_t *nums, int n, char *out, size_t cap) {
    item pool[GENC_TASK_MAX_NUMBERS];
    for (int i = 0; i < n; i++) snprintf(pool[i].s, sizeof pool[i].s, "%lld", (long long)nums[i]), pool[i].top = 0;
    for (int m = n; m > 1; m--) {
        int i = (int)rng_range(r, 0, m - 1), j = (int)rng_range(r, 0, m - 2);
        if (j >= i) j++;
        char op = "+-*/"[rng_range(r, 0, 3)];
        combine(&pool[i], &pool[i], op, &pool[j]);
        pool[j] = pool[m - 1];
    }
    snprintf(out, cap, "%s", pool[0].s);
}

static void countdown_prompt(const int64_t *nums, int n, int64_t target, char *out, size_t cap) {
    int k = snprintf(out, cap, "Using the numbers ");
    for (int i = 0; i < n; i++) k += snprintf(out + k, cap - (size_t)k, "%s%lld", i ? ", " : "", (long long)nums[i]);
    snprintf(out + k, cap - (size_t)k, " each exactly once with + - * / and parentheses, make %lld.", (long long)target);
}

static genc_status gen_countdown(genc_ctx *ctx, const genc_task_cfg *cfg, rng *r, genc_task_problem *out) {
    int n = cfg->n_numbers;
    for (int t = 0; t < COUNTDOWN_TRIES; t++) {
        int64_t nums[GENC_TASK_MAX_NUMBERS];
        char expr[128], prompt[256];
        for (int i = 0; i < n; i++) nums[i] = rng_range(r, 1, cfg->max_number);
        random_expr(r, nums, n, expr, sizeof expr);
        genc_expr_value v;
        if (genc_expr_eval(expr, strlen(expr), &v) != GENC_CHECK_OK || v.den != 1 || v.num < cfg->target_min ||
            v.num > cfg->target_max)
            continue;
        out->kind = GENC_TASK_COUNTDOWN, out->n_numbers = n, out->target = v.num;
        memcpy(out->numbers, nums, sizeof nums);
        countdown_prompt(nums, n, v.num, prompt, sizeof prompt);
        return set_strings(ctx, out, prompt, expr);
    }
    return genc_error(ctx, GENC_EINVAL, "countdown: expected a target in %lld..%lld, found none in %d random expressions",
                      (long long)cfg->target_min, (long long)cfg->target_max, COUNTDOWN_TRIES);
}

genc_status genc_task_generate(genc_ctx *ctx, const genc_task_cfg *cfg, uint64_t seed, uint64_t index,
                               genc_task_problem *out) {
    memset(out, 0, sizeof *out);
    genc_status s = genc_task_cfg_check(ctx, cfg);
    if (s) return s;
    rng r = rng_for(seed, index);
    s = cfg->kind == GENC_TASK_ARITH ? gen_arith(ctx, cfg, &r, out) : gen_countdown(ctx, cfg, &r, out);
    if (!s) out->key = genc_task_problem_key(out);
    return s;
}

/* ---- sets ---- */

bool genc_task_set_contains(const genc_task_set *set, uint64_t key) {
    if (!set || !set->cap) return false;
    for (uint64_t i = mix64(key) & (uint64_t)(set->cap - 1);; i = (i + 1) & (uint64_t)(set->cap - 1)) {
        if (set->slots[i] == key) return true;
        if (!set->slots[i]) return false;
    }
}

static void slot_insert(uint64_t *slots, int64_t cap, uint64_t key) {
    uint64_t i = mix64(key) & (uint64_t)(cap - 1);
    while (slots[i]) i = (i + 1) & (uint64_t)(cap - 1);
    slots[i] = key;
}

/* Room for one more problem: problems array and a table at most half full. */
static genc_status set_grow(genc_ctx *ctx, genc_task_set *set) {
    if ((set->n & (set->n - 1)) == 0) { /* n is 0 or a power of two: double the array */
        genc_task_problem *p = realloc(set->problems, (size_t)(set->n ? 2 * set->n : 1) * sizeof *p);
        if (!p) return genc_error(ctx, GENC_ENOMEM, "out of memory for a task set");
        set->problems = p;
    }
    if (2 * (set->n + 1) <= set->cap) return GENC_OK;
    int64_t cap = set->cap ? 2 * set->cap : 16;
    uint64_t *slots = calloc((size_t)cap, sizeof *slots);
    if (!slots) return genc_error(ctx, GENC_ENOMEM, "out of memory for a task set");
    for (int64_t i = 0; i < set->n; i++) slot_insert(slots, cap, set->problems[i].key);
    free(set->slots);
    set->slots = slots, set->cap = cap;
    return GENC_OK;
}

/* Takes ownership of p's strings on success. */
static genc_status set_take(genc_ctx *ctx, genc_task_set *set, genc_task_problem *p) {
    genc_status s = set_grow(ctx, set);
    if (s) return s;
    slot_insert(set->slots, set->cap, p->key);
    set->problems[set->n++] = *p;
    memset(p, 0, sizeof *p);
    return GENC_OK;
}

genc_status genc_task_set_add(genc_ctx *ctx, genc_task_set *set, const genc_task_problem *p, bool *added) {
    if (added) *added = false;
    if (genc_task_set_contains(set, p->key)) return GENC_OK;
    genc_task_problem c = *p;
    genc_status s = set_strings(ctx, &c, p->prompt ? p->prompt : "", p->answer ? p->answer : "");
    if (!s) s = set_take(ctx, set, &c);
    genc_task_problem_free(&c);
    if (!s && added) *added = true;
    return s;
}

void genc_task_set_free(genc_task_set *set) {
    if (!set) return;
    for (int64_t i = 0; i < set->n; i++) genc_task_problem_free(&set->problems[i]);
    free(set->problems), free(set->slots);
    memset(set, 0, sizeof *set);
}

genc_status genc_task_set_make(genc_ctx *ctx, const genc_task_cfg *cfg, uint64_t seed, int64_t n,
                               genc_task_set *out) {
    memset(out, 0, sizeof *out);
    if (n < 0) return genc_error(ctx, GENC_EINVAL, "task set: expected a size >= 0, found %lld", (long long)n);
    uint64_t draws = (uint64_t)n * 100 + 1000, i = 0;
    genc_status s = GENC_OK;
    while (!s && out->n < n && i < draws) {
        genc_task_problem p;
        if ((s = genc_task_generate(ctx, cfg, seed, i++, &p))) break;
        if (!genc_task_set_contains(out, p.key)) s = set_take(ctx, out, &p);
        genc_task_problem_free(&p);
    }
    if (!s && out->n < n)
        s = genc_error(ctx, GENC_EINVAL,
                       "task set: expected %lld distinct problems, found only %lld in %llu draws (the config's "
                       "problem space is too small)",
                       (long long)n, (long long)out->n, (unsigned long long)draws);
    if (s) genc_task_set_free(out);
    return s;
}

genc_status genc_task_next_train(genc_ctx *ctx, const genc_task_cfg *cfg, const genc_task_set *heldout,
                                 uint64_t seed, uint64_t *index, genc_task_problem *out) {
    for (int skips = 0; skips < SET_MAX_SKIPS; skips++) {
        genc_status s = genc_task_generate(ctx, cfg, seed, (*index)++, out);
        if (s || !genc_task_set_contains(heldout, out->key)) return s;
        genc_task_problem_free(out);
    }
    return genc_error(ctx, GENC_EINVAL,
                      "train stream: expected problems outside the held-out set, found only held-out ones in %d "
                      "draws in a row",
                      SET_MAX_SKIPS);
}
