/* The progress line every long-running verb shows (step/total, loss, rate, ETA): redrawn in
 * place at most 10 times a second on a terminal; on a pipe or a log file, a plain line every
 * 5 seconds and at the last step (as tqdm does), so logged runs show progress too. Also the
 * JSON-lines metrics log. */
#include "genc/genc.h"
#include "genc/train.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

double genc_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void genc_progress_init(genc_progress *p, const char *label, int64_t first_step, int64_t total, FILE *out) {
    memset(p, 0, sizeof *p);
    p->label = label;
    p->total = total;
    p->first_step = first_step;
    p->out = out ? out : stderr;
    p->tty = isatty(fileno(p->out));
    p->t0 = genc_now();
}

static void fmt_duration(char *buf, size_t n, double s) {
    if (s < 0 || s > 1e7) snprintf(buf, n, "--:--");
    else if (s >= 3600) snprintf(buf, n, "%d:%02d:%02d", (int)s / 3600, (int)s / 60 % 60, (int)s % 60);
    else snprintf(buf, n, "%02d:%02d", (int)s / 60, (int)s % 60);
}

void genc_progress_update(genc_progress *p, int64_t step, double loss, double items_per_step, const char *extra) {
    double now = genc_now(), every = p->tty ? 0.1 : 5.0;
    if (step < p->total && (p->last_draw > 0 ? now - p->last_draw : now - p->t0) < every) return;
    p->last_draw = now;
    double el = now - p->t0, done = (double)(step - p->first_step);
    double sps = el > 0 ? done / el : 0, eta = sps > 0 ? (double)(p->total - step) / sps : -1;
    char e[16], t[16];
    fmt_duration(e, sizeof e, eta);
    fmt_duration(t, sizeof t, el);
    fprintf(p->out, "%s%s %lld/%lld  loss %.4f  %.1f it/s", p->tty ? "\r\033[K" : "", p->label, (long long)step,
            (long long)p->total, loss, sps);
    if (items_per_step > 0) fprintf(p->out, "  %.0f items/s", sps * items_per_step);
    fprintf(p->out, "  %s  ETA %s%s%s%s", t, e, extra ? "  " : "", extra ? extra : "", p->tty ? "" : "\n");
    fflush(p->out);
}

void genc_progress_done(genc_progress *p) {
    if (p->tty) fputc('\n', p->out);
}

/* ---- JSON-lines metrics ---- */

struct genc_metrics {
    genc_ctx *ctx;
    FILE *f;
    char path[1024];
};

static void mkdir_parents(const char *path) {
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *s = buf + 1; *s; s++) {
        if (*s != '/') continue;
        *s = 0;
        mkdir(buf, 0777);
        *s = '/';
    }
}

genc_metrics *genc_metrics_open(genc_ctx *ctx, const char *path, bool append) {
    mkdir_parents(path);
    FILE *f = fopen(path, append ? "a" : "w");
    if (!f) {
        genc_error(ctx, GENC_EIO, "%s: cannot open the metrics log: %s", path, strerror(errno));
        return NULL;
    }
    genc_metrics *m = calloc(1, sizeof *m);
    if (!m) {
        fclose(f);
        genc_error(ctx, GENC_ENOMEM, "out of memory");
        return NULL;
    }
    m->ctx = ctx;
    m->f = f;
    snprintf(m->path, sizeof m->path, "%s", path);
    return m;
}

static genc_status write_line(genc_metrics *m, json_t *obj);

genc_status genc_metrics_log(genc_metrics *m, const char *fmt, ...) {
    if (!m) return GENC_OK;
    va_list ap;
    va_start(ap, fmt);
    json_error_t err;
    json_t *obj = json_vpack_ex(&err, 0, fmt, ap);
    va_end(ap);
    if (!obj) /* the formats are genc's own, so this is a NaN or infinity among the values */
        return genc_error(m->ctx, GENC_EINVAL, "%s: cannot log a metrics line: %s", m->path, err.text);
    return write_line(m, obj);
}

