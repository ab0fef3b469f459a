/* The image classifier: a convnet (conv5x5 -> ReLU -> maxpool, twice, then a ReLU feature
 * layer and a linear head) or an MLP (two ReLU hidden layers). Pixels in [0,1] are mapped
 * to [-1,1] first. The feature layer is what FID measures. */
#include "genc/image.h"
#include "genc/ops.h"

#include <jansson.h>
#include <math.h>
#include <string.h>

genc_classifier_config genc_classifier_defaults(void) {
    genc_classifier_config c = {.arch = GENC_CLS_CONVNET, .rows = 28, .cols = 28, .classes = 10,
                                .channels = {32, 64}, .hidden = 256, .dropout = 0.25};
    return c;
}

char *genc_classifier_config_json(const genc_classifier_config *c) {
    json_t *j = json_pack("{s:s, s:i, s:i, s:i, s:[i,i], s:i, s:f}", "arch", c->arch == GENC_CLS_MLP ? "mlp" : "convnet",
                          "rows", c->rows, "cols", c->cols, "classes", c->classes, "channels", c->channels[0],
                          c->channels[1], "hidden", c->hidden, "dropout", c->dropout);
    char *s = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(j);
    return s;
}

genc_status genc_classifier_config_parse(genc_ctx *ctx, const char *json, const char *label, genc_classifier_config *c) {
    json_error_t err = {.text = ""};
    json_t *j = json ? json_loads(json, 0, &err) : NULL;
    const char *arch = "";
    int bad = !j || json_unpack_ex(j, &err, JSON_STRICT, "{s:s, s:i, s:i, s:i, s:[i,i], s:i, s:F}", "arch", &arch, "rows",
                                   &c->rows, "cols", &c->cols, "classes", &c->classes, "channels", &c->channels[0],
                                   &c->channels[1], "hidden", &c->hidden, "dropout", &c->dropout);
    if (!bad) {
        c->arch = !strcmp(arch, "mlp") ? GENC_CLS_MLP : GENC_CLS_CONVNET;
        bad = (strcmp(arch, "mlp") && strcmp(arch, "convnet")) || c->rows < 4 || c->cols < 4 || c->rows % 4 ||
              c->cols % 4 || c->rows > 4096 || c->cols > 4096 || c->classes < 2 || c->classes > (1 << 20) ||
              c->channels[0] < 1 || c->channels[1] < 1 || c->channels[0] > 4096 || c->channels[1] > 4096 ||
              c->hidden < 1 || c->hidden > (1 << 20) || !(c->dropout >= 0 && c->dropout < 1);
        if (bad && !err.text[0])
            snprintf(err.text, sizeof err.text, "expected rows and cols 4 .. 4096 (multiples of 4), classes 2 .. 2^20, "
                     "channels 1 .. 4096, hidden 1 .. 2^20, dropout in [0, 1)");
    }
    json_decref(j);
    if (bad)
        return genc_error(ctx, GENC_EFORMAT, "%s: metadata \"config\" is not a valid classifier config%s%s", label,
                          json ? ": " : " (missing)", json ? err.text : "");
    return GENC_OK;
}

static genc_tensor *param(genc_ctx *ctx, genc_classifier *m, const char *name, int ndim, const int64_t *shape,
                          int64_t fan_in) {
    genc_tensor *t = genc_params_new(ctx, &m->params, name, ndim, shape);
    if (!t) return NULL;
    double bound = 1.0 / sqrt((double)fan_in);
    genc_fill_uniform(ctx, t, -bound, bound);
    return t;
}

#define P1(name, a, fan) param(ctx, m, name, 1, (int64_t[]){a}, fan)
#define P2(name, a, b, fan) param(ctx, m, name, 2, (int64_t[]){a, b}, fan)
#define P4(name, a, b, c, d, fan) param(ctx, m, name, 4, (int64_t[]){a, b, c, d}, fan)

