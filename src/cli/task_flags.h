/* The task flags shared by `genc lm grpo` and `genc lm eval --task`: which task, its size,
 * the held-out set (generated from its own seed, or a user's JSON-lines file) and the
 * reward weights. */
#ifndef GENC_CLI_TASK_FLAGS_H
#define GENC_CLI_TASK_FLAGS_H
#include "cli/cli.h"
#include "genc/tasks.h"

typedef struct {
    const char *task, *ops, *problems, *reward;
    int64_t a_digits, b_digits, terms, n_numbers, max_number, target_max, heldout, heldout_seed;
    double w_acc, w_fmt;
    bool acc_needs_format;
} genc_task_flags;

#define GENC_TASK_FLAGS_DEFAULT                                                                              \
    {.task = "arith", .ops = "+", .reward = "weighted", .a_digits = 2, .b_digits = 2, .terms = 2, .n_numbers = 3,        \
     .max_number = 25, .target_max = 100, .heldout = 200, .heldout_seed = 777, .w_acc = 1.0, .w_fmt = 0.1,     \
     .acc_needs_format = true}

/* The flag entries, to splice into a verb's table. */
#define GENC_TASK_FLAG_ENTRIES(tf)                                                                           \
    {"task", FLAG_STRING, &(tf).task, "the task", .choices = "arith|countdown"},                                                 \
    {"ops", FLAG_STRING, &(tf).ops, "arith: operations, a subset of +-*"},                                    \
    {"a-digits", FLAG_INT, &(tf).a_digits, "arith: digits of the first operand", 1, 18},                      \
    {"b-digits", FLAG_INT, &(tf).b_digits, "arith: digits of the second operand", 1, 18},                     \
    {"terms", FLAG_INT, &(tf).terms, "arith: operands; 3..6 for a chain sum a + b + c ... (--ops +)", 2, 6},    \
    {"numbers", FLAG_INT, &(tf).n_numbers, "countdown: numbers given", 2, 6},                                 \
    {"max-number", FLAG_INT, &(tf).max_number, "countdown: numbers drawn from 1..N", 1, 10000},               \
    {"target-max", FLAG_INT, &(tf).target_max, "countdown: largest target", 1, 1e12},                         \
    {"problems", FLAG_STRING, &(tf).problems, "JSON-lines problems {\"prompt\", \"answer\"} (instead of generated)"}, \
    {"heldout", FLAG_INT, &(tf).heldout, "held-out problems (never trained on)", 1, 1e6},                     \
    {"heldout-seed", FLAG_INT, &(tf).heldout_seed, "seed of the held-out set", 0, 9.2e18},                    \
    {"reward", FLAG_STRING, &(tf).reward, "reward rule", .choices = "weighted|tinyzero"},                                            \
    {"w-acc", FLAG_DOUBLE, &(tf).w_acc, "weight of the accuracy reward", 0, 100},                             \
    {"w-fmt", FLAG_DOUBLE, &(tf).w_fmt, "weight of the format reward", 0, 100},                               \
    {"acc-needs-format", FLAG_BOOL, &(tf).acc_needs_format, "accuracy counts only in the exact format"}

/* Flags of the other task (arith's with --task countdown and the reverse) are refused:
 * returns 2 after the error line, else 0. */
int genc_task_flags_refuse(const char *cmd, const genc_flag *flags, int n, const genc_task_flags *f);
genc_status genc_task_flags_apply(genc_ctx *ctx, const genc_task_flags *f, genc_task_cfg *cfg, genc_reward_cfg *rc);
/* The held-out set: the user's file, or f->heldout problems generated from heldout_seed. */
genc_status genc_task_flags_heldout(genc_ctx *ctx, const genc_task_flags *f, const genc_task_cfg *cfg,
                                    genc_task_set *out);
#endif