static genc_status write_line(genc_metrics *m, json_t *obj) {
    char *line = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(9));
    json_decref(obj);
    if (!line) return genc_error(m->ctx, GENC_EINVAL, "%s: cannot encode a metrics line (a value is not finite?)", m->path);
    int bad = fprintf(m->f, "%s\n", line) < 0 || fflush(m->f) != 0;
    free(line);
    return bad ? genc_error(m->ctx, GENC_EIO, "%s: cannot write the metrics log", m->path) : GENC_OK;
}

/* A value jansson cannot hold (NaN, infinity) is left out, as the line's array element or key. */
static json_t *field_value(const genc_metric_field *f) {
    if (!f->values) return json_real(f->value);
    json_t *a = json_array();
    for (int64_t i = 0; a && i < f->n; i++) json_array_append_new(a, json_real(f->values[i]));
    return a;
}

genc_status genc_metrics_log_fields(genc_metrics *m, const genc_metric_field *fields, int n_fields, const char *fmt,
                                    ...) {
    if (!m) return GENC_OK;
    va_list ap;
    va_start(ap, fmt);
    json_error_t err;
    json_t *obj = json_vpack_ex(&err, 0, fmt, ap);
    va_end(ap);
    if (!obj) return genc_error(m->ctx, GENC_EINVAL, "%s: cannot log a metrics line: %s", m->path, err.text);
    for (int i = 0; i < n_fields; i++) {
        json_t *v = field_value(&fields[i]);
        if (v) json_object_set_new(obj, fields[i].key, v);
    }
    return write_line(m, obj);
}

/* Keep the lines a resumed run's checkpoint covers: those without a "step", or with a step
 * <= `step`; a torn last line (a writer killed mid-line) goes too. Rewritten atomically. */
genc_status genc_metrics_rewind(genc_metrics *m, int64_t step) {
    if (!m) return GENC_OK;
    uint8_t *buf;
    size_t n;
    if (fflush(m->f) != 0) return genc_error(m->ctx, GENC_EIO, "%s: cannot write the metrics log", m->path);
    genc_status s = genc_file_read_all(m->ctx, m->path, 0, &buf, &n);
    if (s) return s;
    char tmp[1100];
    int fd;
    size_t out = 0, dropped = 0;
    for (char *line = (char *)buf, *end; line < (char *)buf + n; line = end + 1) {
        end = memchr(line, '\n', (size_t)((char *)buf + n - line));
        if (!end) { /* torn */
            dropped++;
            break;
        }
        json_t *o = json_loadb(line, (size_t)(end - line), 0, NULL), *st = json_object_get(o, "step");
        bool keep = o && (!st || (json_is_integer(st) && json_integer_value(st) <= step));
        json_decref(o);
        if (!keep) {
            dropped++;
            continue;
        }
        memmove(buf + out, line, (size_t)(end - line) + 1);
        out += (size_t)(end - line) + 1;
    }
    if (!dropped) {
        free(buf);
        return GENC_OK;
    }
    s = genc_file_create_tmp(m->ctx, m->path, tmp, sizeof tmp, &fd);
    bool ok = !s;
    for (size_t done = 0; ok && done < out;) {
        ssize_t w = write(fd, buf + done, out - done);
        if (w < 0 && errno == EINTR) continue;
        ok = w > 0;
        if (ok) done += (size_t)w;
    }
    free(buf);
    if (!s) {
        ok = ok && fsync(fd) == 0;
        ok = close(fd) == 0 && ok;
        ok = ok && rename(tmp, m->path) == 0;
        if (!ok) unlink(tmp);
    }
    FILE *f = ok ? fopen(m->path, "a") : NULL;
    if (!s && !f) s = genc_error(m->ctx, GENC_EIO, "%s: cannot rewrite the metrics log: %s", m->path, strerror(errno));
    if (f) fclose(m->f), m->f = f;
    return s;
}

void genc_metrics_close(genc_metrics *m) {
    if (!m) return;
    fclose(m->f);
    free(m);
}
