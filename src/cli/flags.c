/* The declarative flag parser shared by every verb, the error printer, the --out folder lock
 * and signals: while a training loop polls (genc_cli_polling) the first SIGINT/SIGTERM asks it
 * to stop after the step and checkpoint, and the verb exits 128 + the signal (130, 143);
 * anywhere else, and at a second signal, the signal's default action kills at once. */
#include "cli/cli.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

volatile int genc_cli_stop, genc_cli_polling;

static void on_signal(int sig) {
    if (!genc_cli_polling || genc_cli_stop) { /* nothing to save, or a second signal: die now */
        signal(sig, SIG_DFL);
        raise(sig); /* delivered as the handler returns */
        return;
    }
    genc_cli_stop = sig;
}

void genc_cli_catch_signals(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

genc_status genc_cli_out_dir(genc_ctx *ctx, const char *out) {
    if (!out || !*out) return genc_error(ctx, GENC_EINVAL, "--out: expected an output folder, found an empty name");
    char dir[4096];
    if (snprintf(dir, sizeof dir, "%s", out) >= (int)sizeof dir)
        return genc_error(ctx, GENC_EINVAL, "--out: the folder name is longer than %zu bytes", sizeof dir - 1);
    for (char *p = dir + 1;; p++) { /* mkdir -p */
        bool end = !*p;
        if (*p != '/' && !end) continue;
        *p = 0;
        if (mkdir(dir, 0777) != 0 && errno != EEXIST)
            return genc_error(ctx, GENC_EIO, "--out %s: cannot create %s: %s", out, dir, strerror(errno));
        if (end) break;
        *p = '/';
    }
    char lock[4200];
    snprintf(lock, sizeof lock, "%s/.lock", out);
    int fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0) return genc_error(ctx, GENC_EIO, "--out %s: cannot open its lock file %s: %s", out, lock, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int err = errno;
        close(fd);
        return err == EWOULDBLOCK
                   ? genc_error(ctx, GENC_ESTATE, "--out %s: another process is writing to this folder (it holds "
                                "%s); wait for it or choose another --out", out, lock)
                   : genc_error(ctx, GENC_EIO, "--out %s: cannot lock %s: %s", out, lock, strerror(err));
    }
    genc_file_remove_stale_tmp(out, NULL); /* the lock is held: no live writer of ours is there */
    return GENC_OK; /* fd stays open, so the lock lives as long as the process */
}

void genc_cli_print_saved(const char *out, int64_t last_step, const char *metric) {
    if (!metric) printf("saved %s/checkpoint.safetensors (the last step, %lld; no evaluation ran: no best.safetensors)\n",
                        out, (long long)last_step);
    else printf("saved %s/checkpoint.safetensors (the last step, %lld) and %s/best.safetensors (best %s)\n", out,
           (long long)last_step, out, metric);
    fflush(stdout);
}

int genc_cli_fail(genc_ctx *ctx) {
    fprintf(stderr, "genc: error: %s\n", genc_last_error(ctx));
    return 1;
}

int genc_cli_run(int64_t threads, int64_t seed, genc_status (*body)(genc_ctx *ctx, void *args), void *args) {
    genc_ctx *ctx = genc_ctx_new();
    if (!ctx) {
        fprintf(stderr, "genc: error: out of memory\n");
        return 1;
    }
    genc_set_threads(ctx, (int)threads);
    genc_rng_seed(ctx, (uint64_t)seed);
    genc_cli_catch_signals();
    int code = body(ctx, args) ? genc_cli_fail(ctx) : 0;
    if (genc_cli_stop) code = 128 + genc_cli_stop; /* stopped by a signal after checkpointing */
    genc_ctx_free(ctx);
    return code;
}

void (*genc_flags_visit)(const char *cmd, const char *summary, const genc_flag *flags, int n);

static const char *type_word(const genc_flag *f) {
    return f->type == FLAG_INT ? "N" : f->type == FLAG_DOUBLE ? "X" : f->type == FLAG_STRING ? "S" : "";
}

/* The flag's current value as --dump-defaults prints it ("" for an empty or absent string). */
static void format_value(const genc_flag *f, char *buf, size_t size) {
    if (f->type == FLAG_INT) snprintf(buf, size, "%lld", (long long)*(int64_t *)f->value);
    else if (f->type == FLAG_DOUBLE) snprintf(buf, size, "%g", *(double *)f->value);
    else if (f->type == FLAG_BOOL) snprintf(buf, size, "%s", *(bool *)f->value ? "true" : "false");
    else snprintf(buf, size, "%s", *(const char **)f->value ? *(const char **)f->value : "");
}

