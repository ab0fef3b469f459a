/* Unit tests for genc's PNG output: grey/RGB writes and grids read back with libpng, grids read
 * back by genc_png_read_cells, line plots and JSON-lines plots (size, ink, series colours), the
 * font, and error paths. */
#include "genc/png.h"
#include "test.h"

#include <dirent.h>
#include <png.h>
#include <stdlib.h>
#include <unistd.h>

static char tmpdir[64];

typedef struct {
    int w, h;
    bool color;
    uint8_t *pix; /* RGB, 3 bytes a pixel, whatever the file's format */
} image;

/* Reads a PNG with libpng's simplified API; false if it is not a valid PNG. */
static bool read_png(const char *path, image *out) {
    png_image img;
    memset(&img, 0, sizeof img);
    memset(out, 0, sizeof *out);
    img.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_file(&img, path))
        return false;
    out->color = (img.format & PNG_FORMAT_FLAG_COLOR) != 0;
    img.format = PNG_FORMAT_RGB;
    out->w = (int)img.width, out->h = (int)img.height;
    out->pix = malloc(PNG_IMAGE_SIZE(img));
    if (!out->pix || !png_image_finish_read(&img, NULL, out->pix, 0, NULL)) {
        png_image_free(&img);
        free(out->pix);
        out->pix = NULL;
        return false;
    }
    return true;
}

static const uint8_t *px(const image *im, int x, int y) {
    return im->pix + ((size_t)y * (size_t)im->w + (size_t)x) * 3;
}

static void tmp_path(char *dst, size_t cap, const char *name) {
    snprintf(dst, cap, "%s/%s", tmpdir, name);
}

/* Number of entries in tmpdir (temporary files must not be left behind). */
static int tmp_entries(void) {
    DIR *d = opendir(tmpdir);
    struct dirent *e;
    int n = 0;
    while (d && (e = readdir(d)) != NULL)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    if (d)
        closedir(d);
    return n;
}

