/* sampler_tool: drives genc's diffusion / rectified-flow arithmetic (include/genc/diffusion.h)
 * for tests/reference/test_samplers.py, on a fixed fake network read from a file:
 *   out = A x + b (t / tscale)   (A [D, D], b [D]; tscale = T for DDPM/DDIM, 1 for rectified flow)
 * Commands (files are raw little-endian arrays):
 *   sampler_tool schedule KIND T BETA0 BETA1 OUT        beta[T] then alpha_bar[T], float64
 *   sampler_tool timesteps T S SPACING OUT              S int32, descending
 *   sampler_tool noise SEED FIRST N D STEPS OUT         x_T noise [N,D] then step noise k = 0..STEPS-1, float32
 *   sampler_tool run KEY=VALUE... N D NET X OUT         runs one sampler from x (float32 [N,D]); writes the
 *       observer's states [(K+1), N, D] float32 to OUT and their times (float64) to OUT.t
 *       keys: sampler=ddpm|ddim|invert|rflow|straight, schedule=, T=, S=, spacing=, eta=, clip=0|1,
 *       pred=, variance=, seed=, first=, method=euler|heun, steps=
 *       straight writes the straightness (float64) to OUT.s and the Euler endpoints to OUT.
 *   sampler_tool pair KIND SCHEDULE T PRED N D X EPS TFILE OUT
 *       KIND ddpm: t int32 [N]; writes xt then target; KIND rflow: t float32 [N]; writes xt then v.
 * Exit status 0 on success; on failure one "sampler_tool: error: ..." line and status 1. */
#include "genc/diffusion.h"

#include "tool_io.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int64_t d;
    double *a, *b, tscale;
} fake_net;

static genc_status fake_forward(genc_ctx *ctx, void *user, const float *x, const float *t, int64_t n, int64_t dim,
                                float *out) {
    (void)ctx;
    const fake_net *f = user;
    for (int64_t i = 0; i < n; i++)
        for (int64_t r = 0; r < dim; r++) {
            double acc = f->b[r] * (t[i] / f->tscale);
            for (int64_t c = 0; c < dim; c++) acc += f->a[r * dim + c] * x[i * dim + c];
            out[i * dim + r] = (float)acc;
        }
    return GENC_OK;
}

typedef struct {
    FILE *states;
    FILE *times;
} dump_files;

static genc_status dump(genc_ctx *ctx, void *user, int step, int n_steps, double t, const float *x, int64_t n,
                        int64_t dim) {
    (void)step, (void)n_steps;
    dump_files *d = user;
    if (fwrite(x, sizeof *x, (size_t)(n * dim), d->states) != (size_t)(n * dim) || fwrite(&t, sizeof t, 1, d->times) != 1)
        return genc_error(ctx, GENC_EIO, "cannot write the trajectory");
    return GENC_OK;
}

static int write_file(const char *path, const void *a, size_t na, const void *b, size_t nb) {
    FILE *f = fopen(path, "wb");
    if (!f) return 1;
    int bad = fwrite(a, 1, na, f) != na || (b && fwrite(b, 1, nb, f) != nb);
    return (fclose(f) != 0) | bad;
}

static const char *kv(int argc, char **argv, const char *key, const char *dflt) {
    size_t len = strlen(key);
    for (int i = 0; i < argc; i++)
        if (!strncmp(argv[i], key, len) && argv[i][len] == '=') return argv[i] + len + 1;
    return dflt;
}

static int fail(genc_ctx *ctx, const char *what) {
    fprintf(stderr, "sampler_tool: error: %s\n", what ? what : genc_last_error(ctx));
    return 1;
}

static int do_schedule(genc_ctx *ctx, char **av) {
    genc_beta_schedule k;
    genc_ddpm_schedule s;
    if (genc_beta_schedule_parse(ctx, av[0], &k) || genc_ddpm_schedule_init(ctx, &s, k, atoi(av[1]), atof(av[2]), atof(av[3])))
        return fail(ctx, NULL);
    int bad = write_file(av[4], s.beta, (size_t)s.T * sizeof(double), s.alpha_bar, (size_t)s.T * sizeof(double));
    genc_ddpm_schedule_free(&s);
    return bad ? fail(ctx, "cannot write the output") : 0;
}

