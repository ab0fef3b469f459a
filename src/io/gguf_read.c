/* The GGUF reader: reads a whole file (or buffer), walks the header with a bounds-checked
 * cursor and validates every key-value and tensor info before anything is handed out (see
 * include/genc/gguf.h for the checks). Values stay in the buffer; keys and names are
 * copied with a terminating NUL. */
#include "genc/gguf.h"
#include "genc/safetensors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FILE ((int64_t)1 << 40)
#define MAX_NAME 65536

typedef struct {
    genc_gguf_kv pub;
    uint64_t off;       /* value (scalars, strings) or first element (arrays) in the buffer */
    uint64_t *elem;     /* string arrays: offset of each element's length prefix */
} kv_rec;

struct genc_gguf {
    uint8_t *buf;
    size_t len;
    char *label;
    uint32_t version;
    kv_rec *kv;
    int n_kv;
    genc_gguf_tensor *t;
    int n_t;
    uint64_t data_off;
};

typedef struct {
    genc_ctx *ctx;
    const genc_gguf *g;
    uint64_t pos;
} cursor;

static genc_status bad(cursor *c, const char *what) {
    return genc_error(c->ctx, GENC_EFORMAT, "%s: not a valid GGUF file: %s (at byte %llu of %zu)", c->g->label, what,
                      (unsigned long long)c->pos, c->g->len);
}

static bool need(const cursor *c, uint64_t n) { return n <= c->g->len - c->pos; }

