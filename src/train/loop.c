/* The one training loop every model family uses: step, backward, clip, optimiser update,
 * progress line, JSON-lines metrics, periodic evaluation, rolling and best checkpoints,
 * and a clean stop (with a checkpoint) when asked. Resuming from a checkpoint continues
 * bit for bit: the schedule depends on the step only, the data position and the random
 * stream travel in the training state. With several ranks (cfg->dist) the step's gradients,
 * loss and stop flag are global, so every rank takes the same steps and stops at the same one;
 * rank 0 alone writes (with ZeRO-1, after gathering the sharded optimiser state). */
#include "genc/genc.h"
#include "genc/train.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>

static genc_status save(genc_ctx *ctx, const genc_train_config *cfg, const char *path, const genc_params *p,
                        const genc_optim *o, genc_train_state *st) {
    if (!path) return GENC_OK;
    genc_optim full = {0};
    genc_status s = cfg->zero ? genc_zero_gather(ctx, cfg->zero, &full) : GENC_OK; /* every rank takes part */
    if (s || genc_dist_rank(cfg->dist) != 0) return s;
    st->rng_seed = genc_rng_get_seed(ctx);
    st->rng_offset = genc_rng_offset(ctx);
    s = genc_checkpoint_save(ctx, path, p, cfg->zero ? &full : o, cfg->config_json, st, cfg->ckpt_extra,
                             cfg->ckpt_extra_user);
    if (cfg->zero) genc_optim_free(&full);
    return s;
}

/* Evaluation runs without gradients and must not disturb the training random stream. */
static genc_status evaluate(genc_ctx *ctx, const genc_train_config *cfg, const genc_params *p, const genc_optim *o,
                            const genc_train_hooks *h, genc_train_state *st) {
    if (!h->evaluate) return GENC_OK;
    uint64_t off = genc_rng_offset(ctx);
    bool old = genc_set_grad_enabled(ctx, false);
    double metric = NAN;
    genc_status s = h->evaluate(ctx, h->user, st, &metric, cfg->metrics);
    genc_set_grad_enabled(ctx, old);
    genc_step_reset(ctx);
    genc_rng_set_offset(ctx, off);
    if (s) return s;
    if (isfinite(metric) && metric < st->best_metric) {
        st->best_metric = metric;
        return save(ctx, cfg, cfg->best_checkpoint, p, o, st);
    }
    return GENC_OK;
}

/* A loss this many times the run's first (at least 1 in size) is a divergence, even if finite:
 * a cross-entropy of 1e27 trains nothing (seen: SGD at lr 10 on the classifier). */
#define DIVERGE_FACTOR 1e6

static genc_status diverged(genc_ctx *ctx, const genc_train_config *cfg, const genc_train_state *st, const char *what) {
    return genc_error(ctx, GENC_EINVAL, "training diverged at step %lld: %s; stopped before writing anything, %s "
                      "keeps its last good state (try a lower --lr or --clip)", (long long)st->step + 1, what,
                      cfg->checkpoint ? cfg->checkpoint : "the checkpoint");
}

/* With several ranks: backward now, then the global loss, gradients and stop flag (*stop in:
 * this rank's, out: any rank's). */
static genc_status dist_backward(genc_ctx *ctx, const genc_train_config *cfg, const genc_params *p, genc_tensor *loss,
                                 genc_train_state *st, double *lv, bool *stop) {
    uint64_t bytes;
    if (cfg->overlap) return genc_dist_backward_overlap(ctx, cfg->dist, p, loss, st->step, lv, stop, &bytes);
    genc_status s = genc_backward(ctx, loss);
    return s ? s : genc_dist_average_grads(ctx, cfg->dist, p, st->step, lv, stop, &bytes);
}

/* One optimiser step; nothing non-finite gets past it: the loss, the gradient norm and every
 * parameter after the update are checked before the step counts (and before any save). */
