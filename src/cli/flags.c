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

static const char *type_word(genc_flag_type t) {
    return t == FLAG_INT ? "N" : t == FLAG_DOUBLE ? "X" : t == FLAG_STRING ? "S" : "";
}

static void print_help(const char *cmd, const char *summary, const genc_flag *flags, int n) {
    printf("usage: genc %s [flags]\n%s\n\nflags:\n", cmd, summary);
    for (int i = 0; i < n; i++) {
        char lhs[64], def[96] = "";
        snprintf(lhs, sizeof lhs, "--%s %s", flags[i].name, type_word(flags[i].type));
        const genc_flag *f = &flags[i];
        if (f->type == FLAG_INT) snprintf(def, sizeof def, " (default %lld)", (long long)*(int64_t *)f->value);
        if (f->type == FLAG_DOUBLE) snprintf(def, sizeof def, " (default %g)", *(double *)f->value);
        if (f->type == FLAG_STRING && *(const char **)f->value)
            snprintf(def, sizeof def, " (default %s)", *(const char **)f->value);
        printf("  %-24s %s%s\n", lhs, f->help, def);
    }
    printf("  %-24s %s\n", "--help", "show this help");
}

static int set_value(const char *cmd, genc_flag *f, const char *v) {
    char *end;
    errno = 0;
    if (f->type == FLAG_STRING) {
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

int genc_flags_parse(const char *cmd, const char *summary, genc_flag *flags, int n, int argc, char **argv) {
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            print_help(cmd, summary, flags, n);
            return 1;
        }
        if (strncmp(a, "--", 2)) {
            fprintf(stderr, "genc: error: %s: unexpected argument \"%s\" (flags start with --; see --help)\n", cmd, a);
            return 2;
        }
        const char *eq = strchr(a, '=');
        size_t len = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
        genc_flag *f = NULL;
        for (int k = 0; k < n && !f; k++)
            if (strlen(flags[k].name) == len && !strncmp(flags[k].name, a + 2, len)) f = &flags[k];
        if (!f) {
            fprintf(stderr, "genc: error: %s: unknown flag \"%.*s\" (see genc %s --help)\n", cmd, (int)len + 2, a, cmd);
            return 2;
        }
        if (f->type == FLAG_BOOL && !eq) {
            *(bool *)f->value = true;
            continue;
        }
        const char *v = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
        if (!v) {
            fprintf(stderr, "genc: error: %s: --%s needs a value\n", cmd, f->name);
            return 2;
        }
        if (f->type == FLAG_BOOL) {
            if (strcmp(v, "true") && strcmp(v, "false") && strcmp(v, "1") && strcmp(v, "0")) {
                fprintf(stderr, "genc: error: %s: --%s expects true or false, found \"%s\"\n", cmd, f->name, v);
                return 2;
            }
            *(bool *)f->value = !strcmp(v, "true") || !strcmp(v, "1");
        } else if (set_value(cmd, f, v)) {
            return 2;
        }
    }
    return 0;
}