static void clean_tmpdir(void) {
    DIR *dir = opendir(tmpdir);
    struct dirent *e;
    char path[512];
    while (dir && (e = readdir(dir)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", tmpdir, e->d_name);
        remove(path);
    }
    if (dir)
        closedir(dir);
    rmdir(tmpdir);
}

static void test_write(genc_ctx *ctx) {
    uint8_t g[6 * 4], rgb[5 * 3 * 3];
    for (int i = 0; i < 24; i++)
        g[i] = (uint8_t)(i * 11);
    for (int i = 0; i < 45; i++)
        rgb[i] = (uint8_t)(255 - i * 5);
    char p[256];
    image im;
    tmp_path(p, sizeof p, "gray.png");
    CHECK(genc_png_write_gray(ctx, p, g, 6, 4) == GENC_OK);
    CHECK(read_png(p, &im) && im.w == 6 && im.h == 4 && !im.color);
    int same = 1;
    for (int i = 0; im.pix && i < 24; i++)
        same &= im.pix[3 * i] == g[i] && im.pix[3 * i + 2] == g[i];
    CHECK(same);
    free(im.pix);
    tmp_path(p, sizeof p, "rgb.png");
    CHECK(genc_png_write_rgb(ctx, p, rgb, 5, 3) == GENC_OK);
    CHECK(read_png(p, &im) && im.w == 5 && im.h == 3 && im.color);
    CHECK(im.pix && memcmp(im.pix, rgb, sizeof rgb) == 0);
    free(im.pix);
    /* overwrite in place, and no temporary file is left */
    CHECK(genc_png_write_rgb(ctx, p, rgb, 3, 5) == GENC_OK);
    CHECK(read_png(p, &im) && im.w == 3 && im.h == 5);
    free(im.pix);
    CHECK(tmp_entries() == 2);
}

static void test_grid(genc_ctx *ctx) {
    enum { N = 5, H = 3, W = 4, COLS = 3 };
    float img[N * H * W];
    for (int i = 0; i < N * H * W; i++)
        img[i] = (float)(i % 11) / 10.0f;
    img[0] = -0.5f, img[1] = 2.0f, img[2] = NAN, img[3] = 0.5f;
    char p[256];
    tmp_path(p, sizeof p, "grid.png");
    CHECK(genc_png_grid(ctx, p, img, N, H, W, COLS) == GENC_OK);
    image im;
    CHECK(read_png(p, &im) && !im.color);
    CHECK(im.w == COLS * (W + 2) + 2 && im.h == 2 * (H + 2) + 2);
    if (!im.pix)
        return;
    CHECK(px(&im, 2, 2)[0] == 0 && px(&im, 3, 2)[0] == 255 && px(&im, 4, 2)[0] == 0 &&
          px(&im, 5, 2)[0] == 128);
    int ok = 1;
    for (int k = 0; k < N; k++)
        for (int y = 0; y < H; y++)
            for (int x = (k == 0 && y == 0) ? 4 : 0; x < W; x++) {
                int gx = 2 + (k % COLS) * (W + 2) + x, gy = 2 + (k / COLS) * (H + 2) + y;
                float v = img[(k * H + y) * W + x];
                ok &= px(&im, gx, gy)[0] == (uint8_t)lrintf(v * 255.0f);
            }
    CHECK_MSG(ok, "grid pixels differ from the images");
    int border = 1;
    for (int x = 0; x < im.w; x++)
        border &= px(&im, x, 0)[0] == 128 && px(&im, x, 1)[0] == 128 &&
                  px(&im, x, H + 2)[0] == 128 && px(&im, x, im.h - 1)[0] == 128;
    for (int y = 0; y < im.h; y++)
        border &= px(&im, 0, y)[0] == 128 && px(&im, W + 2, y)[0] == 128 &&
                  px(&im, W + 3, y)[0] == 128;
    CHECK(border);
    CHECK(px(&im, 2 + 2 * (W + 2), 2 + H + 2)[0] == 128); /* the unused sixth cell */
    free(im.pix);
    CHECK(genc_png_grid(ctx, p, img, 2, H, W, 8) == GENC_OK); /* cols > n: n columns */
    CHECK(read_png(p, &im) && im.w == 2 * (W + 2) + 2 && im.h == H + 4);
    free(im.pix);
    CHECK(genc_png_grid(ctx, p, img, 0, H, W, 8) == GENC_EINVAL);
    CHECK(strstr(genc_last_error(ctx), "grid.png") != NULL);
    genc_clear_error(ctx);
}

/* genc_png_read_cells: a grid written by genc_png_grid reads back cell for cell (to 1/255; the
 * unused cell skipped), `room` caps the count, a single image is one cell, and a PNG of another
 * size or a missing file is an error naming the file. */
static void test_read_cells(genc_ctx *ctx) {
    enum { N = 5, H = 3, W = 4, COLS = 3 };
    float img[N * H * W], back[8 * H * W];
    for (int i = 0; i < N * H * W; i++) img[i] = (float)((i * 7) % 13) / 12.0f;
    char p[256];
    tmp_path(p, sizeof p, "cells.png");
    CHECK(genc_png_grid(ctx, p, img, N, H, W, COLS) == GENC_OK);
    int64_t got = -1;
    CHECK(genc_png_read_cells(ctx, p, H, W, back, 8, &got) == GENC_OK && got == N);
    double worst = 0;
    for (int i = 0; i < N * H * W; i++) worst = fmax(worst, fabs(back[i] - img[i]));
    CHECK_MSG(worst <= 0.5 / 255 + 1e-6, "grid read back off by %g", worst);
    CHECK(genc_png_read_cells(ctx, p, H, W, back, 2, &got) == GENC_OK && got == 2);
    uint8_t one[H * W];
    for (int i = 0; i < H * W; i++) one[i] = (uint8_t)(20 * i);
    CHECK(genc_png_write_gray(ctx, p, one, W, H) == GENC_OK);
    CHECK(genc_png_read_cells(ctx, p, H, W, back, 8, &got) == GENC_OK && got == 1 && back[5] == 100.0f / 255.0f);
    CHECK(genc_png_read_cells(ctx, p, H + 1, W, back, 8, &got) == GENC_EFORMAT && got == 0);
    CHECK_MSG(strstr(genc_last_error(ctx), "cells.png: 4x3 is neither a 4x4 image nor a grid of them"), "%s",
              genc_last_error(ctx));
    genc_clear_error(ctx);
    CHECK(genc_png_read_cells(ctx, "/nonexistent/x.png", H, W, back, 8, &got) != GENC_OK);
    CHECK(strstr(genc_last_error(ctx), "/nonexistent/x.png") == genc_last_error(ctx));
    genc_clear_error(ctx);
}

/* Pixels that are not white, and pixels of exactly colour (r, g, b). */
static void count_ink(const image *im, int r, int g, int b, int *ink, int *match) {
    *ink = *match = 0;
    for (int i = 0; i < im->w * im->h; i++) {
        const uint8_t *q = im->pix + 3 * i;
        *ink += q[0] != 255 || q[1] != 255 || q[2] != 255;
        *match += q[0] == r && q[1] == g && q[2] == b;
    }
}

/* Series that lie on one another all stay visible (issue #19: GRPO's reward line was hidden
 * under accuracy): the later ones are dashed, so the first shows between their dashes. Seen
 * red with every series drawn solid (blue 0 of the curve's pixels in the plot area). */
static void test_plot_overlap(genc_ctx *ctx) {
    enum { N = 40 };
    double x[N], y[N];
    for (int i = 0; i < N; i++) x[i] = i, y[i] = 0.2 + 0.6 * i / N;
    genc_plot_series s[3] = {{"reward", x, y, N}, {"accuracy", x, y, N}, {"format", x, y, N}};
    char p[256];
    image im;
    tmp_path(p, sizeof p, "plot-overlap.png");
    CHECK(genc_plot_png(ctx, p, "overlap", "step", "fraction", s, 3, false, 640, 400) == GENC_OK);
    CHECK(read_png(p, &im) && im.pix);
    if (!im.pix)
        return;
    int ink, blue, orange, green;
    count_ink(&im, 31, 119, 180, &ink, &blue);
    count_ink(&im, 255, 127, 14, &ink, &orange);
    count_ink(&im, 44, 160, 44, &ink, &green);
    CHECK_MSG(blue > 300 && orange > 100 && green > 100, "series pixels %d %d %d", blue, orange, green);
    free(im.pix);
}

static void test_plot(genc_ctx *ctx) {
    enum { N = 60 };
    double x[N], y1[N], y2[N];
    for (int i = 0; i < N; i++) {
        x[i] = i * 100;
        y1[i] = 2.5 * exp(-i / 15.0) + 0.01;
        y2[i] = i == 20 ? NAN : i == 30 ? -1.0 : 1.0 / (1 + i);
    }
    double lone_x = 3000, lone_y = 0.5;
    genc_plot_series s[3] = {{"train_loss", x, y1, N}, {"val (bits/dim)", x, y2, N},
                             {"lone", &lone_x, &lone_y, 1}};
    char p[256];
    image im;
    for (int log_y = 0; log_y < 2; log_y++) {
        tmp_path(p, sizeof p, log_y ? "plot-log.png" : "plot.png");
        int w = log_y ? 900 : 640, h = log_y ? 600 : 400;
        genc_status st = genc_plot_png(ctx, p, "Loss curves", "step", "loss", s, 3, log_y, w, h);
        CHECK_MSG(st == GENC_OK, "%s", genc_last_error(ctx));
        CHECK(read_png(p, &im) && im.w == w && im.h == h && im.color);
        if (!im.pix)
            continue;
        int ink, blue, orange, green;
        count_ink(&im, 31, 119, 180, &ink, &blue);
        count_ink(&im, 255, 127, 14, &ink, &orange);
        count_ink(&im, 44, 160, 44, &ink, &green);
        CHECK_MSG(ink > w * h / 100 && blue > 200 && orange > 200 && green > 9,
                  "ink %d, series pixels %d %d %d", ink, blue, orange, green);
        free(im.pix);
    }
    double empty = 0;
    genc_plot_series none = {"nothing", &empty, &empty, 0};
    tmp_path(p, sizeof p, "empty.png");
    CHECK(genc_plot_png(ctx, p, NULL, NULL, NULL, &none, 1, true, 160, 120) == GENC_OK);
    CHECK(genc_plot_png(ctx, p, "t", "x", "y", s, 9, false, 640, 480) == GENC_EINVAL);
    genc_clear_error(ctx);
    CHECK(genc_plot_png(ctx, p, "t", "x", "y", s, 1, false, 100, 480) == GENC_EINVAL);
    CHECK(strstr(genc_last_error(ctx), "empty.png") != NULL);
    genc_clear_error(ctx);
}

static void write_text(const char *path, const char *s) {
    FILE *fp = fopen(path, "w");
    CHECK(fp != NULL);
    if (fp) {
        fputs(s, fp);
        fclose(fp);
    }
}

static void test_plot_jsonl(genc_ctx *ctx) {
    char m[256], p[256];
    tmp_path(m, sizeof m, "metrics.jsonl");
    tmp_path(p, sizeof p, "metrics.png");
    write_text(m, "{\"step\": 0, \"loss\": 2.3, \"acc\": 0.1}\n"
                  "\n"
                  "{\"step\": 10, \"loss\": 1.7}\n"
                  "{\"step\": 20, \"loss\": 1.1, \"acc\": 0.6, \"note\": \"x\"}\n"
                  "[1, 2]\n"
                  "{\"step\": \"30\", \"loss\": 0.2}\n"
                  "{\"step\": 40, \"loss\": 0.9, \"acc\": 0.8}\n"
                  "{\"step\": 50, \"lo"); /* a line being written */
    const char *keys[2] = {"loss", "acc"};
    genc_status st = genc_plot_jsonl(ctx, m, p, "step", keys, 2, false);
    CHECK_MSG(st == GENC_OK, "%s", genc_last_error(ctx));
    image im;
    int ink, blue, orange;
    CHECK(read_png(p, &im) && im.w == 800 && im.h == 500);
    if (im.pix) {
        count_ink(&im, 31, 119, 180, &ink, &blue);
        count_ink(&im, 255, 127, 14, &ink, &orange);
        CHECK(blue > 100 && orange > 100);
        free(im.pix);
    }
    CHECK(genc_plot_jsonl(ctx, m, p, "step", keys, 1, true) == GENC_OK);

    write_text(m, "{\"step\": 0, \"loss\": 2.3}\n{\"step\": 1, \"loss\": }\n{\"step\": 2}\n");
    CHECK(genc_plot_jsonl(ctx, m, p, "step", keys, 1, false) == GENC_EFORMAT);
    CHECK_MSG(strstr(genc_last_error(ctx), "metrics.jsonl:2:") != NULL, "%s",
              genc_last_error(ctx));
    genc_clear_error(ctx);
    write_text(m, "{\"step\": 0, \"lr\": 2.3}\n");
    CHECK(genc_plot_jsonl(ctx, m, p, "step", keys, 2, false) == GENC_EFORMAT);
    CHECK(strstr(genc_last_error(ctx), "found none") != NULL);
    genc_clear_error(ctx);
    tmp_path(m, sizeof m, "absent.jsonl");
    CHECK(genc_plot_jsonl(ctx, m, p, "step", keys, 1, false) == GENC_EIO);
    CHECK(strstr(genc_last_error(ctx), "absent.jsonl") != NULL);
    genc_clear_error(ctx);
}

static void test_font(void) {
    const char *need = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-e+/()_ ";
    uint8_t rows[GENC_FONT_H], q[GENC_FONT_H];
    int all = 1, inked = 0;
    for (const char *c = need; *c; c++) {
        all &= genc_font5x7_glyph(*c, rows);
        int on = 0;
        for (int r = 0; r < GENC_FONT_H; r++)
            on |= rows[r], all &= rows[r] < 32;
        inked += on != 0;
    }
    CHECK(all && inked == (int)strlen(need) - 1); /* every glyph but space has ink */
    CHECK(!genc_font5x7_glyph('~', rows) && genc_font5x7_glyph('?', q));
    CHECK(memcmp(rows, q, sizeof q) == 0);
    genc_font5x7_glyph('0', rows);
    genc_font5x7_glyph('O', q);
    CHECK(memcmp(rows, q, sizeof q) != 0);
}

static void test_unwritable(genc_ctx *ctx) {
    const char *bad = "/nonexistent-genc-dir/out.png";
    uint8_t g[4] = {0};
    float f[4] = {0};
    double x[2] = {0, 1};
    genc_plot_series s = {"s", x, x, 2};
    CHECK(genc_png_write_gray(ctx, bad, g, 2, 2) == GENC_EIO);
    CHECK_MSG(strstr(genc_last_error(ctx), bad) != NULL, "%s", genc_last_error(ctx));
    genc_clear_error(ctx);
    CHECK(genc_png_grid(ctx, bad, f, 1, 2, 2, 1) == GENC_EIO);
    CHECK(strstr(genc_last_error(ctx), bad) != NULL);
    genc_clear_error(ctx);
    CHECK(genc_plot_png(ctx, bad, "t", "x", "y", &s, 1, false, 200, 150) == GENC_EIO);
    CHECK(strstr(genc_last_error(ctx), bad) != NULL);
    genc_clear_error(ctx);
    CHECK(genc_png_write_gray(ctx, tmpdir, g, 2, 2) == GENC_EIO); /* a directory */
    CHECK(strstr(genc_last_error(ctx), tmpdir) != NULL);
    genc_clear_error(ctx);
    CHECK(genc_png_write_rgb(ctx, bad, NULL, 2, 2) == GENC_EINVAL);
    genc_clear_error(ctx);
}

int main(void) {
    genc_ctx *ctx = genc_ctx_new();
    snprintf(tmpdir, sizeof tmpdir, "/tmp/genc_test_png_XXXXXX");
    if (!ctx || !mkdtemp(tmpdir)) {
        fprintf(stderr, "test_png: cannot create a context or a temporary directory\n");
        return 1;
    }
    test_write(ctx);
    test_grid(ctx);
    test_read_cells(ctx);
    test_plot(ctx);
    test_plot_overlap(ctx);
    test_plot_jsonl(ctx);
    test_font();
    test_unwritable(ctx);
    clean_tmpdir();
    genc_ctx_free(ctx);
    return test_report("test_png");
}
