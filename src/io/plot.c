/* genc line plots: a small RGB rasteriser (pixels, lines, rectangles, 5x7 text) that draws
 * axes, grid, numbered ticks, a legend and up to 8 series, saved with genc_png_write_rgb;
 * and a JSON-lines front end for metrics files. Each series has its own colour and dash
 * pattern (solid, dashed, dotted, ...), so a series lying on another one still shows. */
#include "genc/png.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    uint8_t *rgb;
    int w, h;
} canvas;
typedef struct {
    int x0, y0, x1, y1; /* inclusive pixel box */
} box;
typedef struct {
    double lo, hi;
    bool log;
} axis;
typedef struct {
    uint8_t r, g, b;
} color;

#define MAX_TICKS 16
typedef struct {
    double v[MAX_TICKS];
    char label[MAX_TICKS][24];
    int n;
} ticks;

static const color SERIES_COLORS[GENC_PLOT_MAX_SERIES] = {
    {31, 119, 180}, {255, 127, 14}, {44, 160, 44},  {214, 39, 40},
    {148, 103, 189}, {140, 86, 75}, {227, 119, 194}, {127, 127, 127}};
static const color BLACK = {0, 0, 0}, GRID = {225, 225, 225}, FRAME = {90, 90, 90};
/* Dash pattern of series k: pixels drawn, then pixels skipped (0: solid), at text scale 1. */
static const int DASH_ON[GENC_PLOT_MAX_SERIES] = {0, 9, 3, 14, 0, 9, 3, 14};
static const int DASH_OFF[GENC_PLOT_MAX_SERIES] = {0, 6, 4, 5, 0, 6, 4, 5};

/* ---- rasteriser ---- */

static void put(const canvas *c, const box *clip, int x, int y, color col) {
    if (x < clip->x0 || x > clip->x1 || y < clip->y0 || y > clip->y1)
        return;
    uint8_t *p = c->rgb + ((size_t)y * (size_t)c->w + (size_t)x) * 3;
    p[0] = col.r;
    p[1] = col.g;
    p[2] = col.b;
}

static void fill(const canvas *c, const box *clip, box r, color col) {
    for (int y = r.y0; y <= r.y1; y++)
        for (int x = r.x0; x <= r.x1; x++)
            put(c, clip, x, y, col);
}

static void dot(const canvas *c, const box *clip, int x, int y, int t, color col) {
    fill(c, clip, (box){x - t / 2, y - t / 2, x - t / 2 + t - 1, y - t / 2 + t - 1}, col);
}

/* Bresenham line of thickness t. */
static void line(const canvas *c, const box *clip, int x0, int y0, int x1, int y1, int t,
                 color col) {
    int dx = abs(x1 - x0), dy = -abs(y1 - y0), sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1;
    int err = dx + dy;
    for (;;) {
        dot(c, clip, x0, y0, t, col);
        if (x0 == x1 && y0 == y1)
            return;
        int e2 = 2 * err;
        if (e2 >= dy) {
            err += dy;
            x0 += sx;
        }
        if (e2 <= dx) {
            err += dx;
            y0 += sy;
        }
    }
}

/* A line drawn with series k's dash pattern; *phase carries the pattern across segments. */
static void dashed(const canvas *c, const box *clip, int x0, int y0, int x1, int y1, int t, color col, int k,
                   int scale, int *phase) {
    int on = DASH_ON[k] * scale, period = on + DASH_OFF[k] * scale;
    if (!on) {
        line(c, clip, x0, y0, x1, y1, t, col);
        return;
    }
    int dx = abs(x1 - x0), dy = -abs(y1 - y0), sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1;
    int err = dx + dy;
    for (;;) {
        if (*phase % period < on)
            dot(c, clip, x0, y0, t, col);
        if (x0 == x1 && y0 == y1)
            return;
        ++*phase;
        int e2 = 2 * err;
        if (e2 >= dy) {
            err += dy;
            x0 += sx;
        }
        if (e2 <= dx) {
            err += dx;
            y0 += sy;
        }
    }
}

static int text_width(const char *s, int scale) {
    int n = (int)strlen(s);
    return n ? (n * (GENC_FONT_W + 1) - 1) * scale : 0;
}

