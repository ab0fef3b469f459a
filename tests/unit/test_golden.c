/* Golden tests without PyTorch: every case of tests/reference/golden_tool.c (compiled in
 * here) is run on the inputs stored in tests/reference/golden/<case>.golden and its outputs
 * and gradients are compared with the expected values torch computed when the file was
 * written (tests/reference/test_golden.py --regen), at the per-output tolerances stored in
 * the file's metadata ("tol.<output>" = "rtol atol"). Run from the repository root. */
#define GOLDEN_NO_MAIN
#include "../reference/golden_tool.c"

#include "test.h"

typedef struct {
    const genc_st *gold;
    const char *case_name;
    int emitted;
} check_state;

static void check_output(void *user, const char *name, const genc_real *data, int ndim, const int64_t *shape) {
    check_state *cs = user;
    char key[160], tkey[160];
    snprintf(key, sizeof key, "out.%s", name);
    snprintf(tkey, sizeof tkey, "tol.%s", name);
    cs->emitted++;
    const genc_st_entry *e = genc_st_find(cs->gold, key);
    CHECK_MSG(e != NULL, "%s: output %s not in the golden file", cs->case_name, name);
    if (!e) return;
    bool same_shape = e->ndim == ndim;
    for (int i = 0; same_shape && i < ndim; i++) same_shape = e->shape[i] == shape[i];
    CHECK_MSG(same_shape && e->dtype == GENC_DT_F32, "%s.%s: shape or dtype differs from the golden file",
              cs->case_name, name);
    if (!same_shape || e->dtype != GENC_DT_F32) return;
    double rtol = 1e-4, atol = 1e-5;
    const char *tol = genc_st_meta(cs->gold, tkey);
    if (tol) sscanf(tol, "%lf %lf", &rtol, &atol);
    int64_t n = (int64_t)((e->end - e->begin) / sizeof(float)), bad = 0, worst = 0;
    const unsigned char *raw = genc_st_data(cs->gold, e);
    double worst_excess = -1;
    for (int64_t i = 0; i < n; i++) {
        float want;
        memcpy(&want, raw + i * sizeof(float), sizeof want);
        double err = fabs((double)data[i] - want), lim = atol + rtol * fabs(want);
        if (!(err <= lim)) bad++;
        if (err - lim > worst_excess || data[i] != data[i]) worst_excess = err - lim, worst = i;
    }
    float want_w;
    memcpy(&want_w, raw + worst * sizeof(float), sizeof want_w);
    CHECK_MSG(bad == 0, "%s.%s: %lld of %lld elements off (worst [%lld]: %.9g vs %.9g, rtol %g atol %g)",
              cs->case_name, name, (long long)bad, (long long)n, (long long)worst, (double)data[worst],
              (double)want_w, rtol, atol);
}

int main(void) {
    genc_ctx *ctx = genc_ctx_new();
    CHECK(ctx != NULL);
    if (!ctx) return test_report("test_golden");
    for (int c = 0; c < GOLDEN_N_CASES; c++) {
        char path[256];
        snprintf(path, sizeof path, "tests/reference/golden/%s.golden", golden_cases[c].name);
        genc_st *gold = NULL;
        genc_status s = genc_st_open(ctx, path, &gold);
        CHECK_MSG(s == GENC_OK, "%s: %s", path, genc_last_error(ctx));
        if (s) {
            genc_clear_error(ctx);
            continue;
        }
        int n_expected = 0;
        for (int i = 0; i < genc_st_count(gold); i++) n_expected += !strncmp(genc_st_at(gold, i)->name, "out.", 4);
        check_state cs = {.gold = gold, .case_name = golden_cases[c].name};
        s = golden_run(ctx, &golden_cases[c], gold, check_output, &cs);
        CHECK_MSG(s == GENC_OK, "%s: %s", golden_cases[c].name, genc_last_error(ctx));
        CHECK_MSG(s || cs.emitted == n_expected, "%s: %d outputs, the golden file has %d", golden_cases[c].name,
                  cs.emitted, n_expected);
        genc_clear_error(ctx);
        genc_st_close(gold);
    }
    genc_ctx_free(ctx);
    return test_report("test_golden");
}
