/* Pre-training corpus for the base model: documents that teach arithmetic and Countdown
 * as ordinary text (question/answer lists, worked solutions in prose, most of them wrapped
 * in markup tags of made-up names, questions followed by <answer> tags, stories whose
 * characters' thoughts are marked up with think tags or the same made-up tags), built
 * only from training problems. A think block holds only a passing thought from a small
 * grammar of everyday sentences (no digit, no operator, no word of the tasks), and no
 * assistant reply is ever tagged; checked on each document before writing
 * (genc_corpus_think_rule_ok). The tags are meant to be read as text (lm train --tok-tags
 * text): the base learns to close whatever tag it has open after any text, working
 * included, and "think" is one of the names it closes. */
#include "genc/tasks.h"

#include <stdarg.h>
#include <stdint.h>
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

/* The operands of an arithmetic problem joined by its operator: "3 + 5 + 2". */
static void operands(const genc_task_problem *p, char *buf, size_t cap) {
    size_t at = 0;
    buf[0] = 0;
    for (int i = 0; i < p->n_numbers && at < cap; i++) {
        if (i) at += (size_t)snprintf(buf + at, cap - at, " %c ", p->op);
        if (at < cap) at += (size_t)snprintf(buf + at, cap - at, "%lld", (long long)p->numbers[i]);
    }
}

/* A chain sum one term at a time: each line adds the next term to the running total. */
static void chain_steps(text *t, const genc_task_problem *p) {
    char all[256];
    long long sum = p->numbers[0];
    put(t, "Add the numbers one at a time, from the left.\n");
    for (int i = 1; i < p->n_numbers; i++) {
        put(t, "%lld + %lld = %lld.\n", sum, (long long)p->numbers[i], sum + (long long)p->numbers[i]);
        sum += p->numbers[i];
    }
    operands(p, all, sizeof all);
    put(t, "So %s = %s.\n", all, p->answer);
}