/* Text with its top-left at (x, y); vertical text reads bottom to top from (x, y). */
static void text(const canvas *c, int x, int y, const char *s, int scale, bool vertical,
                 color col) {
    box all = {0, 0, c->w - 1, c->h - 1};
    uint8_t rows[GENC_FONT_H];
    for (int i = 0; s[i]; i++) {
        genc_font5x7_glyph((unsigned char)s[i], rows);
        int adv = i * (GENC_FONT_W + 1) * scale;
        for (int gy = 0; gy < GENC_FONT_H; gy++)
            for (int gx = 0; gx < GENC_FONT_W; gx++) {
                if (!(rows[gy] >> (GENC_FONT_W - 1 - gx) & 1))
                    continue;
                int px = vertical ? x + gy * scale : x + adv + gx * scale;
                int py = vertical ? y - adv - (gx + 1) * scale + 1 : y + gy * scale;
                fill(c, &all, (box){px, py, px + scale - 1, py + scale - 1}, col);
            }
    }
}

/* ---- axes ---- */

static double tr(const axis *a, double v) { return a->log ? log10(v) : v; }

/* Pixel position of v along [p0, p1]. */
static int to_px(const axis *a, double v, int p0, int p1) {
    double t = (tr(a, v) - tr(a, a->lo)) / (tr(a, a->hi) - tr(a, a->lo));
    double p = p0 + t * (p1 - p0);
    return (int)lrint(fmax(-1e6, fmin(1e6, p)));
}

static double nice_step(double span, int target) {
    double raw = span / target, mag = pow(10.0, floor(log10(raw))), f = raw / mag;
    return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * mag;
}

static void add_tick(ticks *t, double v) {
    if (t->n < MAX_TICKS) {
        t->v[t->n] = v;
        snprintf(t->label[t->n], sizeof t->label[0], "%.6g", v);
        t->n++;
    }
}

static void linear_ticks(const axis *a, ticks *t) {
    double step = nice_step(a->hi - a->lo, 6);
    for (double k = ceil(a->lo / step - 1e-9); k * step <= a->hi + step * 1e-9; k++) {
        double v = k * step;
        add_tick(t, fabs(v) < step * 1e-9 ? 0.0 : v);
    }
}

static void make_ticks(const axis *a, ticks *t) {
    t->n = 0;
    double l0 = a->log ? log10(a->lo) : 0, l1 = a->log ? log10(a->hi) : 0;
    if (!a->log || l1 - l0 < 1.0) {
        linear_ticks(a, t);
        return;
    }
    if (l1 - l0 < 3.0) { /* 1, 2 and 5 in each decade */
        static const double mant[3] = {1, 2, 5};
        for (double k = floor(l0); k <= ceil(l1); k++)
            for (int m = 0; m < 3; m++) {
                double v = mant[m] * pow(10.0, k);
                if (v >= a->lo && v <= a->hi)
                    add_tick(t, v);
            }
        return;
    }
    double every = ceil((l1 - l0) / 8.0); /* decades between ticks */
    for (double k = ceil(l0 / every - 1e-9) * every; k <= l1 + 1e-9; k += every)
        add_tick(t, pow(10.0, k));
}

/* Range of the usable points of all series along x (which = 0) or y (which = 1). */
static bool usable(double x, double y, bool log_y) {
    return isfinite(x) && isfinite(y) && (!log_y || y > 0);
}

static void data_range(const genc_plot_series *s, int ns, bool log_y, axis *ax, axis *ay) {
    double xl = INFINITY, xh = -INFINITY, yl = INFINITY, yh = -INFINITY;
    for (int k = 0; k < ns; k++)
        for (int i = 0; i < s[k].n; i++)
            if (usable(s[k].x[i], s[k].y[i], log_y)) {
                xl = fmin(xl, s[k].x[i]), xh = fmax(xh, s[k].x[i]);
                yl = fmin(yl, s[k].y[i]), yh = fmax(yh, s[k].y[i]);
            }
    if (xl > xh) /* no points: an empty frame */
        xl = 0, xh = 1, yl = log_y ? 1 : 0, yh = log_y ? 10 : 1;
    if (xl == xh)
        xl -= 0.5 + fabs(xl) * 0.05, xh += 0.5 + fabs(xh) * 0.05;
    if (log_y) {
        double m = yl == yh ? 2.0 : pow(yh / yl, 0.05);
        yl /= m, yh *= m;
    } else {
        double m = yl == yh ? 0.5 + fabs(yl) * 0.05 : (yh - yl) * 0.05;
        yl -= m, yh += m;
    }
    *ax = (axis){xl, xh, false};
    *ay = (axis){yl, yh, log_y};
}

/* ---- the plot ---- */

typedef struct {
    canvas c;
    box area; /* the plotting area inside the frame */
    axis ax, ay;
    ticks tx, ty;
    int s; /* text and line scale, 1 or 2 */
} plot;

