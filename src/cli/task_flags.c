/* Task flags shared by the reasoning verbs (see task_flags.h). */
#include "cli/task_flags.h"

#include <stdio.h>
#include <string.h>

genc_status genc_task_flags_apply(genc_ctx *ctx, const genc_task_flags *f, genc_task_cfg *cfg, genc_reward_cfg *rc) {
    if (strcmp(f->task, "arith") && strcmp(f->task, "countdown"))
        return genc_error(ctx, GENC_EINVAL, "--task: expected arith or countdown, found \"%s\"", f->task);
    genc_task_cfg_default(cfg, strcmp(f->task, "arith") ? GENC_TASK_COUNTDOWN : GENC_TASK_ARITH);
    if (strlen(f->ops) >= sizeof cfg->ops)
        return genc_error(ctx, GENC_EINVAL, "--ops: expected a subset of +-*, found \"%s\"", f->ops);
    snprintf(cfg->ops, sizeof cfg->ops, "%s", f->ops);
    cfg->a_digits = (int)f->a_digits, cfg->b_digits = (int)f->b_digits, cfg->terms = (int)f->terms;
    cfg->n_numbers = (int)f->n_numbers, cfg->max_number = (int)f->max_number, cfg->target_max = f->target_max;
    genc_status s = genc_task_cfg_check(ctx, cfg);
    if (s) return s;
    genc_reward_cfg_default(rc);
    if (!strcmp(f->reward, "tinyzero")) rc->mode = GENC_REWARD_TINYZERO;
    else if (strcmp(f->reward, "weighted"))
        return genc_error(ctx, GENC_EINVAL, "--reward: expected weighted or tinyzero, found \"%s\"", f->reward);
    rc->w_acc = f->w_acc, rc->w_fmt = f->w_fmt, rc->accuracy_needs_format = f->acc_needs_format;
    return GENC_OK;
}

int genc_task_flags_refuse(const char *cmd, const genc_flag *flags, int n, const genc_task_flags *f) {
    bool arith = !f->task || !strcmp(f->task, "arith");
    int r = genc_flag_refuse(cmd, flags, n, arith ? "numbers max-number target-max" : "ops a-digits b-digits terms",
                             arith ? "with --task arith (a countdown flag)" : "with --task countdown (an arith flag)");
    return r;
}

genc_status genc_task_flags_heldout(genc_ctx *ctx, const genc_task_flags *f, const genc_task_cfg *cfg,
                                    genc_task_set *out) {
    if (f->problems) return genc_task_set_load_jsonl(ctx, f->problems, out);
    return genc_task_set_make(ctx, cfg, (uint64_t)f->heldout_seed, f->heldout, out);
}