/* The steps of an arithmetic problem, ending "So a op b = c." */
static void arith_steps(text *t, const genc_task_problem *p) {
    if (p->n_numbers > 2) {
        chain_steps(t, p);
        return;
    }
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

static void countdown_header(text *t, const genc_task_problem *p) {
    put(t, "Countdown. Numbers:");
    for (int i = 0; i < p->n_numbers; i++) put(t, "%s %lld", i ? "," : "", (long long)p->numbers[i]);
    put(t, ". Target: %lld. Each number is used exactly once.\n", (long long)p->target);
}

static void countdown_worked(text *t, draws *d, const genc_task_problem *p) {
    for (int k = 0, n = 1 + (int)draw(d, 3); k < n; k++) {
        int64_t r = countdown_try(t, d, p);
        if (r == p->target) put(t, " That makes %lld, which works.\n", (long long)r);
        else put(t, " That gives %lld, %s than %lld.\n", (long long)r, r < p->target ? "less" : "more", (long long)p->target);
    }
    put(t, "A solution: %s = %lld.\n", p->answer, (long long)p->target);
}

/* ---- documents ---- */

static void qa_line(text *t, const genc_task_problem *p) {
    char all[256];
    operands(p, all, sizeof all);
    if (p->kind == GENC_TASK_ARITH)
        put(t, "Q: %s = ? A: %s\n", all, p->answer);
    else
        put(t, "Q: %s A: %s\n", p->prompt, p->answer);
}

/* A question and its bare answer in answer tags (a quiz key, as web text marks answers). */
static void tagged(text *t, draws *d, const genc_task_problem *p) {
    static const char *lead[] = {"Question: ", "", "Problem: "};
    put(t, "%s%s\n<answer>%s</answer>\n", lead[draw(d, 3)], p->prompt, p->answer);
}

/* A made-up markup tag name of one to three syllables ("kori", "selvodra"): web pages wrap
 * text in tags of every name, and so does the markup corpus, so that closing the
 * innermost open tag would have to be learned as a rule, not a list of names. Never
 * "think" or "answer". */
static void tag_name(draws *d, char *buf, size_t cap) {
    static const char *syl[] = {"ba", "ko", "ri", "tam", "sel", "vo", "nu", "pel", "dra", "mi", "gon", "fa", "lu",
                                "zer", "chi", "wen", "so", "tor", "hal", "ip", "ex", "qua", "ryn", "mo", "ste",
                                "ul", "ark", "deb", "fin", "jo"};
    buf[0] = 0;
    for (int k = 0, n = 1 + (int)draw(d, 3); k < n; k++)
        strncat(buf, syl[draw(d, sizeof syl / sizeof *syl)], cap - strlen(buf) - 1);
}

/* A worked solution in prose. Plain corpus: half of them close with the answer in answer
 * tags, as a worked example on the web closes with a boxed result. (Closing two in three,
 * a third with the tags alone on the last line, was tried: GRPO then found no correct
 * reply in 100 steps, docs/r1zero.md.) Markup corpus: three in five are wrapped in a tag
 * of a made-up name ("<kori> Add 745 and 159 ... So 745 + 159 = 904. </kori>"), followed
 * by the answer in answer tags (2 in 5), "The answer is <answer>904</answer>." (3 in 10)
 * or nothing; a think tag never wraps working. */
/* Open a made-up tag around working; close it after, then the answer in answer tags
 * (2 in 5), "The answer is ..." (3 in 10) or nothing. */
static void wrap_open(text *t, draws *d, char *name, size_t cap) {
    tag_name(d, name, cap);
    put(t, "<%s>%s", name, draw(d, 2) ? "\n" : " ");
}
static void wrap_close(text *t, draws *d, const genc_task_problem *p, const char *name) {
    int end = (int)draw(d, 10);
    put(t, "</%s>", name);
    if (end < 4) put(t, "%s<answer>%s</answer>", draw(d, 2) ? " " : "\n", p->answer);
    else if (end < 7) put(t, "\nThe answer is <answer>%s</answer>.", p->answer);
    put(t, "\n");
}

static void worked(text *t, draws *d, const genc_task_problem *p, bool markup) {
    char name[16];
    bool arith = p->kind == GENC_TASK_ARITH, wrap = markup && draw(d, 5) < 3;
    if (arith) put(t, "Problem: %s\n", p->prompt);
    else countdown_header(t, p);
    if (wrap) wrap_open(t, d, name, sizeof name);
    if (arith) arith_steps(t, p);
    else countdown_worked(t, d, p);
    if (wrap) wrap_close(t, d, p, name);
    else if (draw(d, 2)) put(t, "The answer is <answer>%s</answer>.\n", p->answer);
}

/* ---- the corpus rule ---- */

/* The placeholders a think or answer block may hold in text the rule accepts (the RL
 * prompt's own example reads "<think> reasoning process here </think> <answer> answer here
 * </answer>"); genc's corpus writes no think tag at all. */
static const char *THINK_PH[] = {"reasoning process here", "the reasoning goes here", "your reasoning", "...",
                                 "thoughts", "notes and working", "the steps", "scratch work here"};
static const char *ANSWER_PH[] = {"answer here", "the final answer", "the result", "...", "final answer goes here"};

static bool ws_char(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

/* Whether s[0..n), trimmed, is blank or one of the n_list placeholders. */
static bool in_list(const char *s, size_t n, const char *const *list, size_t n_list) {
    while (n && ws_char(*s)) s++, n--;
    while (n && ws_char(s[n - 1])) n--;
    if (!n) return true;
    for (size_t i = 0; i < n_list; i++)
        if (strlen(list[i]) == n && !memcmp(list[i], s, n)) return true;
    return false;
}
/* Whether s[0..n) is everyday prose, not working: no digit, no operator, no tag and no
 * word of the tasks (case-insensitive). A thought in a story ("I hope the baker kept the
 * old map.") passes; "3 + 4 = 7" or "add the ones column" does not. */
static bool everyday(const char *s, size_t n) {
    static const char *task_words[] = {"add", "sum", "carr", "column", "plus", "minus", "times", "multipl", "subtract",
                                       "borrow", "number", "answer", "digit", "place", "solution", "target", "result",
                                       "problem", "question", "countdown", "total", "equal", "product", "step"};
    char low[512];
    if (n >= sizeof low) return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if ((c >= '0' && c <= '9') || strchr("+-*/=<>", c) || !c) return false;
        low[i] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
    }
    low[n] = 0;
    for (size_t i = 0; i < sizeof task_words / sizeof *task_words; i++)
        if (strstr(low, task_words[i])) return false;
    return true;
}

static bool placeholder(const char *s, size_t n) {
    return in_list(s, n, THINK_PH, sizeof THINK_PH / sizeof *THINK_PH) || everyday(s, n);
}
static bool answer_placeholder(const char *s, size_t n) {
    return in_list(s, n, ANSWER_PH, sizeof ANSWER_PH / sizeof *ANSWER_PH);
}

/* Whether an assistant's turn (s, up to the end of the document) holds a tag around
 * anything but a placeholder: a real reply in the RL format. */
static bool tagged_reply(const char *s, size_t n) {
    static const char ao[] = "<answer>", ac[] = "</answer>";
    for (size_t i = 0; i < n && !(i + 1 < n && s[i] == '\n' && s[i + 1] == '\n'); i++) {
        if (s[i] != '<' || n - i < 8 || memcmp(s + i, ao, 8)) continue;
        const char *end = strstr(s + i, ac);
        if (!end || !answer_placeholder(s + i + 8, (size_t)(end - s - i - 8))) return true;
    }
    return false;
}

/* Every "<think>" is closed by the next "</think>" with nothing between but whitespace, a
 * placeholder or everyday prose; every "</think>" closes one; and no assistant turn holds a tag (the RL
 * template's reply, "Assistant: <think>...", never appears). */
bool genc_corpus_think_rule_ok(const char *s, size_t len) {
    static const char o[] = "<think>", c[] = "</think>";
    size_t open = SIZE_MAX; /* where the open block's content starts */
    for (size_t i = 0; i < len; i++) {
        if (len - i >= 7 && !memcmp(s + i, o, 7)) {
            if (open != SIZE_MAX) return false;
            open = i + 7, i += 6;
        } else if (len - i >= 8 && !memcmp(s + i, c, 8)) {
            if (open == SIZE_MAX || !placeholder(s + open, i - open)) return false;
            open = SIZE_MAX, i += 7;
        } else if (len - i >= 10 && !memcmp(s + i, "Assistant:", 10) && tagged_reply(s + i + 10, len - i - 10)) {
            return false;
        }
    }
    return open == SIZE_MAX;
}

/* ---- everyday prose: the stories' sentences and a character's thoughts ---- */

#define PICK(d, list) list[draw(d, sizeof list / sizeof *list)]

static const char *WHO[] = {"the farmer", "my sister", "a small dog", "the old captain", "our teacher", "the baker",
                            "her cousin", "the tired traveller", "a young painter", "the mayor", "my grandmother",
                            "the quiet boy", "the neighbours", "a tall stranger"};
static const char *DID[] = {"brought", "painted", "found", "lost", "watched", "cleaned", "sold", "washed",
                            "fixed", "forgot", "opened", "wanted", "hid", "mended"};
static const char *WHAT[] = {"a red umbrella", "the garden gate", "an old map", "the kitchen window",
                             "a basket of apples", "the blue bicycle", "a long letter", "the wooden boat",
                             "a warm coat", "the library book", "a jar of honey", "the broken lamp"};
static const char *WHERE[] = {"near the river", "in the market", "at the station", "by the lake", "in the village",
                              "on the hill", "behind the school", "under the bridge", "at the harbour"};
static const char *WHEN[] = {"this morning", "last winter", "before dinner", "after the storm", "on Sunday",
                             "at dawn", "late at night", "in the spring"};
static const char *FEEL[] = {"cold", "bright", "quiet", "windy", "warm", "grey", "strange", "calm"};

static void cap_put(text *t, const char *s) { put(t, "%c%s", s[0] >= 'a' && s[0] <= 'z' ? s[0] - 'a' + 'A' : s[0], s + 1); }

/* The words of a sentence are drawn one put() at a time: C leaves the order in which a
 * call's arguments are evaluated open, and the corpus must not depend on the compiler. */
static void word(text *t, draws *d, const char *const *list, size_t n) { put(t, " %s", list[draw(d, (uint32_t)n)]); }
#define WORD(t, d, list) word(t, d, list, sizeof list / sizeof *list)

/* One narrative sentence: "The baker found an old map near the river this morning." */
static void told(text *t, draws *d) {
    cap_put(t, PICK(d, WHO));
    WORD(t, d, DID), WORD(t, d, WHAT), WORD(t, d, WHERE);
    if (draw(d, 2)) WORD(t, d, WHEN);
    put(t, ".");
}

/* One thought, first person: "I wonder whether the mayor lost the wooden boat." */
static void thought(text *t, draws *d) {
    switch (draw(d, 5)) {
    case 0: put(t, "I wonder whether"), WORD(t, d, WHO), WORD(t, d, DID), WORD(t, d, WHAT); break;
    case 1: put(t, "Perhaps"), WORD(t, d, WHO), WORD(t, d, DID), WORD(t, d, WHAT), WORD(t, d, WHEN); break;
    case 2:
        put(t, "It was"), WORD(t, d, FEEL), WORD(t, d, WHEN), put(t, ", so"), WORD(t, d, WHO);
        put(t, " stayed"), WORD(t, d, WHERE);
        break;
    case 3: put(t, "I hope"), WORD(t, d, WHO), put(t, " kept"), WORD(t, d, WHAT); break;
    default: put(t, "Maybe I left"), WORD(t, d, WHAT), WORD(t, d, WHERE); break;
    }
    put(t, ".");
}

/* 1 to 6 thoughts: think blocks of varied length, from a few tokens to a paragraph. */
static void thoughts(text *t, draws *d) {
    for (int k = 0, n = 1 + (int)draw(d, 6); k < n; k++) {
        if (k) put(t, "%s", draw(d, 3) ? " " : "\n");
        thought(t, d);
    }
}

/* A short story in which a character's passing thoughts are marked up, as fiction and chat
 * logs on the web mark inner monologue: with think tags (in the markup corpus half of
 * them with a tag of a made-up name instead). The base sees a block close after text of any
 * length; no think block ever holds working. */
static void story(text *t, draws *d, bool markup) {
    char name[16] = "think";
    for (int k = 0, n = 1 + (int)draw(d, 2); k < n; k++) told(t, d), put(t, " ");
    if (markup && draw(d, 2)) tag_name(d, name, sizeof name);
    put(t, "%s<%s> ", draw(d, 2) ? "\n" : "", name);
    thoughts(t, d);
    put(t, "%s</%s>", draw(d, 2) ? "\n" : " ", name); /* a line may end before the block closes */
    put(t, "%s", draw(d, 2) ? "\n" : " ");
    told(t, d);
    put(t, "\n");
}


/* A note on reply markup (plain corpus only), as a style guide on the web would write it:
 * the tags with a placeholder or a line of everyday prose between them. */
static void markup_note(text *t, draws *d) {
    static const char *lead[] = {"Reply format: ", "Format of a reply:\n", "Use the tags like this: ",
                                 "Markup for answers: "};
    put(t, "%s<think> ", PICK(d, lead));
    if (draw(d, 2)) put(t, "%s", PICK(d, THINK_PH));
    else thoughts(t, d); /* a note may show the block holding a line of prose, never working */
    put(t, "%s</think>", draw(d, 2) ? "\n" : " ");
    put(t, "%s<answer> ", draw(d, 2) ? " " : "\n");
    put(t, "%s </answer>\n", PICK(d, ANSWER_PH));
}

typedef struct {
    genc_ctx *ctx;
    const genc_task_cfg *cfg;
    const genc_task_set *heldout;
    uint64_t seed, index;
    bool markup;
} source;

/* A Q/A page with its reply marked up the way a markup worked solution is: "Q: What is 537 +
 * 552?" then a made-up tag around "A: " and the working (or, answered directly, "537 + 552 =
 * 1089."), then the answer as wrap_close writes it. */
static void qa_wrapped(text *t, draws *d, const genc_task_problem *p, bool work) {
    char name[16], all[256];
    put(t, "Q: %s\n", p->prompt);
    wrap_open(t, d, name, sizeof name);
    put(t, "A: ");
    if (work) arith_steps(t, p);
    else operands(p, all, sizeof all), put(t, "%s = %s.%s", all, p->answer, draw(d, 2) ? "\n" : " ");
    wrap_close(t, d, p, name);
}

/* A chat between two people in plain prose, as forums and chat logs show them: the second
 * answers directly or works the problem out first. No tags and no system text: the RL
 * template's framing is its system text and the think/answer tags, neither of which a
 * dialogue has. In the markup corpus a sum's Q/A page (every direct one, a third of the
 * worked ones) is wrapped three times in five (qa_wrapped). */
static void dialogue(text *t, draws *d, const genc_task_problem *p, bool work, bool markup) {
    static const char *who[][2] = {{"User", "Assistant"}, {"Student", "Tutor"}, {"Q", "A"}};
    int k = (int)draw(d, 3);
    if (p->kind == GENC_TASK_ARITH && markup && (!work || k == 2) && draw(d, 5) < 3) {
        qa_wrapped(t, d, p, work);
        return;
    }
    put(t, "%s: %s%s%s: ", who[k][0], p->prompt, k ? "\n" : " ", who[k][1]);
    if (work && p->kind == GENC_TASK_ARITH) arith_steps(t, p);
    else if (work) countdown_header(t, p), countdown_worked(t, d, p);
    else if (p->kind == GENC_TASK_ARITH) {
        char all[256];
        operands(p, all, sizeof all);
        put(t, "%s = %s.\n", all, p->answer);
    }
    else put(t, "%s = %lld.\n", p->answer, (long long)p->target);
}

/* Document kinds. */
enum { WORKED, QA_LIST, QUIZ, NOTE, WORK_CHAT, DIRECT_CHAT, STORY };

/* The kind of a document by its draw (0..13). Plain corpus: 4 worked solutions in prose, 1
 * Q/A list of bare results (2-5 problems), 2 quiz keys (a question, its answer in answer
 * tags), 2 markup notes, 2 dialogues that work the answer out, 1 that gives it directly, 2
 * stories with a character's thoughts in think tags. Markup corpus: no markup notes, 3
 * direct dialogues; worked solutions and Q/A dialogues, worked or direct, three in five
 * wrapped in a tag of a made-up name. The direct ones make a short reply the base's most
 * likely answer to the RL prompt, so that working things out is what RL has to find
 * (docs/r1zero.md, "Replies that grow").
 * (Reply skeletons, "User: a question Assistant: <think> ... </think> ...", were tried and
 * dropped: the base then answered every RL prompt with the skeleton, docs/r1zero.md.)
 * No document is in the RL chat template, and no reasoning ever sits inside think tags. */
static const char KIND[2][14] = {
    {WORKED, WORKED, WORKED, WORKED, QA_LIST, QUIZ, QUIZ, NOTE, NOTE, WORK_CHAT, WORK_CHAT, DIRECT_CHAT, STORY, STORY},
    {WORKED, WORKED, WORKED, WORKED, QA_LIST, QUIZ, QUIZ, WORK_CHAT, WORK_CHAT, DIRECT_CHAT, STORY, STORY,
     DIRECT_CHAT, DIRECT_CHAT}};

static genc_status document(source *src, draws *d, text *t) {
    genc_task_problem p;
    int kind = KIND[src->markup][draw(d, 14)];
    int n = kind == QA_LIST ? 2 + (int)draw(d, 4) : kind == NOTE || kind == STORY ? 0 : 1;
    if (kind == NOTE) markup_note(t, d);
    if (kind == STORY) story(t, d, src->markup);
    for (int k = 0; k < n; k++) {
        genc_status s = genc_task_next_train(src->ctx, src->cfg, src->heldout, src->seed, &src->index, &p);
        if (s) return s;
        if (kind == WORKED) worked(t, d, &p, src->markup);
        else if (kind == QA_LIST) qa_line(t, &p);
        else if (kind == QUIZ) tagged(t, d, &p);
        else dialogue(t, d, &p, kind == WORK_CHAT, src->markup);
        genc_task_problem_free(&p);
    }
    return GENC_OK;
}

genc_status genc_task_corpus_write(genc_ctx *ctx, FILE *f, const genc_task_cfg *cfg, const genc_task_set *heldout,
                                   uint64_t seed, int64_t n_docs) {
    return genc_task_corpus_write_style(ctx, f, cfg, heldout, seed, n_docs, GENC_CORPUS_PLAIN);
}

genc_status genc_task_corpus_write_style(genc_ctx *ctx, FILE *f, const genc_task_cfg *cfg,
                                         const genc_task_set *heldout, uint64_t seed, int64_t n_docs,
                                         genc_corpus_style style) {
    genc_status s = genc_task_cfg_check(ctx, cfg);
    if (s) return s;
    if (n_docs < 0) return genc_error(ctx, GENC_EINVAL, "corpus: expected a document count >= 0, found %lld", (long long)n_docs);
    source src = {ctx, cfg, heldout, seed, 0, style == GENC_CORPUS_MARKUP};
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