static void draw_axes(const plot *p, const char *xlabel, const char *ylabel) {
    const canvas *c = &p->c;
    box all = {0, 0, c->w - 1, c->h - 1};
    const box *a = &p->area;
    int s = p->s, lh = (GENC_FONT_H + 3) * s;
    for (int i = 0; i < p->tx.n; i++) {
        int x = to_px(&p->ax, p->tx.v[i], a->x0, a->x1);
        line(c, a, x, a->y0, x, a->y1, 1, GRID);
        line(c, &all, x, a->y1, x, a->y1 + 3 * s, s, FRAME);
        text(c, x - text_width(p->tx.label[i], s) / 2, a->y1 + 5 * s, p->tx.label[i], s, false,
             BLACK);
    }
    for (int i = 0; i < p->ty.n; i++) {
        int y = to_px(&p->ay, p->ty.v[i], a->y1, a->y0);
        line(c, a, a->x0, y, a->x1, y, 1, GRID);
        line(c, &all, a->x0 - 3 * s, y, a->x0, y, s, FRAME);
        text(c, a->x0 - 5 * s - text_width(p->ty.label[i], s), y - GENC_FONT_H * s / 2,
             p->ty.label[i], s, false, BLACK);
    }
    box f = {a->x0 - 1, a->y0 - 1, a->x1 + 1, a->y1 + 1};
    line(c, &all, f.x0, f.y0, f.x1, f.y0, 1, FRAME);
    line(c, &all, f.x0, f.y1, f.x1, f.y1, 1, FRAME);
    line(c, &all, f.x0, f.y0, f.x0, f.y1, 1, FRAME);
    line(c, &all, f.x1, f.y0, f.x1, f.y1, 1, FRAME);
    text(c, (a->x0 + a->x1 - text_width(xlabel, s)) / 2, c->h - lh, xlabel, s, false, BLACK);
    text(c, 3 * s, (a->y0 + a->y1 + text_width(ylabel, s)) / 2, ylabel, s, true, BLACK);
}

static void draw_series(const plot *p, const genc_plot_series *sr, int k) {
    color col = SERIES_COLORS[k];
    int px = 0, py = 0, run = 0, phase = 0;
    for (int i = 0; i <= sr->n; i++) {
        bool ok = i < sr->n && usable(sr->x[i], sr->y[i], p->ay.log);
        if (!ok) { /* a lone point gets a dot so it shows */
            if (run == 1)
                dot(&p->c, &p->area, px, py, 3 * p->s, col);
            run = 0;
            continue;
        }
        int x = to_px(&p->ax, sr->x[i], p->area.x0, p->area.x1);
        int y = to_px(&p->ay, sr->y[i], p->area.y1, p->area.y0);
        if (run > 0)
            dashed(&p->c, &p->area, px, py, x, y, k ? p->s : 2 * p->s, col, k, p->s, &phase);
        px = x, py = y, run++;
    }
}

static void draw_legend(const plot *p, const genc_plot_series *sr, int ns) {
    int s = p->s, lh = (GENC_FONT_H + 4) * s, sample = 24 * s, w = 0;
    char names[GENC_PLOT_MAX_SERIES][48];
    for (int k = 0; k < ns; k++) {
        snprintf(names[k], sizeof names[k], "%s", sr[k].name ? sr[k].name : "series");
        w = text_width(names[k], s) > w ? text_width(names[k], s) : w;
    }
    box b = {p->area.x1 - w - sample - 12 * s, p->area.y0 + 4 * s, p->area.x1 - 4 * s,
             p->area.y0 + 4 * s + ns * lh + 4 * s};
    fill(&p->c, &p->area, b, (color){255, 255, 255});
    line(&p->c, &p->area, b.x0, b.y0, b.x1, b.y0, 1, GRID);
    line(&p->c, &p->area, b.x0, b.y1, b.x1, b.y1, 1, GRID);
    line(&p->c, &p->area, b.x0, b.y0, b.x0, b.y1, 1, GRID);
    line(&p->c, &p->area, b.x1, b.y0, b.x1, b.y1, 1, GRID);
    for (int k = 0; k < ns; k++) {
        int y = b.y0 + 4 * s + k * lh;
        int mid = y + GENC_FONT_H * s / 2;
        int phase = 0;
        dashed(&p->c, &p->area, b.x0 + 4 * s, mid, b.x0 + 4 * s + sample, mid, 2 * s, SERIES_COLORS[k], k, s,
               &phase);
        text(&p->c, b.x0 + 8 * s + sample, y, names[k], s, false, BLACK);
    }
}

