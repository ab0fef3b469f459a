/* libFuzzer target for the data-file readers that take a path: IDX image and label files
 * (raw or gzip) and the JSON-lines problem files of `lm grpo --tasks`. The first byte picks
 * the reader; the rest is written to a scratch file (the other IDX file of the pair is a
 * valid one-image file). Any input must be refused with one non-empty line naming the file,
 * or load into a consistent result. Broken invariants abort. */
#include "genc/core.h"
#include "genc/data.h"
#include "genc/tasks.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(c) do { if (!(c)) __builtin_trap(); } while (0)

static char dir[64], images[96], labels[96], fuzzed[96];

static void write_file(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    REQUIRE(f && fwrite(p, 1, n, f) == n && fclose(f) == 0);
}

static void cleanup(void) {
    unlink(images), unlink(labels), unlink(fuzzed), rmdir(dir);
}

/* Scratch directory (removed at exit) and the valid halves of the IDX pair: one 1x1 image,
 * one label. */
static void setup(void) {
    snprintf(dir, sizeof dir, "/tmp/genc_fuzz_files_XXXXXX");
    REQUIRE(mkdtemp(dir));
    snprintf(images, sizeof images, "%s/images", dir);
    snprintf(labels, sizeof labels, "%s/labels", dir);
    snprintf(fuzzed, sizeof fuzzed, "%s/fuzzed", dir);
    const uint8_t img[17] = {0, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 200};
    const uint8_t lab[9] = {0, 0, 8, 1, 0, 0, 0, 1, 7};
    write_file(images, img, sizeof img);
    write_file(labels, lab, sizeof lab);
    atexit(cleanup);
}

static void require_one_line(genc_ctx *ctx) {
    const char *m = genc_last_error(ctx);
    REQUIRE(m[0] && !strchr(m, '\n') && strstr(m, dir) == m);
    genc_clear_error(ctx);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static genc_ctx *ctx;
    if (!ctx) ctx = genc_ctx_new(), setup();
    if (size < 1) return 0;
    int k = data[0] % 3;
    write_file(fuzzed, data + 1, size - 1);
    if (k < 2) {
        genc_dataset d;
        genc_status s = k == 0 ? genc_data_load_idx(ctx, fuzzed, labels, &d) : genc_data_load_idx(ctx, images, fuzzed, &d);
        if (s) return require_one_line(ctx), 0;
        REQUIRE(d.n == 1 && d.rows >= 1 && d.cols >= 1 && d.n_classes >= 1 && d.labels[0] < d.n_classes);
        for (int64_t i = 0; i < (int64_t)d.rows * d.cols; i++) REQUIRE(d.images[i] >= 0 && d.images[i] <= 1);
        genc_dataset_free(&d);
        return 0;
    }
    genc_task_set set;
    if (genc_task_set_load_jsonl(ctx, fuzzed, &set)) return require_one_line(ctx), 0;
    for (int64_t i = 0; i < set.n; i++) {
        const genc_task_problem *p = &set.problems[i];
        REQUIRE(p->prompt && p->answer && p->key != 0);
    }
    genc_task_set_free(&set);
    return 0;
}