static int do_timesteps(genc_ctx *ctx, char **av) {
    int T = atoi(av[0]), S = atoi(av[1]);
    genc_spacing sp;
    int32_t *steps = malloc((size_t)(S > 0 ? S : 1) * sizeof *steps);
    int bad = !steps || genc_spacing_parse(ctx, av[2], &sp) || genc_ddim_timesteps(ctx, T, S, sp, steps);
    bad = bad || write_file(av[3], steps, (size_t)S * sizeof *steps, NULL, 0);
    free(steps);
    return bad ? fail(ctx, NULL) : 0;
}

static int do_noise(genc_ctx *ctx, char **av) {
    uint64_t seed = strtoull(av[0], NULL, 10);
    int64_t first = atoll(av[1]), n = atoll(av[2]), d = atoll(av[3]);
    int steps = atoi(av[4]);
    float *buf = malloc((size_t)(n * d) * sizeof *buf);
    FILE *f = fopen(av[5], "wb");
    int bad = !buf || !f;
    for (int k = -1; !bad && k < steps; k++) {
        if (k < 0) genc_gaussian_noise(seed, first, n, d, buf);
        else genc_step_noise(seed, k, first, n, d, buf);
        bad = fwrite(buf, sizeof *buf, (size_t)(n * d), f) != (size_t)(n * d);
    }
    if (f) bad |= fclose(f) != 0;
    free(buf);
    return bad ? fail(ctx, "cannot write the noise") : 0;
}

/* Options shared by every sampler, parsed from key=value arguments. */
static genc_status parse_opts(genc_ctx *ctx, int argc, char **argv, genc_sampler_opts *o) {
    *o = genc_sampler_defaults();
    o->eta = atof(kv(argc, argv, "eta", "0"));
    o->clip_x0 = atoi(kv(argc, argv, "clip", "0")) != 0;
    o->seed = strtoull(kv(argc, argv, "seed", "0"), NULL, 10);
    o->first_index = atoll(kv(argc, argv, "first", "0"));
    genc_status st = genc_prediction_parse(ctx, kv(argc, argv, "pred", "epsilon"), &o->pred);
    return st ? st : genc_variance_parse(ctx, kv(argc, argv, "variance", "fixed_small"), &o->variance);
}

static genc_status run_diffusion(genc_ctx *ctx, const char *which, int argc, char **argv, fake_net *f,
                                 genc_sampler_opts *o, int64_t n, float *x) {
    genc_beta_schedule kind;
    genc_spacing sp;
    genc_ddpm_schedule s;
    int T = atoi(kv(argc, argv, "T", "1000")), S = atoi(kv(argc, argv, "S", "10"));
    genc_status st = genc_beta_schedule_parse(ctx, kv(argc, argv, "schedule", "linear"), &kind);
    if (!st) st = genc_spacing_parse(ctx, kv(argc, argv, "spacing", "uniform"), &sp);
    if (!st) st = genc_ddpm_schedule_init(ctx, &s, kind, T, 1e-4, 0.02);
    if (st) return st;
    f->tscale = T;
    int32_t *steps = malloc((size_t)(S > 0 ? S : 1) * sizeof *steps);
    if (!steps) st = genc_error(ctx, GENC_ENOMEM, "out of memory");
    else if (!strcmp(which, "ddpm")) st = genc_ddpm_sample(ctx, &s, fake_forward, f, n, f->d, o, x);
    else if (!(st = genc_ddim_timesteps(ctx, T, S, sp, steps)))
        st = !strcmp(which, "ddim") ? genc_ddim_sample(ctx, &s, steps, S, fake_forward, f, n, f->d, o, x)
                                    : genc_ddim_invert(ctx, &s, steps, S, fake_forward, f, n, f->d, o, x);
    free(steps);
    genc_ddpm_schedule_free(&s);
    return st;
}

