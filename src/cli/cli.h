/* Shared pieces of the genc command: the verb table, a declarative flag parser (every verb
 * lists its flags once; --help is generated from the list), the common run flags and the
 * SIGINT flag long verbs poll to stop cleanly. */
#ifndef GENC_CLI_H
#define GENC_CLI_H
#include "genc/genc.h"

typedef struct {
    const char *family, *verb, *help;
    int (*run)(int argc, char **argv); /* argv after the verb; returns the exit code */
} genc_cli_verb;

typedef enum { FLAG_INT, FLAG_DOUBLE, FLAG_STRING, FLAG_BOOL } genc_flag_type;
typedef struct {
    const char *name; /* without the leading "--" */
    genc_flag_type type;
    void *value;      /* int64_t*, double*, const char**, bool* */
    const char *help;
    double min, max;  /* numeric range (ignored when min == max) */
    /* Optional, by designator (.unset = ...): */
    const char *unset;    /* what the verb does when the flag is not given, in words; --help shows it in
                             place of the initial value (for -1 / NaN / NULL "not given" markers) */
    const char *choices;  /* FLAG_STRING: the accepted values, "a|b|c"; any other is a usage error */
    const char *needs;    /* the flag acts only together with this one; given alone it is refused */
    const char *alias_of; /* a deprecated old name of the flag named here (same value): accepted with a
                             one-line note on stderr, not listed by --help */
    int given;            /* set by the parser: how many times the flag was given */
} genc_flag;

/* Flag entries shared by verbs: `a` is the verb's argument struct. Training verbs keep a
 * checkpoint (int64_t save_every, stop_at; bool resume); every verb takes int64_t threads. */
#define GENC_CKPT_FLAG_ENTRIES(a)                                                                              \
    {"save-every", FLAG_INT, &(a).save_every, "checkpoint every N steps (0: at the end)", 0, 1e9},            \
    {"stop-at", FLAG_INT, &(a).stop_at, "stop after this step with a checkpoint (0: run to the end)", 0, 1e9}, \
    {"resume", FLAG_BOOL, &(a).resume, "continue from OUT/checkpoint.safetensors"}
#define GENC_THREADS_FLAG_ENTRY(a) {"threads", FLAG_INT, &(a).threads, "threads in all (0: every core)", 0, 1024}

/* Parses --name value / --name=value / --bool-flag. Returns 0 when the verb should run,
 * 1 when --help was printed (exit 0), 2 on an error (already printed: exit 2). --help is
 * printed before any value is set, so it shows the defaults whatever else is given; a flag
 * given twice, an unknown flag (with the closest known name suggested), a value outside
 * .choices and a flag whose .needs is missing are usage errors. The hidden --dump-defaults
 * prints "name<TAB>value" per flag as parsed (what the verb would use) and returns 1. */
int genc_flags_parse(const char *cmd, const char *summary, genc_flag *flags, int n, int argc, char **argv);
/* True when the flag `name` (or a deprecated alias of it) was on the command line. */
bool genc_flag_given(const genc_flag *flags, int n, const char *name);
/* The first of `names` (space-separated flag names) that was given, or NULL. */
const char *genc_flag_first_given(const genc_flag *flags, int n, const char *names);
/* For flags that act only in some modes: when one of `names` (space-separated) was given,
 * print "genc: error: CMD: --NAME has no effect WHY" and return 2 (the verb exits 2). */
int genc_flag_refuse(const char *cmd, const genc_flag *flags, int n, const char *names, const char *why);
/* While set, genc_flags_parse hands the verb's table to this function instead of parsing and
 * returns 1 (the verb exits 0 without running): shell completion and the man page. */
extern void (*genc_flags_visit)(const char *cmd, const char *summary, const genc_flag *flags, int n);
/* " (default V)" or " (default: WORDS)", as --help shows the flag's default. */
void genc_flag_default_text(const genc_flag *f, char *buf, size_t size);
/* genc completion bash|zsh and genc man (src/cli/completion.c), from every verb's table. */
int genc_cli_completion(const genc_cli_verb *verbs, int n, int argc, char **argv);
int genc_cli_man(const genc_cli_verb *verbs, int n);