/* " (default V)" with the value, or " (default: WORDS)" with .unset or for no string at all. */
static void format_default(const genc_flag *f, char *buf, size_t size) {
    char v[256];
    format_value(f, v, sizeof v);
    if (f->unset) snprintf(buf, size, " (default: %s)", f->unset);
    else if (f->type == FLAG_STRING && !*v) snprintf(buf, size, " (default: none)");
    else snprintf(buf, size, " (default %s)", v);
}

void genc_flag_default_text(const genc_flag *f, char *buf, size_t size) {
    format_default(f, buf, size);
}

static void print_help(const char *cmd, const char *summary, const genc_flag *flags, int n) {
    printf("usage: genc %s [flags]\n%s\n\nflags:\n", cmd, summary);
    for (int i = 0; i < n; i++) {
        const genc_flag *f = &flags[i];
        if (f->alias_of) continue;
        char lhs[96], def[320], more[160] = "";
        snprintf(lhs, sizeof lhs, "--%s %s", f->name, type_word(f));
        format_default(f, def, sizeof def);
        if (f->choices) snprintf(more, sizeof more, " [%s]", f->choices);
        if (f->needs) snprintf(more + strlen(more), sizeof more - strlen(more), " [with --%s]", f->needs);
        printf("  %-24s %s%s%s\n", lhs, f->help, more, def);
    }
    printf("  %-24s %s\n", "--help", "show this help");
}

static void dump_defaults(const genc_flag *flags, int n) {
    char v[256];
    for (int i = 0; i < n; i++)
        if (!flags[i].alias_of) {
            format_value(&flags[i], v, sizeof v);
            printf("%s\t%s\n", flags[i].name, v);
        }
}

/* Levenshtein distance of a[0..na) and b, at most 63 characters each (else a large number). */
static int edit_distance(const char *a, size_t na, const char *b) {
    size_t nb = strlen(b);
    if (na > 63 || nb > 63) return 1000;
    int row[64];
    for (size_t j = 0; j <= nb; j++) row[j] = (int)j;
    for (size_t i = 1; i <= na; i++) {
        int diag = row[0];
        row[0] = (int)i;
        for (size_t j = 1; j <= nb; j++) {
            int up = row[j], best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best) best = up + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            diag = up, row[j] = best;
        }
    }
    return row[nb];
}

static void unknown_flag(const char *cmd, const genc_flag *flags, int n, const char *name, size_t len) {
    const char *best = NULL;
    int best_d = len <= 4 ? 1 : len <= 8 ? 2 : 3;
    for (int k = 0; k < n; k++) {
        int d = edit_distance(name, len, flags[k].name);
        if (d <= best_d) best = flags[k].alias_of ? flags[k].alias_of : flags[k].name, best_d = d - 1;
    }
    if (best)
        fprintf(stderr, "genc: error: %s: unknown flag --%.*s; did you mean --%s? (see genc %s --help)\n", cmd, (int)len,
                name, best, cmd);
    else fprintf(stderr, "genc: error: %s: unknown flag --%.*s (see genc %s --help)\n", cmd, (int)len, name, cmd);
}

static int set_value(const char *cmd, genc_flag *f, const char *v) {
    char *end;
    errno = 0;
    if (f->type == FLAG_STRING) {
        if (f->choices) {
            size_t len = strlen(v);
            bool ok = false;
            for (const char *c = f->choices; *c && !ok; c += strcspn(c, "|"), c += *c == '|')
                ok = strcspn(c, "|") == len && !strncmp(c, v, len);
            if (!ok) {
                fprintf(stderr, "genc: error: %s: --%s expects one of %s, found \"%s\"\n", cmd, f->name, f->choices, v);
                return 2;
            }
        }
        *(const char **)f->value = v;
        return 0;
    }
    double x = f->type == FLAG_INT ? (double)strtoll(v, &end, 10) : strtod(v, &end);
    if (!*v || *end || errno || !isfinite(x)) {
        fprintf(stderr, "genc: error: %s: --%s expects %s, found \"%s\"\n", cmd, f->name,
                f->type == FLAG_INT ? "an integer" : "a number", v);
        return 2;
    }
    if (f->min != f->max && (x < f->min || x > f->max)) {
        fprintf(stderr, "genc: error: %s: --%s must be in [%g, %g], found %s\n", cmd, f->name, f->min, f->max, v);
        return 2;
    }
    if (f->type == FLAG_INT) *(int64_t *)f->value = (int64_t)x;
    else *(double *)f->value = x;
    return 0;
}

static genc_flag *find_flag(genc_flag *flags, int n, const char *name, size_t len) {
    for (int k = 0; k < n; k++)
        if (strlen(flags[k].name) == len && !strncmp(flags[k].name, name, len)) return &flags[k];
    return NULL;
}