/* Axes, ticks and the plotting area for a canvas of the given size. */
static void layout(plot *p, const genc_plot_series *sr, int ns, bool log_y) {
    p->s = (p->c.w >= 800 && p->c.h >= 600) ? 2 : 1;
    data_range(sr, ns, log_y, &p->ax, &p->ay);
    make_ticks(&p->ax, &p->tx);
    make_ticks(&p->ay, &p->ty);
    int s = p->s, lh = (GENC_FONT_H + 3) * s, wide = 0;
    for (int i = 0; i < p->ty.n; i++)
        wide = text_width(p->ty.label[i], s) > wide ? text_width(p->ty.label[i], s) : wide;
    p->area = (box){lh + 3 * s + wide + 6 * s, 2 * lh + 2 * s, p->c.w - 1 - 12 * s,
                    p->c.h - 1 - 3 * lh};
}

static genc_status check_series(genc_ctx *ctx, const char *path, const genc_plot_series *sr,
                                int ns, int width, int height) {
    if (!sr || ns < 1 || ns > GENC_PLOT_MAX_SERIES || width < 160 || height < 120 ||
        width > 16384 || height > 16384)
        return genc_error(ctx, GENC_EINVAL, "%s: plot expects 1..%d series and a size of "
                          "160..16384 x 120..16384, got %d series, %dx%d", path,
                          GENC_PLOT_MAX_SERIES, ns, width, height);
    for (int k = 0; k < ns; k++)
        if (sr[k].n < 0 || (sr[k].n > 0 && (!sr[k].x || !sr[k].y)))
            return genc_error(ctx, GENC_EINVAL, "%s: plot series %d (%s): expected n >= 0 and "
                              "x, y arrays, got n=%d", path, k, sr[k].name ? sr[k].name : "",
                              sr[k].n);
    return GENC_OK;
}

genc_status genc_plot_png(genc_ctx *ctx, const char *path, const char *title, const char *xlabel,
                          const char *ylabel, const genc_plot_series *series, int n_series,
                          bool log_y, int width, int height) {
    if (!path)
        return genc_error(ctx, GENC_EINVAL, "plot: no output path");
    genc_status st = check_series(ctx, path, series, n_series, width, height);
    if (st != GENC_OK)
        return st;
    plot p = {.c = {malloc((size_t)width * (size_t)height * 3), width, height}};
    if (!p.c.rgb)
        return genc_error(ctx, GENC_ENOMEM, "%s: out of memory for a %dx%d plot", path, width,
                          height);
    memset(p.c.rgb, 255, (size_t)width * (size_t)height * 3);
    layout(&p, series, n_series, log_y);
    draw_axes(&p, xlabel ? xlabel : "", ylabel ? ylabel : "");
    for (int k = 0; k < n_series; k++)
        draw_series(&p, &series[k], k);
    draw_legend(&p, series, n_series);
    title = title ? title : "";
    text(&p.c, (width - text_width(title, p.s)) / 2, 4 * p.s, title, p.s, false, BLACK);
    st = genc_png_write_rgb(ctx, path, p.c.rgb, width, height);
    free(p.c.rgb);
    return st;
}

/* ---- JSON-lines metrics ---- */

typedef struct {
    double *x, *y;
    int n, cap;
} points;

static genc_status push(genc_ctx *ctx, const char *path, points *p, double x, double y) {
    if (p->n == p->cap) {
        int cap = p->cap ? (p->cap < (1 << 29) ? 2 * p->cap : -1) : 256;
        double *nx = cap > 0 ? realloc(p->x, (size_t)cap * sizeof *nx) : NULL;
        if (nx)
            p->x = nx;
        double *ny = nx ? realloc(p->y, (size_t)cap * sizeof *ny) : NULL;
        if (!ny)
            return genc_error(ctx, GENC_ENOMEM, "%s: out of memory for %d plot points", path,
                              p->n + 1);
        p->y = ny;
        p->cap = cap;
    }
    p->x[p->n] = x;
    p->y[p->n] = y;
    p->n++;
    return GENC_OK;
}

static bool blank(const char *s) {
    while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
        s++;
    return *s == '\0';
}

