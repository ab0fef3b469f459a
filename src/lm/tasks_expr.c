/* Safe evaluation of answer expressions: a recursive-descent parser over digits,
 * + - * / ( ) and spaces, exact 64-bit rationals with overflow detection, limits on
 * length, depth and number count; the countdown and integer-answer checkers. */
#include "genc/tasks.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    int64_t num, den;
} rat;

typedef struct {
    const char *s;
    size_t len, pos;
    int depth;
    genc_check err;
    genc_expr_value *out;
} parser;

const char *genc_check_name(genc_check c) {
    static const char *names[] = {"ok", "no answer", "empty", "syntax error", "too long", "too deep",
                                  "too many numbers", "overflow", "division by zero", "not an integer",
                                  "wrong numbers", "wrong value"};
    return (unsigned)c < sizeof names / sizeof *names ? names[c] : "unknown";
}

static uint64_t gcd_u64(uint64_t a, uint64_t b) {
    while (b) {
        uint64_t t = a % b;
        a = b, b = t;
    }
    return a;
}

static uint64_t abs_u64(int64_t v) { return v < 0 ? 0 - (uint64_t)v : (uint64_t)v; }

/* Reduce n/d (d != 0) to lowest terms with d > 0. INT64_MIN is refused anywhere, so
 * negation never overflows. */
static bool rat_make(int64_t n, int64_t d, rat *r) {
    if (n == INT64_MIN || d == INT64_MIN || d == 0) return false;
    if (d < 0) n = -n, d = -d;
    int64_t g = (int64_t)gcd_u64(abs_u64(n), (uint64_t)d);
    r->num = n / g, r->den = d / g;
    return true;
}

static bool rat_add(rat a, rat b, int sign, rat *r) {
    int64_t g = (int64_t)gcd_u64((uint64_t)a.den, (uint64_t)b.den);
    int64_t x, y, n, d;
    if (__builtin_mul_overflow(a.num, b.den / g, &x) || __builtin_mul_overflow(b.num, a.den / g, &y)) return false;
    if (sign < 0 ? __builtin_sub_overflow(x, y, &n) : __builtin_add_overflow(x, y, &n)) return false;
    if (__builtin_mul_overflow(a.den, b.den / g, &d)) return false;
    return rat_make(n, d, r);
}

/* a * (b.num / b.den), cross-reducing first so that exact results that fit are found. */
static bool rat_mul(rat a, rat b, rat *r) {
    int64_t g1 = (int64_t)gcd_u64(abs_u64(a.num), (uint64_t)b.den);
    int64_t g2 = (int64_t)gcd_u64(abs_u64(b.num), (uint64_t)a.den);
    if (g1 == 0) g1 = 1;
    if (g2 == 0) g2 = 1;
    int64_t n, d;
    if (__builtin_mul_overflow(a.num / g1, b.num / g2, &n)) return false;
    if (__builtin_mul_overflow(a.den / g2, b.den / g1, &d)) return false;
    return rat_make(n, d, r);
}

static void skip_space(parser *p) {
    while (p->pos < p->len && (p->s[p->pos] == ' ' || p->s[p->pos] == '\t')) p->pos++;
}

static bool fail(parser *p, genc_check c) {
    if (p->err == GENC_CHECK_OK) p->err = c;
    return false;
}

static bool parse_expr(parser *p, rat *v);

static bool parse_number(parser *p, rat *v) {
    int64_t x = 0;
    int nd = 0;
    while (p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9') {
        if (x != 0 && ++nd >= 18) return fail(p, GENC_CHECK_OVERFLOW); /* would pass 18 digits */
        x = x * 10 + (p->s[p->pos++] - '0');
    }
    genc_expr_value *o = p->out;
    if (o->n_literals == GENC_EXPR_MAX_LITERALS) return fail(p, GENC_CHECK_TOO_MANY);
    o->literals[o->n_literals++] = x;
    v->num = x, v->den = 1;
    return true;
}

static bool parse_factor(parser *p, rat *v) {
    skip_space(p);
    if (p->pos >= p->len) return fail(p, GENC_CHECK_SYNTAX);
    char c = p->s[p->pos];
    if (c >= '0' && c <= '9') return parse_number(p, v);
    if (c != '(') return fail(p, GENC_CHECK_SYNTAX);
    if (++p->depth > GENC_EXPR_MAX_DEPTH) return fail(p, GENC_CHECK_TOO_DEEP);
    p->pos++;
    if (!parse_expr(p, v)) return false;
    skip_space(p);
    if (p->pos >= p->len || p->s[p->pos] != ')') return fail(p, GENC_CHECK_SYNTAX);
    p->pos++, p->depth--;
    return true;
}