static genc_status one_step(genc_ctx *ctx, const genc_train_config *cfg, const genc_params *p, genc_optim *o,
                            const genc_train_hooks *h, genc_train_state *st, double *loss_out, double *items,
                            double *first_loss, bool *stop) {
    char what[256];
    uint64_t sent0 = genc_dist_bytes_sent(cfg->dist);
    genc_zero_grad(p);
    genc_tensor *loss = h->step_loss(ctx, h->user, st, items);
    if (!loss) return genc_ctx_status(ctx) ? genc_ctx_status(ctx) : genc_error(ctx, GENC_ESTATE, "training step produced no loss");
    double lv = loss->data[0];
    bool multi = genc_dist_size(cfg->dist) > 1;
    genc_status s = multi ? dist_backward(ctx, cfg, p, loss, st, &lv, stop) : GENC_OK;
    if (s) return s;
    if (isnan(*first_loss) && isfinite(lv)) *first_loss = lv;
    double limit = DIVERGE_FACTOR * fmax(1.0, fabs(*first_loss));
    if (!isfinite(lv) || fabs(lv) > limit) {
        snprintf(what, sizeof what, isfinite(lv) ? "the loss is %g, over %g times the first step's %g" : "the loss is %g",
                 lv, DIVERGE_FACTOR, *first_loss);
        return diverged(ctx, cfg, st, what);
    }
    if (!multi && (s = genc_backward(ctx, loss))) return s;
    double gnorm = genc_clip_grad_norm(p, cfg->clip), lr = genc_schedule_lr(&cfg->schedule, o->cfg.lr, st->step);
    if (!isfinite(gnorm)) {
        snprintf(what, sizeof what, "the gradient norm is %g (loss %g)", gnorm, lv);
        return diverged(ctx, cfg, st, what);
    }
    if (!cfg->zero) genc_optim_step(o, lr);
    else if ((s = genc_zero_step(ctx, cfg->zero, lr, st->step))) return s;
    int64_t at;
    const genc_tensor *bad = genc_params_nonfinite(p, &at);
    if (bad) {
        snprintf(what, sizeof what, "parameter \"%.96s\" is %g at index %lld after the update (loss %g)", bad->name,
                 (double)bad->data[at], (long long)at, lv);
        return diverged(ctx, cfg, st, what);
    }
    st->step++;
    if (h->after_step && (s = h->after_step(ctx, h->user, st))) return s;
    genc_step_reset(ctx);
    *loss_out = lv;
    genc_metric_field comm = {"comm_bytes", NULL, 0, (double)(genc_dist_bytes_sent(cfg->dist) - sent0)};
    return genc_metrics_log_fields(cfg->metrics, &comm, multi ? 1 : 0, "{s:I, s:f, s:f, s:f}", "step",
                                   (json_int_t)st->step, "loss", lv, "lr", lr, "grad_norm", gnorm);
}

/* The ranks leave together: none exits (and makes the launcher end the job) before rank 0 has
 * written the last checkpoint, and a rank 0 that failed to write fails the others. */
static genc_status finish_together(genc_ctx *ctx, const genc_train_config *cfg, genc_status s) {
    double failed = s && s != GENC_EINTR ? 1 : 0;
    genc_status e = genc_dist_sum_f64(ctx, cfg->dist, &failed, 1, "the end of the run (rank 0's last checkpoint)");
    if (e) return e;
    if (failed > 0 && !s) return genc_error(ctx, GENC_EIO, "rank %d: another rank failed at the end of the run (see "
                                            "its message)", genc_dist_rank(cfg->dist));
    return s;
}

genc_status genc_train_run(genc_ctx *ctx, const genc_train_config *cfg, const genc_params *p, genc_optim *o,
                           const genc_train_hooks *h, genc_train_state *st) {
    genc_progress prog;
    bool multi = genc_dist_size(cfg->dist) > 1, stop = false;
    FILE *null_out = multi && genc_dist_rank(cfg->dist) ? fopen("/dev/null", "w") : NULL; /* rank 0 draws */
    genc_progress_init(&prog, cfg->label ? cfg->label : "train", st->step, cfg->steps, null_out ? null_out : cfg->progress_out);
    genc_status s = genc_metrics_rewind(cfg->metrics, st->step); /* a resume replays what lies past it */
    double loss = NAN, first_loss = NAN, t0 = genc_now();
    int64_t first = st->step;
    while (!s && st->step < cfg->steps) {
        /* One process stops as soon as asked; ranks stop on the flag their last exchange agreed. */
        if (!multi) stop = cfg->stop && *cfg->stop;
        if (stop || (cfg->stop_at > 0 && st->step >= cfg->stop_at)) break;
        double items = 0;
        stop = cfg->stop && *cfg->stop;
        if ((s = one_step(ctx, cfg, p, o, h, st, &loss, &items, &first_loss, &stop))) break;
        char extra[128] = "";
        double shown = h->shown_loss ? h->shown_loss(h->user, loss, extra, sizeof extra) : loss;
        genc_progress_update(&prog, st->step, shown, items, *extra ? extra : NULL);
        bool last = st->step == cfg->steps;
        if ((cfg->eval_every && st->step % cfg->eval_every == 0) || last) s = evaluate(ctx, cfg, p, o, h, st);
        if (!s && ((cfg->save_every && st->step % cfg->save_every == 0) || last))
            s = save(ctx, cfg, cfg->checkpoint, p, o, st);
    }
    genc_progress_done(&prog);
    if (null_out) fclose(null_out);
    if (!multi) stop = cfg->stop && *cfg->stop;
    bool paused = cfg->stop_at > 0 && st->step >= cfg->stop_at && st->step < cfg->steps;
    if (!s && paused) s = save(ctx, cfg, cfg->checkpoint, p, o, st);
    if (!s && !paused && stop && st->step < cfg->steps) {
        s = save(ctx, cfg, cfg->checkpoint, p, o, st);
        if (!s) s = genc_error(ctx, GENC_EINTR, "interrupted at step %lld; the checkpoint %s holds it (resume with --resume)",
                               (long long)st->step, cfg->checkpoint ? cfg->checkpoint : "(none)");
    }
    if (multi && !genc_dist_broken(cfg->dist)) s = finish_together(ctx, cfg, s);
    if (!s)
        genc_metrics_log(cfg->metrics, "{s:s, s:I, s:f}", "event", "done", "steps", (json_int_t)(st->step - first),
                         "seconds", genc_now() - t0);
    return s;
}