/* A training verb's --out folder: refused when empty (it would mean "/"), created with its
 * parents, and locked (an advisory flock on OUT/.lock held until the process exits), so a
 * second process on the same folder fails at once in one line; temporary files left there
 * by writers that died are removed. */
genc_status genc_cli_out_dir(genc_ctx *ctx, const char *out);
/* Run a training verb's body as one rank of the MPI job the process was launched in (dist_cli.c):
 * ranks other than 0 print nothing but their own failures. timeout: --dist-timeout (0: default). */
genc_status genc_cli_dist_run(genc_ctx *ctx, double timeout, genc_status (*body)(genc_ctx *, void *, genc_dist *),
                              void *args);
#define GENC_DIST_FLAG_ENTRY(a)                                                                                \
    {"dist-timeout", FLAG_DOUBLE, &(a).dist_timeout, "under mpirun/srun: seconds a rank waits for the others " \
     "before failing, naming the rank that did not answer", 0.1, 1e6, .unset = "GENC_DIST_TIMEOUT, else 300"}

/* The closing line of every trainer, one rule for all: OUT/checkpoint.safetensors holds the
 * last step's weights (what --resume continues and the next verb reads by default),
 * OUT/best.safetensors those of the evaluation with the best validation `metric` (in words,
 * e.g. "validation loss 3.6503"; NULL when no evaluation ran). */
void genc_cli_print_saved(const char *out, int64_t last_step, const char *metric);

/* Print "genc: error: <message>" and return the exit code 1. */
int genc_cli_fail(genc_ctx *ctx);
/* Run a verb's body on a fresh context with `threads` threads (0: all) and random seed
 * `seed`, stopping cleanly on Ctrl-C; prints the error line. Returns the exit code. */
int genc_cli_run(int64_t threads, int64_t seed, genc_status (*body)(genc_ctx *ctx, void *args), void *args);
/* While genc_cli_polling is set, SIGINT/SIGTERM set genc_cli_stop to the signal number and
 * the polling loop stops after the current step and checkpoints (the verb then exits 128 +
 * the signal); otherwise, and at a second signal, the default action kills at once. */
extern volatile int genc_cli_stop, genc_cli_polling;
void genc_cli_catch_signals(void);

int genc_cli_classify_train(int argc, char **argv);
int genc_cli_classify_eval(int argc, char **argv);
void genc_cli_print_baseline_rank(double fashion_accuracy);
int genc_cli_tokenizer_train(int argc, char **argv);
int genc_cli_tokenizer_encode(int argc, char **argv);
int genc_cli_tokenizer_decode(int argc, char **argv);
int genc_cli_lm_train(int argc, char **argv);
int genc_cli_lm_eval(int argc, char **argv);
int genc_cli_lm_sample(int argc, char **argv);
int genc_cli_lm_chat(int argc, char **argv);
int genc_cli_lm_quantize(int argc, char **argv);
int genc_cli_lm_grpo(int argc, char **argv);
int genc_cli_lm_corpus(int argc, char **argv);
int genc_cli_lm_prefix_tune(int argc, char **argv);
int genc_cli_lm_export(int argc, char **argv);
int genc_cli_info(int argc, char **argv);
int genc_cli_image_train(int argc, char **argv);
int genc_cli_image_eval(int argc, char **argv);
int genc_cli_image_sample(int argc, char **argv);
/* Diffusion / rectified flow (src/cli/image_diffusion.c): `image train --model ddpm|rflow` and
 * `image sample` of a diffusion checkpoint go there, everything else to the verbs above. */
int genc_cli_image_train_dispatch(int argc, char **argv);
int genc_cli_image_sample_dispatch(int argc, char **argv);
int genc_cli_image_fid(int argc, char **argv);

#endif
