/* The training split every image verb (classify train, image train) uses: a named data set's
 * training images with --val of them held out for validation (seeded), and the training part
 * cut to its first --limit images when asked (a prefix of the shuffled split). */
#include "cli/cli.h"
#include "genc/data.h"

genc_status genc_cli_train_split(genc_ctx *ctx, const char *data, const char *mnist_dir, int64_t n_val, int64_t seed,
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
