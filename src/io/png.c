/* genc PNG writer (libpng): grey and RGB images and grids of grey images. Writes are
 * atomic: path.tmp.<pid> is written, flushed, fsync'ed and renamed over path. Also the one
 * reader: grey images back from a single-image PNG or a genc grid (FID of image folders). */
#include "genc/png.h"

#include <errno.h>
#include <math.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PNG_MAX_SIDE 16384

typedef struct {
    jmp_buf jump;
    char msg[200];
} png_failure;

static void on_png_error(png_structp png, png_const_charp msg) {
    png_failure *f = png_get_error_ptr(png);
    snprintf(f->msg, sizeof f->msg, "%s", msg);
    longjmp(f->jump, 1);
}

static void on_png_warning(png_structp png, png_const_charp msg) {
    (void)png;
    (void)msg;
}

/* Encodes the image to an open file; returns false with fail->msg set on error. */
static bool encode(FILE *fp, const uint8_t *pix, int width, int height, int channels,
                   png_failure *fail) {
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, fail, on_png_error,
                                              on_png_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_write_struct(&png, NULL);
        snprintf(fail->msg, sizeof fail->msg, "out of memory");
        return false;
    }
    if (setjmp(fail->jump)) {
        png_destroy_write_struct(&png, &info);
        return false;
    }
    png_init_io(png, fp);
    png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, 8,
                 channels == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < height; y++)
        png_write_row(png, pix + (size_t)y * (size_t)width * (size_t)channels);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    return true;
}

/* Writes the temporary file, makes it durable and renames it over path. */
static genc_status write_atomic(genc_ctx *ctx, const char *path, const uint8_t *pix, int width,
                                int height, int channels) {
    char tmp[4200];
    int fd;
    if (genc_file_create_tmp(ctx, path, tmp, sizeof tmp, &fd)) return genc_ctx_status(ctx);
    FILE *fp = fdopen(fd, "wb");
    if (!fp) {
        close(fd), unlink(tmp);
        return genc_error(ctx, GENC_ENOMEM, "%s: cannot open %s: out of memory", path, tmp);
    }
    png_failure fail = {.msg = ""};
    bool ok = encode(fp, pix, width, height, channels, &fail);
    if (!ok) {
        fclose(fp);
        unlink(tmp);
        return genc_error(ctx, GENC_EIO, "%s: PNG encoding failed: %s", path, fail.msg);
    }
    ok = fflush(fp) == 0 && fsync(fileno(fp)) == 0;
    int err = errno;
    ok = (fclose(fp) == 0) && ok;
    if (ok && rename(tmp, path) != 0) {
        ok = false;
        err = errno;
    }
    if (!ok) {
        unlink(tmp);
        return genc_error(ctx, GENC_EIO, "%s: cannot write PNG: %s", path, strerror(err));
    }
    return GENC_OK;
}

static genc_status write_checked(genc_ctx *ctx, const char *path, const uint8_t *pix, int width,
                                 int height, int channels) {
    if (!path || !pix || width < 1 || height < 1 || width > PNG_MAX_SIDE ||
        height > PNG_MAX_SIDE)
        return genc_error(ctx, GENC_EINVAL, "%s: expected pixels and a size of 1..%d x 1..%d, "
                          "got %s and %dx%d", path ? path : "(null path)", PNG_MAX_SIDE,
                          PNG_MAX_SIDE, pix ? "pixels" : "no pixels", width, height);
    return write_atomic(ctx, path, pix, width, height, channels);
}

genc_status genc_png_write_gray(genc_ctx *ctx, const char *path, const uint8_t *pix, int width,
                                int height) {
    return write_checked(ctx, path, pix, width, height, 1);
}

genc_status genc_png_write_rgb(genc_ctx *ctx, const char *path, const uint8_t *rgb, int width,
                               int height) {
    return write_checked(ctx, path, rgb, width, height, 3);
}

static uint8_t to_byte(float v) {
    if (!(v > 0.0f)) /* also NaN */
        return 0;
    if (v >= 1.0f)
        return 255;
    return (uint8_t)lrintf(v * 255.0f);
}

/* Copies image k into its cell of the grid canvas (gw pixels wide). */
static void put_cell(uint8_t *canvas, int gw, const float *img, int k, int h, int w, int cols) {
    int x0 = GENC_GRID_BORDER + (k % cols) * (w + GENC_GRID_BORDER);
    int y0 = GENC_GRID_BORDER + (k / cols) * (h + GENC_GRID_BORDER);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            canvas[(size_t)(y0 + y) * (size_t)gw + (size_t)(x0 + x)] =
                to_byte(img[(size_t)y * (size_t)w + (size_t)x]);
}