static int do_run(genc_ctx *ctx, int argc, char **argv) {
    /* the last five arguments are positional: N D NET X OUT */
    int nkv = argc - 5;
    char **pos = argv + nkv;
    int64_t n = atoll(pos[0]), d = atoll(pos[1]);
    const char *which = kv(nkv, argv, "sampler", "ddim");
    double *net_all = n > 0 && d > 0 ? tool_read_bytes(pos[2], (size_t)(d * d + d) * sizeof(double)) : NULL;
    float *x = net_all ? tool_read_bytes(pos[3], (size_t)(n * d) * sizeof(float)) : NULL;
    if (!net_all || !x) return free(net_all), fail(ctx, "cannot read the network or x");
    fake_net f = {d, net_all, net_all + d * d, 1.0};
    char tpath[4096];
    snprintf(tpath, sizeof tpath, "%s.t", pos[4]);
    dump_files files = {fopen(pos[4], "wb"), fopen(tpath, "wb")};
    genc_sampler_opts o;
    genc_status st = files.states && files.times ? parse_opts(ctx, nkv, argv, &o) : genc_error(ctx, GENC_EIO, "cannot open %s", pos[4]);
    o.observe = dump, o.observe_user = &files;
    int steps = atoi(kv(nkv, argv, "steps", "10"));
    genc_ode_method m;
    if (st) {
    } else if (!strcmp(which, "rflow")) {
        if (!(st = genc_ode_method_parse(ctx, kv(nkv, argv, "method", "euler"), &m)))
            st = genc_rflow_sample(ctx, fake_forward, &f, n, d, steps, m, &o, x);
    } else if (!strcmp(which, "straight")) {
        double sv = 0;
        if (!(st = genc_rflow_straightness_ex(ctx, fake_forward, &f, n, d, steps, x, x, &sv)))
            st = fwrite(x, sizeof *x, (size_t)(n * d), files.states) == (size_t)(n * d) && fwrite(&sv, sizeof sv, 1, files.times) == 1
                     ? GENC_OK : genc_error(ctx, GENC_EIO, "cannot write");
    } else {
        st = run_diffusion(ctx, which, nkv, argv, &f, &o, n, x);
    }
    if (files.states) fclose(files.states);
    if (files.times) fclose(files.times);
    free(net_all), free(x);
    return st ? fail(ctx, NULL) : 0;
}

static int do_pair(genc_ctx *ctx, char **av) {
    int64_t n = atoll(av[4]), d = atoll(av[5]);
    size_t bytes = (size_t)(n * d) * sizeof(float);
    float *x = tool_read_bytes(av[6], bytes), *e = tool_read_bytes(av[7], bytes), *xt = malloc(bytes), *tg = malloc(bytes);
    void *t = tool_read_bytes(av[8], (size_t)n * 4);
    int bad = !x || !e || !t || !xt || !tg;
    if (!bad && !strcmp(av[0], "rflow")) genc_rflow_training_pair(x, e, t, n, d, xt, tg);
    else if (!bad) {
        genc_beta_schedule k;
        genc_prediction p;
        genc_ddpm_schedule s;
        bad = genc_beta_schedule_parse(ctx, av[1], &k) || genc_prediction_parse(ctx, av[3], &p) ||
              genc_ddpm_schedule_init(ctx, &s, k, atoi(av[2]), 1e-4, 0.02);
        if (!bad) genc_ddpm_training_pair(&s, p, x, e, t, n, d, xt, tg);
        if (!bad) genc_ddpm_schedule_free(&s);
    }
    bad = bad || write_file(av[9], xt, bytes, tg, bytes);
    free(x), free(e), free(t), free(xt), free(tg);
    return bad ? fail(ctx, genc_ctx_status(ctx) ? NULL : "cannot read or write the files") : 0;
}

int main(int argc, char **argv) {
    genc_ctx *ctx = genc_ctx_new();
    if (!ctx) return 1;
    int code = 2;
    const char *cmd = argc > 1 ? argv[1] : "";
    if (!strcmp(cmd, "schedule") && argc == 7) code = do_schedule(ctx, argv + 2);
    else if (!strcmp(cmd, "timesteps") && argc == 6) code = do_timesteps(ctx, argv + 2);
    else if (!strcmp(cmd, "noise") && argc == 8) code = do_noise(ctx, argv + 2);
    else if (!strcmp(cmd, "run") && argc >= 7) code = do_run(ctx, argc - 2, argv + 2);
    else if (!strcmp(cmd, "pair") && argc == 12) code = do_pair(ctx, argv + 2);
    else fprintf(stderr, "sampler_tool: error: usage: see the comment at the top of tests/reference/sampler_tool.c\n");
    genc_ctx_free(ctx);
    return code;
}