/* One point per ykey for which the object has numbers at xkey and that key. */
static genc_status add_points(genc_ctx *ctx, const char *path, json_t *obj, const char *xkey,
                              const char **ykeys, int nk, points *pts) {
    json_t *xv = json_object_get(obj, xkey);
    if (!json_is_number(xv))
        return GENC_OK;
    for (int k = 0; k < nk; k++) {
        json_t *yv = json_object_get(obj, ykeys[k]);
        genc_status st = json_is_number(yv) ? push(ctx, path, &pts[k], json_number_value(xv),
                                                   json_number_value(yv)) : GENC_OK;
        if (st != GENC_OK)
            return st;
    }
    return GENC_OK;
}

static genc_status read_jsonl(genc_ctx *ctx, const char *path, const char *xkey,
                              const char **ykeys, int nk, points *pts) {
    FILE *fp = fopen(path, "r");
    if (!fp)
        return genc_error(ctx, GENC_EIO, "%s: cannot open metrics file: %s", path,
                          strerror(errno));
    char *buf = NULL;
    size_t cap = 0;
    ssize_t len;
    genc_status st = GENC_OK;
    for (long lineno = 1; st == GENC_OK && (len = getline(&buf, &cap, fp)) >= 0; lineno++) {
        if (blank(buf))
            continue;
        json_error_t err;
        json_t *obj = json_loadb(buf, (size_t)len, JSON_DECODE_ANY, &err);
        if (obj)
            st = add_points(ctx, path, obj, xkey, ykeys, nk, pts);
        else if (buf[len - 1] == '\n') /* a partial last line is a write in progress */
            st = genc_error(ctx, GENC_EFORMAT, "%s:%ld: expected a JSON object per line, "
                            "found invalid JSON: %s", path, lineno, err.text);
        json_decref(obj);
    }
    if (st == GENC_OK && ferror(fp))
        st = genc_error(ctx, GENC_EIO, "%s: read error: %s", path, strerror(errno));
    free(buf);
    fclose(fp);
    return st;
}

genc_status genc_plot_jsonl(genc_ctx *ctx, const char *jsonl_path, const char *png_path,
                            const char *xkey, const char **ykeys, int n_ykeys, bool log_y) {
    char title[256] = "";
    for (int k = 0; ykeys && k < n_ykeys && k < GENC_PLOT_MAX_SERIES; k++)
        snprintf(title + strlen(title), sizeof title - strlen(title), "%s%s", k ? (k + 1 < n_ykeys ? ", " : " and ") : "",
                 ykeys[k] ? ykeys[k] : "");
    snprintf(title + strlen(title), sizeof title - strlen(title), " by %s", xkey ? xkey : "");
    return genc_plot_jsonl_labelled(ctx, jsonl_path, png_path, title, xkey, n_ykeys == 1 && ykeys ? ykeys[0] : "value",
                                    xkey, ykeys, n_ykeys, log_y);
}

genc_status genc_plot_jsonl_labelled(genc_ctx *ctx, const char *jsonl_path, const char *png_path, const char *title,
                                     const char *xlabel, const char *ylabel, const char *xkey, const char **ykeys,
                                     int n_ykeys, bool log_y) {
    if (!jsonl_path || !png_path || !xkey || !ykeys || n_ykeys < 1 ||
        n_ykeys > GENC_PLOT_MAX_SERIES)
        return genc_error(ctx, GENC_EINVAL, "%s: plot_jsonl expects paths, an x key and 1..%d "
                          "y keys, got %d", jsonl_path ? jsonl_path : "(null path)",
                          GENC_PLOT_MAX_SERIES, n_ykeys);
    points pts[GENC_PLOT_MAX_SERIES] = {{0}};
    genc_plot_series sr[GENC_PLOT_MAX_SERIES];
    genc_status st = read_jsonl(ctx, jsonl_path, xkey, ykeys, n_ykeys, pts);
    int total = 0;
    for (int k = 0; k < n_ykeys; k++) {
        sr[k] = (genc_plot_series){ykeys[k], pts[k].x, pts[k].y, pts[k].n};
        total += pts[k].n;
    }
    if (st == GENC_OK && total == 0)
        st = genc_error(ctx, GENC_EFORMAT, "%s: expected lines with numbers at \"%s\" and \"%s\""
                        "%s, found none", jsonl_path, xkey, ykeys[0],
                        n_ykeys > 1 ? " (or another y key)" : "");
    if (st == GENC_OK) {
        char ylab[256];
        snprintf(ylab, sizeof ylab, "%s%s", ylabel ? ylabel : "", log_y ? " (log scale)" : "");
        st = genc_plot_png(ctx, png_path, title, xlabel, ylab, sr, n_ykeys, log_y, 800, 500);
    }
    for (int k = 0; k < n_ykeys; k++) {
        free(pts[k].x);
        free(pts[k].y);
    }
    return st;
}
