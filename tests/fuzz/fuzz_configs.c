/* libFuzzer target for the model-config parsers that read a checkpoint's "config" metadata
 * (language model, U-Net and its checkpoint metadata, NICE, Glow, classifier, diffusion). The
 * first byte picks the parser (its value mod 8: '0'..'6' in the seeds, 7 is the diffusion one
 * again), the rest is the JSON text. Any input must either be refused with one
 * non-empty line that starts with the label, or parse into a config that writes back to JSON
 * which parses again and writes back to the same text, and whose model, built under a bound
 * of 2^16 parameter values (genc_param_budget, as a loader bounds it by the values its file
 * holds), either builds within the bound or is refused with one line: a config never makes
 * a loader allocate beyond the file. Broken invariants abort. */
#include "genc/core.h"
#include "genc/flow.h"
#include "genc/glow.h"
#include "genc/image.h"
#include "genc/lm.h"
#include "genc/unet.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(c) do { if (!(c)) __builtin_trap(); } while (0)

/* Parse json with parser k into the config at cfg; write it back (a malloc'd string) in *out. */
static genc_status parse_and_write(genc_ctx *ctx, int k, const char *json, void *cfg, char **out) {
    genc_status s;
    *out = NULL;
    switch (k) {
    case 0: s = genc_lm_config_parse(ctx, json, "fuzz", cfg); if (!s) *out = genc_lm_config_json(cfg); break;
    case 1: s = genc_unet_config_parse(ctx, json, "fuzz", cfg); if (!s) *out = genc_unet_config_json(cfg); break;
    case 2: /* either metadata form; the round trip is of its U-Net part */
        s = genc_unet_config_from_meta(ctx, json, "fuzz", cfg, NULL);
        if (!s) *out = genc_unet_config_json(cfg);
        break;
    case 3: s = genc_nice_config_parse(ctx, json, "fuzz", cfg); if (!s) *out = genc_nice_config_json(cfg); break;
    case 4: s = genc_glow_config_parse(ctx, json, "fuzz", cfg); if (!s) *out = genc_glow_config_json(cfg); break;
    case 5:
        s = genc_classifier_config_parse(ctx, json, "fuzz", cfg);
        if (!s) *out = genc_classifier_config_json(cfg);
        break;
    default: s = genc_diff_config_parse(ctx, json, "fuzz", cfg); if (!s) *out = genc_diff_config_json(cfg);
    }
    return s;
}

#define BUDGET ((int64_t)1 << 16)

/* Build the model of the config that parser k accepted, under the loaders' bound. */
static void build_bounded(genc_ctx *ctx, int k, void *cfg) {
    union {
        genc_lm lm;
        genc_unet unet;
        genc_nice nice;
        genc_glow glow;
        genc_classifier cls;
    } m;
    memset(&m, 0, sizeof m);
    genc_param_budget(ctx, BUDGET, "fuzz");
    genc_status s;
    const genc_params *p = NULL;
    switch (k) {
    case 0: s = genc_lm_init(ctx, &m.lm, cfg, 0.02); p = &m.lm.params; break;
    case 1: case 2: s = genc_unet_init(ctx, &m.unet, cfg); p = &m.unet.params; break;
    case 3: s = genc_nice_init(ctx, &m.nice, cfg); p = &m.nice.params; break;
    case 4: s = genc_glow_init(ctx, &m.glow, cfg); p = &m.glow.params; break;
    case 5: s = genc_classifier_init(ctx, &m.cls, cfg); p = &m.cls.params; break;
    default: s = genc_unet_init(ctx, &m.unet, &((genc_diff_config *)cfg)->unet); p = &m.unet.params;
    }
    genc_param_budget(ctx, -1, NULL);
    if (s) {
        const char *msg = genc_last_error(ctx);
        REQUIRE(msg[0] && !strchr(msg, '\n'));
        genc_clear_error(ctx);
        return;
    }
    REQUIRE(genc_params_numel(p) <= BUDGET);
    switch (k) {
    case 0: genc_lm_free(&m.lm); break;
    case 3: genc_nice_free(&m.nice); break;
    case 4: genc_glow_free(&m.glow); break;
    case 5: genc_classifier_free(&m.cls); break;
    default: genc_unet_free(&m.unet);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static genc_ctx *ctx;
    if (!ctx) ctx = genc_ctx_new();
    if (size < 1) return 0;
    int k = data[0] % 8 == 7 ? 6 : data[0] % 8;
    char *json = malloc(size);
    REQUIRE(json);
    memcpy(json, data + 1, size - 1);
    json[size - 1] = '\0';
    union {
        genc_lm_config lm;
        genc_unet_config unet;
        genc_nice_config nice;
        genc_glow_config glow;
        genc_classifier_config cls;
        genc_diff_config diff;
    } a, b;
    char *first = NULL, *second = NULL;
    if (parse_and_write(ctx, k, json, &a, &first) != GENC_OK) {
        const char *m = genc_last_error(ctx);
        REQUIRE(m[0] && !strchr(m, '\n') && strncmp(m, "fuzz", 4) == 0);
        genc_clear_error(ctx);
    } else {
        REQUIRE(first);
        int back = k == 2 ? 1 : k; /* the U-Net part written by case 2 is a plain U-Net config */
        REQUIRE(parse_and_write(ctx, back, first, &b, &second) == GENC_OK && second);
        REQUIRE(strcmp(first, second) == 0);
        build_bounded(ctx, k, &a);
    }
    free(first), free(second), free(json);
    return 0;
}
