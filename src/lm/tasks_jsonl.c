/* User problems from JSON-lines files (jansson): one object per line, every malformed
 * line reported as "FILE:LINE: expected ..., found ...". */
#include "genc/tasks.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *json_kind(const json_t *v) {
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a real number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    default: return "null";
    }
}

/* A printable copy of s (control and non-ASCII bytes as '?'), cut to cap - 1 bytes, so
 * that error messages stay on one line. */
static const char *clean(char *dst, size_t cap, const char *s) {
    size_t i = 0;
    for (; s[i] && i + 1 < cap; i++) dst[i] = (unsigned char)s[i] < 32 || (unsigned char)s[i] > 126 ? '?' : s[i];
    dst[i] = 0;
    return dst;
}

typedef struct {
    genc_ctx *ctx;
    const char *path;
    long line;
} where;

#define BAD(w, ...) genc_error((w)->ctx, GENC_EFORMAT, __VA_ARGS__)

static genc_status get_string(const where *w, json_t *o, const char *key, bool required, const char **out) {
    json_t *v = json_object_get(o, key);
    *out = NULL;
    if (!v && !required) return GENC_OK;
    if (!v) return BAD(w, "%s:%ld: expected a \"%s\" string, found no \"%s\" key", w->path, w->line, key, key);
    if (!json_is_string(v))
        return BAD(w, "%s:%ld: expected \"%s\" to be a string, found %s", w->path, w->line, key, json_kind(v));
    *out = json_string_value(v);
    return GENC_OK;
}

static genc_status get_numbers(const where *w, json_t *o, genc_task_problem *p) {
    json_t *a = json_object_get(o, "numbers"), *t = json_object_get(o, "target");
    if (!json_is_array(a))
        return BAD(w, "%s:%ld: expected \"numbers\" to be an array, found %s", w->path, w->line, json_kind(a));
    size_t n = json_array_size(a);
    if (n < 2 || n > GENC_TASK_MAX_NUMBERS)
        return BAD(w, "%s:%ld: expected 2 to %d \"numbers\", found %zu", w->path, w->line, GENC_TASK_MAX_NUMBERS, n);
    for (size_t i = 0; i < n; i++) {
        json_t *x = json_array_get(a, i);
        if (!json_is_integer(x) || json_integer_value(x) < 1 || json_integer_value(x) > GENC_TASK_MAX_NUMBER)
            return BAD(w, "%s:%ld: expected \"numbers\"[%zu] to be an integer in 1..%d, found %s", w->path, w->line, i,
                       GENC_TASK_MAX_NUMBER, json_is_integer(x) ? "one out of range" : json_kind(x));
        p->numbers[i] = json_integer_value(x);
    }
    if (!t) return BAD(w, "%s:%ld: expected a \"target\" with \"numbers\", found none", w->path, w->line);
    if (!json_is_integer(t) || json_integer_value(t) < -GENC_TASK_MAX_TARGET || json_integer_value(t) > GENC_TASK_MAX_TARGET)
        return BAD(w, "%s:%ld: expected \"target\" to be an integer of magnitude <= %lld, found %s", w->path, w->line,
                   GENC_TASK_MAX_TARGET, json_is_integer(t) ? "one out of range" : json_kind(t));
    p->kind = GENC_TASK_COUNTDOWN, p->n_numbers = (int)n, p->target = json_integer_value(t);
    return GENC_OK;
}

static genc_status check_keys(const where *w, json_t *o) {
    const char *key;
    json_t *v;
    char c[48];
    json_object_foreach(o, key, v) {
        if (strcmp(key, "prompt") && strcmp(key, "answer") && strcmp(key, "numbers") && strcmp(key, "target"))
            return BAD(w, "%s:%ld: expected keys prompt, answer, numbers, target, found \"%s\"", w->path, w->line,
                       clean(c, sizeof c, key));
    }
    if (!json_object_get(o, "numbers") && json_object_get(o, "target"))
        return BAD(w, "%s:%ld: expected \"numbers\" with \"target\", found none", w->path, w->line);
    return GENC_OK;
}

static genc_status fill(const where *w, json_t *o, genc_task_problem *p) {
    const char *prompt, *answer;
    genc_status s = check_keys(w, o);
    if (!s) s = get_string(w, o, "prompt", true, &prompt);
    bool cd = json_object_get(o, "numbers") != NULL;
    if (!s && cd) s = get_numbers(w, o, p);
    if (!s) s = get_string(w, o, "answer", !cd, &answer);
    if (s) return s;
    genc_check c = cd && answer ? genc_countdown_check(answer, strlen(answer), p->numbers, p->n_numbers, p->target)
                                : GENC_CHECK_OK;
    char a[64];
    if (c != GENC_CHECK_OK)
        return BAD(w, "%s:%ld: expected \"answer\" to solve the countdown problem, found \"%s\" (%s)", w->path,
                   w->line, clean(a, sizeof a, answer), genc_check_name(c));
    if (!cd) p->kind = GENC_TASK_USER;
    p->prompt = strdup(prompt), p->answer = strdup(answer ? answer : "");
    if (!p->prompt || !p->answer) return genc_error(w->ctx, GENC_ENOMEM, "%s: out of memory", w->path);
    p->key = genc_task_problem_key(p);
    return GENC_OK;
}

static genc_status parse_line(const where *w, const char *buf, size_t len, genc_task_set *out) {
    size_t i = 0;
    while (i < len && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\r' || buf[i] == '\n')) i++;
    if (i == len) return GENC_OK; /* blank line */
    json_error_t je;
    char c[160];
    json_t *o = json_loadb(buf, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &je);
    if (!o) return BAD(w, "%s:%ld: expected a JSON object, found invalid JSON: %s", w->path, w->line,
                             clean(c, sizeof c, je.text));
    genc_status s = GENC_OK;
    genc_task_problem p = {0};
    if (!json_is_object(o))
        s = BAD(w, "%s:%ld: expected a JSON object, found %s", w->path, w->line, json_kind(o));
    if (!s) s = fill(w, o, &p);
    if (!s) s = genc_task_set_add(w->ctx, out, &p, NULL);
    genc_task_problem_free(&p);
    json_decref(o);
    return s;
}

genc_status genc_task_set_load_jsonl(genc_ctx *ctx, const char *path, genc_task_set *out) {
    memset(out, 0, sizeof *out);
    int fd;
    int64_t size;
    if (genc_file_open(ctx, path, &fd, &size)) return genc_ctx_status(ctx);
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        close(fd);
        return genc_error(ctx, GENC_ENOMEM, "%s: out of memory opening it", path);
    }
    where w = {ctx, path, 0};
    char *buf = NULL;
    size_t cap = 0;
    ssize_t len;
    genc_status s = GENC_OK;
    while (!s && (len = getline(&buf, &cap, f)) >= 0) {
        w.line++;
        s = parse_line(&w, buf, (size_t)len, out);
    }
    if (!s && ferror(f)) s = genc_error(ctx, GENC_EIO, "%s: read error", path);
    free(buf);
    fclose(f);
    if (s) genc_task_set_free(out);
    return s;
}
