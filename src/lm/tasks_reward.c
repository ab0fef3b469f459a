/* Rule-based rewards for R1-Zero-style RL: the <think>/<answer> format check, answer
 * extraction (strict single block, or TinyZero's last pair), exact answer checks per
 * task kind, and the weighted and TinyZero-style scores. Responses are byte strings with
 * a length; they need not be NUL-terminated and may hold any bytes. */
#include "genc/tasks.h"

#include <string.h>

static const char THINK_O[] = "<think>", THINK_C[] = "</think>", ANS_O[] = "<answer>", ANS_C[] = "</answer>";

void genc_reward_cfg_default(genc_reward_cfg *cfg) {
    memset(cfg, 0, sizeof *cfg);
    cfg->mode = GENC_REWARD_WEIGHTED;
    cfg->w_acc = 1.0, cfg->w_fmt = 0.1;
    cfg->accuracy_needs_format = true; /* the R1 rule */
    cfg->tz_format = 0.1, cfg->tz_correct = 1.0;
}

static bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

/* First occurrence of tag in r[from..len), or len when none. */
static size_t find(const char *r, size_t len, size_t from, const char *tag) {
    size_t n = strlen(tag);
    for (size_t i = from; i + n <= len; i++)
        if (r[i] == tag[0] && !memcmp(r + i, tag, n)) return i;
    return len;
}

static int count(const char *r, size_t len, const char *tag, size_t *first) {
    int c = 0;
    *first = len;
    for (size_t i = find(r, len, 0, tag); i < len; i = find(r, len, i + 1, tag))
        if (c++ == 0) *first = i;
    return c;
}

static bool only_ws(const char *r, size_t from, size_t to) {
    for (size_t i = from; i < to; i++)
        if (!is_ws(r[i])) return false;
    return true;
}

bool genc_response_format_ok(const char *r, size_t len) {
    size_t to, tc, ao, ac;
    if (count(r, len, THINK_O, &to) != 1 || count(r, len, THINK_C, &tc) != 1 || count(r, len, ANS_O, &ao) != 1 ||
        count(r, len, ANS_C, &ac) != 1)
        return false;
    return only_ws(r, 0, to) && to < tc && tc < ao && only_ws(r, tc + strlen(THINK_C), ao) && ao < ac &&
           only_ws(r, ac + strlen(ANS_C), len);
}

/* TinyZero's re.finditer(r'<answer>(.*?)</answer>') without DOTALL: the last match, where
 * a match may not span a newline. */
static bool last_pair(const char *r, size_t len, size_t *off, size_t *alen) {
    bool found = false;
    size_t o = find(r, len, 0, ANS_O);
    while (o < len) {
        size_t start = o + strlen(ANS_O), c = find(r, len, start, ANS_C);
        if (c == len) break;
        if (memchr(r + start, '\n', c - start)) {
            o = find(r, len, o + 1, ANS_O);
            continue;
        }
        *off = start, *alen = c - start, found = true;
        o = find(r, len, c + strlen(ANS_C), ANS_O);
    }
    return found;
}

bool genc_response_think(const char *r, size_t len) {
    size_t to, tc;
    if (!genc_response_format_ok(r, len)) return false;
    count(r, len, THINK_O, &to), count(r, len, THINK_C, &tc);
    return !only_ws(r, to + strlen(THINK_O), tc);
}

bool genc_response_answer(const char *r, size_t len, bool last, size_t *off, size_t *alen) {
    if (last) return last_pair(r, len, off, alen);
    size_t ao, ac;
    if (count(r, len, ANS_O, &ao) != 1 || count(r, len, ANS_C, &ac) != 1 || ac < ao) return false;
    *off = ao + strlen(ANS_O), *alen = ac - *off;
    return true;
}

static void trim(const char **s, size_t *len) {
    while (*len && is_ws(**s)) (*s)++, (*len)--;
    while (*len && is_ws((*s)[*len - 1])) (*len)--;
}

static bool is_int_literal(const char *s, size_t len) {
    size_t i = len && s[0] == '-';
    if (i == len) return false;
    for (; i < len; i++)
        if (s[i] < '0' || s[i] > '9') return false;
    return true;
}

static genc_check check_user(const char *ref, const char *a, size_t len) {
    size_t rl = strlen(ref);
    trim(&ref, &rl);
    if (is_int_literal(ref, rl)) {
        char buf[4096];
        if (rl >= sizeof buf) return GENC_CHECK_TOO_LONG;
        memcpy(buf, ref, rl), buf[rl] = 0;
        return genc_integer_answer_check(a, len, buf);
    }
    return rl == len && !memcmp(ref, a, len) ? GENC_CHECK_OK : GENC_CHECK_WRONG_VALUE;
}

genc_check genc_task_check_answer(const genc_task_problem *p, const char *a, size_t len) {
    trim(&a, &len);
    if (!len) return GENC_CHECK_EMPTY;
    switch (p->kind) {
    case GENC_TASK_ARITH: return genc_integer_answer_check(a, len, p->answer);
    case GENC_TASK_COUNTDOWN: return genc_countdown_check(a, len, p->numbers, p->n_numbers, p->target);
    default: return check_user(p->answer ? p->answer : "", a, len);
    }
}

genc_reward genc_task_reward(const genc_task_problem *p, const char *response, size_t len,
                             const genc_reward_cfg *cfg) {
    genc_reward out = {0};
    bool tz = cfg->mode == GENC_REWARD_TINYZERO;
    size_t off = 0, alen = 0;
    out.format = genc_response_format_ok(response, len);
    out.think = out.format && genc_response_think(response, len);
    out.has_answer = genc_response_answer(response, len, tz, &off, &alen);
    out.check = out.has_answer ? genc_task_check_answer(p, response + off, alen) : GENC_CHECK_NO_ANSWER;
    out.accuracy = out.check == GENC_CHECK_OK && (tz || !cfg->accuracy_needs_format || out.format);
    out.valid = out.check == GENC_CHECK_OK || out.check == GENC_CHECK_WRONG_VALUE || out.check == GENC_CHECK_WRONG_NUMBERS;
    if (tz)
        out.reward = !out.has_answer ? 0.0 : out.accuracy ? cfg->tz_correct : cfg->tz_format;
    else
        out.reward = cfg->w_acc * out.accuracy + cfg->w_fmt * (out.think && out.valid);
    return out;
}