genc_status genc_png_grid(genc_ctx *ctx, const char *path, const float *images, int n, int h,
                          int w, int cols) {
    if (!images || n < 1 || h < 1 || w < 1 || cols < 1 || h > PNG_MAX_SIDE ||
        w > PNG_MAX_SIDE)
        return genc_error(ctx, GENC_EINVAL, "%s: grid expects images, n >= 1, h, w >= 1 and "
                          "cols >= 1, got n=%d, %dx%d, cols=%d", path ? path : "(null path)",
                          n, h, w, cols);
    cols = cols < n ? cols : n;
    int rows = (n + cols - 1) / cols;
    int64_t gw = (int64_t)cols * (w + GENC_GRID_BORDER) + GENC_GRID_BORDER;
    int64_t gh = (int64_t)rows * (h + GENC_GRID_BORDER) + GENC_GRID_BORDER;
    if (gw > PNG_MAX_SIDE || gh > PNG_MAX_SIDE)
        return genc_error(ctx, GENC_EINVAL, "%s: grid of %d images in %d columns would be "
                          "%lldx%lld, more than %d per side", path ? path : "(null path)", n,
                          cols, (long long)gw, (long long)gh, PNG_MAX_SIDE);
    uint8_t *canvas = malloc((size_t)gw * (size_t)gh);
    if (!canvas)
        return genc_error(ctx, GENC_ENOMEM, "%s: out of memory for a %lldx%lld grid", path,
                          (long long)gw, (long long)gh);
    memset(canvas, GENC_GRID_BORDER_VALUE, (size_t)gw * (size_t)gh);
    for (int k = 0; k < n; k++)
        put_cell(canvas, (int)gw, images + (size_t)k * (size_t)h * (size_t)w, k, h, w, cols);
    genc_status st = write_checked(ctx, path, canvas, (int)gw, (int)gh, 1);
    free(canvas);
    return st;
}

/* Reading back (genc_png_read_cells): libpng's simplified API converts any PNG to 8-bit grey;
 * the size is checked before the pixel buffer is allocated. */
genc_status genc_png_read_cells(genc_ctx *ctx, const char *path, int rows, int cols, float *out, int64_t room,
                                int64_t *got) {
    *got = 0;
    if (rows < 1 || cols < 1 || rows > PNG_MAX_SIDE || cols > PNG_MAX_SIDE)
        return genc_error(ctx, GENC_EINVAL, "%s: image size %dx%d to read is not in 1..%d", path, cols, rows, PNG_MAX_SIDE);
    int fd; /* a FIFO or device never reaches libpng's blocking fopen */
    int64_t size;
    if (genc_file_open(ctx, path, &fd, &size)) return genc_ctx_status(ctx);
    close(fd);
    png_image im;
    memset(&im, 0, sizeof im);
    im.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_file(&im, path))
        return genc_error(ctx, GENC_EIO, "%s: not a readable PNG (%s)", path, im.message);
    if (im.width > PNG_MAX_SIDE || im.height > PNG_MAX_SIDE) {
        png_image_free(&im);
        return genc_error(ctx, GENC_EFORMAT, "%s: expected at most %dx%d pixels, found %ux%u", path, PNG_MAX_SIDE,
                          PNG_MAX_SIDE, (unsigned)im.width, (unsigned)im.height);
    }
    im.format = PNG_FORMAT_GRAY;
    uint8_t *pix = malloc(PNG_IMAGE_SIZE(im));
    if (!pix) return png_image_free(&im), genc_error(ctx, GENC_ENOMEM, "out of memory");
    if (!png_image_finish_read(&im, NULL, pix, 0, NULL)) {
        free(pix);
        return genc_error(ctx, GENC_EFORMAT, "%s: bad PNG (%s)", path, im.message);
    }
    int W = (int)im.width, H = (int)im.height, b = GENC_GRID_BORDER, gc = 1, gr = 1, x0 = 0, y0 = 0;
    bool single = W == cols && H == rows;
    if (!single) {
        if ((W - b) % (cols + b) || (H - b) % (rows + b) || W < cols + 2 * b || H < rows + 2 * b) {
            free(pix);
            return genc_error(ctx, GENC_EFORMAT, "%s: %dx%d is neither a %dx%d image nor a grid of them", path, W, H, cols, rows);
        }
        gc = (W - b) / (cols + b), gr = (H - b) / (rows + b), x0 = y0 = b;
    }
    for (int r = 0; r < gr && *got < room; r++)
        for (int c = 0; c < gc && *got < room; c++) {
            float *dst = out + *got * rows * cols;
            bool all_border = !single;
            for (int y = 0; y < rows; y++)
                for (int x = 0; x < cols; x++) {
                    uint8_t v = pix[(size_t)(y0 + r * (rows + b) + y) * W + x0 + c * (cols + b) + x];
                    all_border &= v == GENC_GRID_BORDER_VALUE;
                    dst[y * cols + x] = (float)v / 255.0f;
                }
            if (!all_border) (*got)++;
        }
    free(pix);
    return GENC_OK;
}