static bool parse_term(parser *p, rat *v) {
    if (!parse_factor(p, v)) return false;
    for (;;) {
        skip_space(p);
        if (p->pos >= p->len || (p->s[p->pos] != '*' && p->s[p->pos] != '/')) return true;
        char op = p->s[p->pos++];
        rat w;
        if (!parse_factor(p, &w)) return false;
        if (op == '/') {
            if (w.num == 0) return fail(p, GENC_CHECK_DIV_ZERO);
            rat inv;
            if (!rat_make(w.den, w.num, &inv)) return fail(p, GENC_CHECK_OVERFLOW);
            w = inv;
        }
        if (!rat_mul(*v, w, v)) return fail(p, GENC_CHECK_OVERFLOW);
    }
}

static bool parse_expr(parser *p, rat *v) {
    if (!parse_term(p, v)) return false;
    for (;;) {
        skip_space(p);
        if (p->pos >= p->len || (p->s[p->pos] != '+' && p->s[p->pos] != '-')) return true;
        char op = p->s[p->pos++];
        rat w;
        if (!parse_term(p, &w)) return false;
        if (!rat_add(*v, w, op == '-' ? -1 : 1, v)) return fail(p, GENC_CHECK_OVERFLOW);
    }
}

genc_check genc_expr_eval(const char *s, size_t len, genc_expr_value *out) {
    genc_expr_value tmp;
    if (!out) out = &tmp;
    memset(out, 0, sizeof *out);
    out->den = 1;
    if (len > GENC_EXPR_MAX_LEN) return GENC_CHECK_TOO_LONG;
    parser p = {s, len, 0, 0, GENC_CHECK_OK, out};
    skip_space(&p);
    if (p.pos == len) return GENC_CHECK_EMPTY;
    rat v;
    if (!parse_expr(&p, &v)) return p.err;
    skip_space(&p);
    if (p.pos != len) return GENC_CHECK_SYNTAX;
    out->num = v.num, out->den = v.den;
    return GENC_CHECK_OK;
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

genc_check genc_countdown_check(const char *s, size_t len, const int64_t *numbers, int n, int64_t target) {
    genc_expr_value v;
    genc_check c = genc_expr_eval(s, len, &v);
    if (c != GENC_CHECK_OK) return c;
    if (n < 0 || n > GENC_EXPR_MAX_LITERALS || v.n_literals != n) return GENC_CHECK_WRONG_NUMBERS;
    int64_t given[GENC_EXPR_MAX_LITERALS];
    memcpy(given, numbers, (size_t)n * sizeof *given);
    qsort(given, (size_t)n, sizeof *given, cmp_i64);
    qsort(v.literals, (size_t)n, sizeof *v.literals, cmp_i64);
    if (memcmp(given, v.literals, (size_t)n * sizeof *given)) return GENC_CHECK_WRONG_NUMBERS;
    return v.den == 1 && v.num == target ? GENC_CHECK_OK : GENC_CHECK_WRONG_VALUE;
}

/* Split an integer literal into sign and digits without leading zeros; false if s is not
 * "-"? digit+. */
static bool int_literal(const char *s, size_t len, bool *neg, const char **digits, size_t *nd) {
    size_t i = 0;
    *neg = len > 0 && s[0] == '-';
    if (*neg) i = 1;
    if (i == len) return false;
    for (size_t j = i; j < len; j++)
        if (s[j] < '0' || s[j] > '9') return false;
    while (i + 1 < len && s[i] == '0') i++;
    *digits = s + i, *nd = len - i;
    if (*nd == 1 && s[i] == '0') *neg = false; /* -0 == 0 */
    return true;
}

genc_check genc_integer_answer_check(const char *s, size_t len, const char *ref) {
    bool ns, nr;
    const char *ds, *dr;
    size_t ls, lr;
    if (len == 0) return GENC_CHECK_EMPTY;
    if (!int_literal(s, len, &ns, &ds, &ls)) return GENC_CHECK_NOT_INTEGER;
    if (!int_literal(ref, strlen(ref), &nr, &dr, &lr)) return GENC_CHECK_WRONG_VALUE;
    return ns == nr && ls == lr && !memcmp(ds, dr, ls) ? GENC_CHECK_OK : GENC_CHECK_WRONG_VALUE;
}
