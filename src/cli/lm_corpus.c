/* genc lm corpus: write a pre-training corpus for a reasoning task (worked solutions as
 * ordinary text, question/answer lists, answers in <answer> tags, never reasoning inside
 * <think>), built only from training problems: the held-out set's problems are skipped. */
#include "cli/cli.h"
#include "cli/task_flags.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

typedef struct {
    genc_task_flags tf;
    const char *out, *style;
    int64_t docs, seed;
} corpus_args;

static genc_status run_corpus(genc_ctx *ctx, void *args) {
    const corpus_args *a = args;
    genc_task_cfg cfg;
    genc_reward_cfg rc;
    genc_task_set held = {0};
    genc_status s = genc_task_flags_apply(ctx, &a->tf, &cfg, &rc);
    if (!s) s = genc_task_flags_heldout(ctx, &a->tf, &cfg, &held);
    FILE *f = s ? NULL : fopen(a->out, "w");
    if (!s && !f) s = genc_error(ctx, GENC_EIO, "%s: cannot write: %s", a->out, strerror(errno));
    genc_corpus_style style = strcmp(a->style, "markup") ? GENC_CORPUS_PLAIN : GENC_CORPUS_MARKUP;
    if (!s) s = genc_task_corpus_write_style(ctx, f, &cfg, &held, (uint64_t)a->seed, a->docs, style);
    if (f && fclose(f) && !s) s = genc_error(ctx, GENC_EIO, "%s: write error", a->out);
    if (!s)
        printf("wrote %lld documents to %s (held-out problems skipped: %lld)\n", (long long)a->docs, a->out,
               (long long)held.n);
    genc_task_set_free(&held);
    return s;
}

int genc_cli_lm_corpus(int argc, char **argv) {
    corpus_args a = {.tf = GENC_TASK_FLAGS_DEFAULT, .out = "runs/corpus.txt", .docs = 20000, .seed = 1, .style = "plain"};
    genc_flag flags[] = {
        GENC_TASK_FLAG_ENTRIES(a.tf),
        {"docs", FLAG_INT, &a.docs, "documents to write", 1, 1e9},
        {"seed", FLAG_INT, &a.seed, "seed of the training-problem stream", 0, 9.2e18},
        {"style", FLAG_STRING, &a.style, "plain, or markup: worked solutions in tags of made-up names, for lm train "
                                         "--tok-tags text (docs/r1zero.md)", .choices = "plain|markup"},
        {"out", FLAG_STRING, &a.out, "the text file to write"},
    };
    int r = genc_flags_parse("lm corpus", "Write a task's pre-training corpus (see genc_task_corpus_write).", flags,
                             (int)(sizeof flags / sizeof *flags), argc, argv);
    if (r) return r == 1 ? 0 : 2;
    return genc_cli_run(1, a.seed, run_corpus, &a);
}