genc_status genc_classifier_init(genc_ctx *ctx, genc_classifier *m, const genc_classifier_config *cfg) {
    memset(m, 0, sizeof *m);
    m->cfg = *cfg;
    int64_t c1 = cfg->channels[0], c2 = cfg->channels[1], h = cfg->hidden, in = (int64_t)cfg->rows * cfg->cols;
    if (cfg->arch == GENC_CLS_CONVNET) {
        int64_t flat = (int64_t)c2 * (cfg->rows / 4) * (cfg->cols / 4);
        m->conv1_w = P4("conv1.weight", c1, 1, 5, 5, 25), m->conv1_b = P1("conv1.bias", c1, 25);
        m->conv2_w = P4("conv2.weight", c2, c1, 5, 5, 25 * c1), m->conv2_b = P1("conv2.bias", c2, 25 * c1);
        m->fc1_w = P2("fc1.weight", h, flat, flat), m->fc1_b = P1("fc1.bias", h, flat);
    } else {
        m->fc1_w = P2("fc1.weight", h, in, in), m->fc1_b = P1("fc1.bias", h, in);
        m->fc2_w = P2("fc2.weight", h, h, h), m->fc2_b = P1("fc2.bias", h, h);
    }
    m->out_w = P2("out.weight", cfg->classes, h, h), m->out_b = P1("out.bias", cfg->classes, h);
    if (genc_ctx_status(ctx)) genc_classifier_free(m);
    return genc_ctx_status(ctx);
}

void genc_classifier_free(genc_classifier *m) { genc_params_free_all(&m->params); }

genc_tensor *genc_classifier_forward(genc_ctx *ctx, genc_classifier *m, genc_tensor *x, genc_tensor **features) {
    const genc_classifier_config *c = &m->cfg;
    genc_tensor *h = genc_add_scalar(ctx, genc_scale(ctx, x, 2.0), -1.0); /* [0,1] -> [-1,1] */
    if (c->arch == GENC_CLS_CONVNET) {
        int64_t img[4] = {x ? x->shape[0] : 1, 1, c->rows, c->cols}, flat[2] = {img[0], -1};
        h = genc_reshape(ctx, h, 4, img);
        h = genc_maxpool2x2(ctx, genc_relu(ctx, genc_conv2d(ctx, h, m->conv1_w, m->conv1_b, 1, 2)));
        h = genc_maxpool2x2(ctx, genc_relu(ctx, genc_conv2d(ctx, h, m->conv2_w, m->conv2_b, 1, 2)));
        h = genc_relu(ctx, genc_linear(ctx, genc_reshape(ctx, h, 2, flat), m->fc1_w, m->fc1_b));
    } else {
        h = genc_relu(ctx, genc_linear(ctx, h, m->fc1_w, m->fc1_b));
        h = genc_relu(ctx, genc_linear(ctx, h, m->fc2_w, m->fc2_b));
    }
    if (features) *features = h;
    return genc_linear(ctx, genc_dropout(ctx, h, c->dropout), m->out_w, m->out_b);
}

/* FNV-1a, 64 bits, over bytes. */
static uint64_t fnv1a(uint64_t h, const void *p, size_t n) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 0x100000001b3ULL;
    return h;
}

uint64_t genc_classifier_hash(const genc_classifier *m) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (int p = 0; p < m->params.n; p++) {
        const genc_tensor *t = m->params.t[p];
        h = fnv1a(h, t->name, strlen(t->name) + 1);
        for (int d = 0; d < t->ndim; d++) {
            int64_t s = t->shape[d];
            h = fnv1a(h, &s, sizeof s);
        }
        int64_t n = genc_numel(t);
        for (int64_t i = 0; i < n; i++) { /* as float32 (the checkpoint's values), contiguous */
            float v = (float)t->data[i];
            h = fnv1a(h, &v, sizeof v);
        }
    }
    return h;
}