/* The flag a deprecated alias stands for (itself otherwise). */
static genc_flag *canonical(genc_flag *flags, int n, genc_flag *f) {
    genc_flag *c = f->alias_of ? find_flag(flags, n, f->alias_of, strlen(f->alias_of)) : NULL;
    return c ? c : f;
}

/* --help or -h among the arguments (skipping flag values), or the hidden --dump-defaults. */
static int wants_help(genc_flag *flags, int n, int argc, char **argv) {
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) return 1;
        if (!strcmp(a, "--dump-defaults")) return 2;
        if (strncmp(a, "--", 2) || strchr(a, '=')) continue;
        genc_flag *f = find_flag(flags, n, a + 2, strlen(a + 2));
        if (f && f->type != FLAG_BOOL) i++;
    }
    return 0;
}

/* Sets one flag from its argument(s); advances *i past a separate value. */
static int parse_one(const char *cmd, genc_flag *flags, int n, int argc, char **argv, int *i) {
    const char *a = argv[*i];
    if (strncmp(a, "--", 2)) {
        fprintf(stderr, "genc: error: %s: unexpected argument \"%s\" (flags start with --; see --help)\n", cmd, a);
        return 2;
    }
    const char *eq = strchr(a, '=');
    size_t len = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
    genc_flag *f = find_flag(flags, n, a + 2, len);
    if (!f) {
        unknown_flag(cmd, flags, n, a + 2, len);
        return 2;
    }
    genc_flag *c = canonical(flags, n, f);
    if (c->given++) {
        fprintf(stderr, "genc: error: %s: --%s given twice; give it once\n", cmd, c->name);
        return 2;
    }
    if (f != c) fprintf(stderr, "genc: note: %s: --%s is deprecated; use --%s\n", cmd, f->name, c->name);
    if (f->type == FLAG_BOOL && !eq) {
        *(bool *)f->value = true;
        return 0;
    }
    const char *v = eq ? eq + 1 : (*i + 1 < argc ? argv[++*i] : NULL);
    if (!v) {
        fprintf(stderr, "genc: error: %s: --%s needs a value\n", cmd, f->name);
        return 2;
    }
    if (f->type != FLAG_BOOL) return set_value(cmd, f, v);
    if (strcmp(v, "true") && strcmp(v, "false") && strcmp(v, "1") && strcmp(v, "0")) {
        fprintf(stderr, "genc: error: %s: --%s expects true or false, found \"%s\"\n", cmd, f->name, v);
        return 2;
    }
    *(bool *)f->value = !strcmp(v, "true") || !strcmp(v, "1");
    return 0;
}

int genc_flags_parse(const char *cmd, const char *summary, genc_flag *flags, int n, int argc, char **argv) {
    if (genc_flags_visit) {
        genc_flags_visit(cmd, summary, flags, n);
        return 1;
    }
    int help = wants_help(flags, n, argc, argv);
    if (help == 1) {
        print_help(cmd, summary, flags, n);
        return 1;
    }
    for (int k = 0; k < n; k++) flags[k].given = 0;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--dump-defaults")) continue;
        int r = parse_one(cmd, flags, n, argc, argv, &i);
        if (r) return r;
    }
    for (int k = 0; k < n; k++) {
        genc_flag *f = &flags[k];
        if (!f->given || !f->needs || genc_flag_given(flags, n, f->needs)) continue;
        fprintf(stderr, "genc: error: %s: --%s acts only with --%s; add --%s or drop --%s\n", cmd, f->name, f->needs,
                f->needs, f->name);
        return 2;
    }
    if (help == 2) {
        dump_defaults(flags, n);
        return 1;
    }
    return 0;
}

bool genc_flag_given(const genc_flag *flags, int n, const char *name) {
    for (int k = 0; k < n; k++)
        if (!strcmp(flags[k].name, name) && flags[k].given) return true;
    return false;
}

const char *genc_flag_first_given(const genc_flag *flags, int n, const char *names) {
    for (const char *p = names; *p; p += strspn(p, " ")) {
        size_t len = strcspn(p, " ");
        for (int k = 0; k < n; k++)
            if (flags[k].given && strlen(flags[k].name) == len && !strncmp(flags[k].name, p, len)) return flags[k].name;
        p += len;
    }
    return NULL;
}

int genc_flag_refuse(const char *cmd, const genc_flag *flags, int n, const char *names, const char *why) {
    const char *name = genc_flag_first_given(flags, n, names);
    if (!name) return 0;
    fprintf(stderr, "genc: error: %s: --%s has no effect %s\n", cmd, name, why);
    return 2;
}