static uint64_t rd(const uint8_t *p, int n) {
    uint64_t v = 0;
    for (int i = 0; i < n; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static genc_status get(cursor *c, int n, uint64_t *v, const char *what) {
    if (!need(c, (uint64_t)n)) return bad(c, what);
    *v = rd(c->g->buf + c->pos, n);
    c->pos += (uint64_t)n;
    return GENC_OK;
}

/* A string: its offset (of the bytes) and length; the cursor moves past it. */
static genc_status get_str(cursor *c, uint64_t *off, uint64_t *len, const char *what) {
    genc_status s = get(c, 8, len, what);
    if (s) return s;
    if (!need(c, *len)) return bad(c, what);
    *off = c->pos;
    c->pos += *len;
    return GENC_OK;
}

static int scalar_size(uint32_t t) {
    switch (t) {
    case GENC_GGUF_U8: case GENC_GGUF_I8: case GENC_GGUF_BOOL: return 1;
    case GENC_GGUF_U16: case GENC_GGUF_I16: return 2;
    case GENC_GGUF_U32: case GENC_GGUF_I32: case GENC_GGUF_F32: return 4;
    case GENC_GGUF_U64: case GENC_GGUF_I64: case GENC_GGUF_F64: return 8;
    default: return 0;
    }
}

static char *copy_name(cursor *c, uint64_t off, uint64_t len, const char *what) {
    if (len == 0 || len > MAX_NAME || memchr(c->g->buf + off, 0, len)) {
        bad(c, what);
        return NULL;
    }
    char *s = malloc(len + 1);
    if (!s) {
        genc_error(c->ctx, GENC_ENOMEM, "%s: out of memory", c->g->label);
        return NULL;
    }
    memcpy(s, c->g->buf + off, len);
    s[len] = 0;
    return s;
}

static genc_status read_value(cursor *c, kv_rec *r) {
    char what[160];
    snprintf(what, sizeof what, "key %.100s: value runs past the end of the file", r->pub.key);
    uint64_t t = 0, n = 1;
    if (r->pub.type == GENC_GGUF_STRING) {
        uint64_t off = 0, len = 0;
        genc_status s = get_str(c, &off, &len, what);
        r->off = off - 8;
        return s;
    }
    if (r->pub.type != GENC_GGUF_ARRAY) {
        if (!scalar_size(r->pub.type)) return bad(c, "unknown value type");
        r->off = c->pos;
        if (!need(c, (uint64_t)scalar_size(r->pub.type))) return bad(c, what);
        c->pos += (uint64_t)scalar_size(r->pub.type);
        return GENC_OK;
    }
    genc_status s = get(c, 4, &t, what);
    if (!s) s = get(c, 8, &n, what);
    if (s) return s;
    r->pub.arr_type = (genc_gguf_type)t, r->pub.n = n, r->off = c->pos;
    if (t == GENC_GGUF_ARRAY) return bad(c, "nested arrays are not supported");
    if (t != GENC_GGUF_STRING) {
        if (!scalar_size((uint32_t)t)) return bad(c, "unknown array element type");
        if (n > (c->g->len - c->pos) / (uint64_t)scalar_size((uint32_t)t)) return bad(c, what);
        c->pos += n * (uint64_t)scalar_size((uint32_t)t);
        return GENC_OK;
    }
    if (n > (c->g->len - c->pos) / 8) return bad(c, what);
    r->elem = malloc((size_t)n * sizeof *r->elem + 1);
    if (!r->elem) return genc_error(c->ctx, GENC_ENOMEM, "%s: out of memory", c->g->label);
    for (uint64_t i = 0; i < n; i++) {
        uint64_t off = 0, len = 0;
        r->elem[i] = c->pos;
        if ((s = get_str(c, &off, &len, what))) return s;
    }
    return GENC_OK;
}

static genc_status read_kvs(cursor *c, genc_gguf *g, uint64_t n_kv) {
    g->kv = calloc((size_t)n_kv + 1, sizeof *g->kv);
    if (!g->kv) return genc_error(c->ctx, GENC_ENOMEM, "%s: out of memory", g->label);
    for (uint64_t i = 0; i < n_kv; i++) {
        uint64_t off = 0, len = 0, type = 0;
        genc_status s = get_str(c, &off, &len, "key runs past the end of the file");
        if (s) return s;
        kv_rec *r = &g->kv[g->n_kv];
        if (!(r->pub.key = copy_name(c, off, len, "empty, over-long or NUL-holding key"))) return genc_ctx_status(c->ctx);
        g->n_kv++;
        for (int k = 0; k + 1 < g->n_kv; k++)
            if (!strcmp(g->kv[k].pub.key, r->pub.key)) return bad(c, "duplicate key");
        if ((s = get(c, 4, &type, "value type runs past the end of the file"))) return s;
        r->pub.type = (genc_gguf_type)type, r->pub.n = 1;
        if ((s = read_value(c, r))) return s;
    }
    return GENC_OK;
}

static genc_status read_tensor_info(cursor *c, genc_gguf_tensor *t) {
    uint64_t off = 0, len = 0, nd = 0, type = 0, v;
    genc_status s = get_str(c, &off, &len, "tensor name runs past the end of the file");
    if (s) return s;
    if (!(t->name = copy_name(c, off, len, "empty, over-long or NUL-holding tensor name"))) return genc_ctx_status(c->ctx);
    if ((s = get(c, 4, &nd, "tensor dims run past the end of the file"))) return s;
    if (nd < 1 || nd > GENC_GGUF_MAX_DIMS) return bad(c, "tensor with a number of dims outside 1..4");
    t->ndim = (int)nd;
    uint64_t numel = 1;
    for (int d = 0; d < GENC_GGUF_MAX_DIMS; d++) {
        v = 1;
        if (d < t->ndim && (s = get(c, 8, &v, "tensor shape runs past the end of the file"))) return s;
        if (v < 1 || v > (uint64_t)MAX_FILE || numel > (uint64_t)MAX_FILE / v) return bad(c, "tensor dim out of range");
        t->ne[d] = (int64_t)v, numel *= v;
    }
    if ((s = get(c, 4, &type, "tensor type runs past the end of the file"))) return s;
    if (type != GENC_GGML_F32 && type != GENC_GGML_F16 && type != GENC_GGML_Q8_0)
        return bad(c, "tensor type other than F32, F16 or Q8_0");
    t->type = (genc_ggml_type)type;
    if (t->type == GENC_GGML_Q8_0 && t->ne[0] % GENC_GGUF_Q8_BLOCK) return bad(c, "Q8_0 tensor rows not a multiple of 32");
    t->nbytes = genc_ggml_nbytes(t->type, numel);
    return get(c, 8, &t->offset, "tensor offset runs past the end of the file");
}

static int by_offset(const void *a, const void *b) {
    const genc_gguf_tensor *x = *(genc_gguf_tensor *const *)a, *y = *(genc_gguf_tensor *const *)b;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* Alignment, data start, every tensor inside the data, aligned, no overlaps. */
static genc_status check_layout(cursor *c, genc_gguf *g) {
    int64_t align = GENC_GGUF_ALIGN;
    const genc_gguf_kv *a = genc_gguf_find_kv(g, "general.alignment");
    if (a && (a->type != GENC_GGUF_U32 || !genc_gguf_get_int(g, "general.alignment", &align) || align < 1 ||
              (align & (align - 1)) || align > 65536))
        return bad(c, "general.alignment is not a u32 power of two up to 65536");
    g->data_off = (c->pos + (uint64_t)align - 1) / (uint64_t)align * (uint64_t)align;
    if (g->data_off > g->len) return bad(c, "the data section starts past the end of the file");
    uint64_t data_len = g->len - g->data_off;
    genc_gguf_tensor **order = malloc((size_t)g->n_t * sizeof *order + 1);
    if (!order) return genc_error(c->ctx, GENC_ENOMEM, "%s: out of memory", g->label);
    genc_status s = GENC_OK;
    for (int i = 0; i < g->n_t; i++) order[i] = &g->t[i];
    qsort(order, (size_t)g->n_t, sizeof *order, by_offset);
    for (int i = 0; i < g->n_t && !s; i++) {
        const genc_gguf_tensor *t = order[i];
        char what[160];
        snprintf(what, sizeof what, "tensor %.64s: offset %llu not aligned, past the data (%llu bytes) or overlapping",
                 t->name, (unsigned long long)t->offset, (unsigned long long)data_len);
        if (t->offset % (uint64_t)align || t->offset > data_len || t->nbytes > data_len - t->offset ||
            (i > 0 && order[i - 1]->offset + order[i - 1]->nbytes > t->offset))
            s = bad(c, what);
    }
    free(order);
    return s;
}

static genc_status parse(genc_ctx *ctx, genc_gguf *g) {
    cursor c = {ctx, g, 0};
    uint64_t magic = 0, version = 0, n_t = 0, n_kv = 0;
    genc_status s = get(&c, 4, &magic, "shorter than the 24-byte header");
    if (s) return s;
    if (memcmp(g->buf, "GGUF", 4)) return bad(&c, "the magic is not \"GGUF\"");
    if ((s = get(&c, 4, &version, "shorter than the 24-byte header"))) return s;
    if (version < 2 || version > 3) {
        return genc_error(ctx, GENC_EFORMAT, "%s: GGUF version %llu, genc reads versions 2 and 3", g->label,
                          (unsigned long long)version);
    }
    g->version = (uint32_t)version;
    if ((s = get(&c, 8, &n_t, "shorter than the 24-byte header")) || (s = get(&c, 8, &n_kv, "shorter than the header")))
        return s;
    if (n_kv > (g->len - c.pos) / 12) return bad(&c, "more key-values than the file could hold");
    if (n_t > (g->len - c.pos) / 24) return bad(&c, "more tensors than the file could hold");
    if ((s = read_kvs(&c, g, n_kv))) return s;
    g->t = calloc((size_t)n_t + 1, sizeof *g->t);
    if (!g->t) return genc_error(ctx, GENC_ENOMEM, "%s: out of memory", g->label);
    for (uint64_t i = 0; i < n_t; i++) {
        if ((s = read_tensor_info(&c, &g->t[g->n_t]))) {
            if (g->t[g->n_t].name) g->n_t++;
            return s;
        }
        g->n_t++;
        for (int k = 0; k + 1 < g->n_t; k++)
            if (!strcmp(g->t[k].name, g->t[g->n_t - 1].name)) return bad(&c, "duplicate tensor name");
    }
    return check_layout(&c, g);
}

/* Parse buffer b of len bytes, which the result owns (freed on failure too). */
static genc_status open_owned(genc_ctx *ctx, uint8_t *b, size_t len, const char *label, genc_gguf **out) {
    *out = NULL;
    genc_gguf *g = calloc(1, sizeof *g);
    if (!g || !(g->label = strdup(label ? label : "(memory)"))) {
        free(b);
        genc_gguf_close(g);
        return genc_error(ctx, GENC_ENOMEM, "%s: out of memory", label ? label : "gguf");
    }
    g->buf = b, g->len = len;
    genc_status s = parse(ctx, g);
    if (s) genc_gguf_close(g);
    else *out = g;
    return s;
}

genc_status genc_gguf_open_memory(genc_ctx *ctx, const void *data, size_t len, const char *label, genc_gguf **out) {
    uint8_t *b = malloc(len + 1);
    if (!b) return genc_error(ctx, GENC_ENOMEM, "%s: out of memory", label ? label : "gguf");
    if (len) memcpy(b, data, len);
    return open_owned(ctx, b, len, label, out);
}

genc_status genc_gguf_open(genc_ctx *ctx, const char *path, genc_gguf **out) {
    *out = NULL;
    uint8_t *b;
    size_t n;
    genc_status s = genc_file_read_all(ctx, path, MAX_FILE, &b, &n);
    return s ? s : open_owned(ctx, b, n, path, out);
}

void genc_gguf_close(genc_gguf *g) {
    if (!g) return;
    for (int i = 0; i < g->n_kv; i++) free((char *)g->kv[i].pub.key), free(g->kv[i].elem);
    for (int i = 0; i < g->n_t; i++) free((char *)g->t[i].name);
    free(g->kv), free(g->t), free(g->buf), free(g->label);
    free(g);
}

/* ---- accessors ---- */
uint32_t genc_gguf_version(const genc_gguf *g) { return g->version; }
uint64_t genc_gguf_data_offset(const genc_gguf *g) { return g->data_off; }
const char *genc_gguf_label(const genc_gguf *g) { return g->label; }
int genc_gguf_kv_count(const genc_gguf *g) { return g->n_kv; }
int genc_gguf_tensor_count(const genc_gguf *g) { return g->n_t; }

const genc_gguf_kv *genc_gguf_kv_at(const genc_gguf *g, int i) {
    return i >= 0 && i < g->n_kv ? &g->kv[i].pub : NULL;
}

static const kv_rec *find(const genc_gguf *g, const char *key) {
    for (int i = 0; i < g->n_kv; i++)
        if (!strcmp(g->kv[i].pub.key, key)) return &g->kv[i];
    return NULL;
}

const genc_gguf_kv *genc_gguf_find_kv(const genc_gguf *g, const char *key) {
    const kv_rec *r = find(g, key);
    return r ? &r->pub : NULL;
}

/* A number of type t at p as double; false for non-numbers. */
static bool num_at(const uint8_t *p, uint32_t t, double *v) {
    uint64_t u = rd(p, scalar_size(t) ? scalar_size(t) : 1);
    switch (t) {
    case GENC_GGUF_U8: case GENC_GGUF_U16: case GENC_GGUF_U32: case GENC_GGUF_BOOL: *v = (double)u; return true;
    case GENC_GGUF_U64: *v = (double)u; return true;
    case GENC_GGUF_I8: *v = (int8_t)u; return true;
    case GENC_GGUF_I16: *v = (int16_t)u; return true;
    case GENC_GGUF_I32: *v = (int32_t)u; return true;
    case GENC_GGUF_I64: *v = (double)(int64_t)u; return true;
    case GENC_GGUF_F32: { uint32_t w = (uint32_t)u; float f; memcpy(&f, &w, 4); *v = f; return true; }
    case GENC_GGUF_F64: memcpy(v, &u, 8); return true;
    default: return false;
    }
}

bool genc_gguf_get_int(const genc_gguf *g, const char *key, int64_t *v) {
    const kv_rec *r = find(g, key);
    if (!r || r->pub.type == GENC_GGUF_F32 || r->pub.type == GENC_GGUF_F64 || r->pub.type == GENC_GGUF_BOOL) return false;
    if (r->pub.type == GENC_GGUF_I64 || r->pub.type == GENC_GGUF_U64) {
        uint64_t u = rd(g->buf + r->off, 8);
        if (r->pub.type == GENC_GGUF_U64 && u > (uint64_t)INT64_MAX) return false;
        *v = (int64_t)u;
        return true;
    }
    double d;
    if (!num_at(g->buf + r->off, r->pub.type, &d)) return false;
    *v = (int64_t)d;
    return true;
}

bool genc_gguf_get_f32(const genc_gguf *g, const char *key, float *v) {
    const kv_rec *r = find(g, key);
    double d;
    if (!r || (r->pub.type != GENC_GGUF_F32 && r->pub.type != GENC_GGUF_F64) || !num_at(g->buf + r->off, r->pub.type, &d))
        return false;
    *v = (float)d;
    return true;
}

bool genc_gguf_get_bool(const genc_gguf *g, const char *key, bool *v) {
    const kv_rec *r = find(g, key);
    if (!r || r->pub.type != GENC_GGUF_BOOL) return false;
    *v = g->buf[r->off] != 0;
    return true;
}

const char *genc_gguf_get_str(const genc_gguf *g, const char *key, size_t *len) {
    const kv_rec *r = find(g, key);
    if (!r || r->pub.type != GENC_GGUF_STRING) return NULL;
    *len = (size_t)rd(g->buf + r->off, 8);
    return (const char *)g->buf + r->off + 8;
}

const char *genc_gguf_arr_str(const genc_gguf *g, const genc_gguf_kv *kv, uint64_t i, size_t *len) {
    const kv_rec *r = (const kv_rec *)kv; /* pub is the first member */
    if (!r || r->pub.type != GENC_GGUF_ARRAY || r->pub.arr_type != GENC_GGUF_STRING || i >= r->pub.n) return NULL;
    *len = (size_t)rd(g->buf + r->elem[i], 8);
    return (const char *)g->buf + r->elem[i] + 8;
}

bool genc_gguf_arr_num(const genc_gguf *g, const genc_gguf_kv *kv, uint64_t i, double *v) {
    const kv_rec *r = (const kv_rec *)kv;
    if (!r || r->pub.type != GENC_GGUF_ARRAY || i >= r->pub.n || !scalar_size(r->pub.arr_type)) return false;
    return num_at(g->buf + r->off + i * (uint64_t)scalar_size(r->pub.arr_type), r->pub.arr_type, v);
}

const genc_gguf_tensor *genc_gguf_tensor_at(const genc_gguf *g, int i) {
    return i >= 0 && i < g->n_t ? &g->t[i] : NULL;
}

const genc_gguf_tensor *genc_gguf_find_tensor(const genc_gguf *g, const char *name) {
    for (int i = 0; i < g->n_t; i++)
        if (!strcmp(g->t[i].name, name)) return &g->t[i];
    return NULL;
}

const void *genc_gguf_tensor_data(const genc_gguf *g, const genc_gguf_tensor *t) {
    return g->buf + g->data_off + t->offset;
}

void genc_gguf_tensor_read_f32(const genc_gguf *g, const genc_gguf_tensor *t, float *dst) {
    const uint8_t *p = genc_gguf_tensor_data(g, t);
    uint64_t n = (uint64_t)t->ne[0] * (uint64_t)t->ne[1] * (uint64_t)t->ne[2] * (uint64_t)t->ne[3];
    for (uint64_t i = 0; i < n; i++) {
        if (t->type == GENC_GGML_F32) {
            uint32_t u = (uint32_t)rd(p + 4 * i, 4);
            memcpy(&dst[i], &u, 4);
        } else if (t->type == GENC_GGML_F16) {
            dst[i] = genc_f32_from_f16((uint16_t)rd(p + 2 * i, 2));
        } else {
            const uint8_t *b = p + i / GENC_GGUF_Q8_BLOCK * (2 + GENC_GGUF_Q8_BLOCK);
            dst[i] = genc_f32_from_f16((uint16_t)rd(b, 2)) * (float)(int8_t)b[2 + i % GENC_GGUF_Q8_BLOCK];
        }
    }
}
