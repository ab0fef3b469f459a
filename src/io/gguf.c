/* GGUF version 3 (llama.cpp's model container): a writer that collects key-values and
 * tensors (F32, F16, Q8_0) and saves atomically, and a reader that validates the whole file
 * before handing out keys and tensors (see include/genc/gguf.h). */
#include "genc/gguf.h"
#include "genc/safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


const char *genc_ggml_type_name(genc_ggml_type t) {
    return t == GENC_GGML_F32 ? "F32" : t == GENC_GGML_F16 ? "F16" : t == GENC_GGML_Q8_0 ? "Q8_0" : "?";
}

uint64_t genc_ggml_nbytes(genc_ggml_type t, uint64_t n) {
    if (t == GENC_GGML_F32) return 4 * n;
    if (t == GENC_GGML_F16) return 2 * n;
    return n / GENC_GGUF_Q8_BLOCK * (2 + GENC_GGUF_Q8_BLOCK);
}

/* ---- a growable byte buffer ---- */
typedef struct {
    uint8_t *p;
    size_t n, cap;
    bool oom;
} buf;

static void put(buf *b, const void *src, size_t n) {
    if (b->oom) return;
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->n + n) cap *= 2;
        uint8_t *p = realloc(b->p, cap);
        if (!p) {
            b->oom = true;
            return;
        }
        b->p = p, b->cap = cap;
    }
    memcpy(b->p + b->n, src, n);
    b->n += n;
}

static void put_u32(buf *b, uint32_t v) {
    uint8_t x[4];
    for (int i = 0; i < 4; i++) x[i] = (uint8_t)(v >> (8 * i));
    put(b, x, 4);
}

static void put_u64(buf *b, uint64_t v) {
    uint8_t x[8];
    for (int i = 0; i < 8; i++) x[i] = (uint8_t)(v >> (8 * i));
    put(b, x, 8);
}

static void put_str(buf *b, const char *s, size_t n) {
    put_u64(b, n);
    put(b, s, n);
}

/* ---- writer ---- */
typedef struct {
    char *name;
    genc_ggml_type type;
    int ndim;
    int64_t ne[GENC_GGUF_MAX_DIMS];
    uint8_t *data;
    uint64_t nbytes;
} wtensor;

struct genc_gguf_writer {
    genc_ctx *ctx;
    buf kv;          /* serialised key-values */
    uint64_t n_kv;
    char **keys;
    wtensor *t;
    int n_t, cap_t;
};

genc_gguf_writer *genc_gguf_writer_new(genc_ctx *ctx) {
    genc_gguf_writer *w = calloc(1, sizeof *w);
    if (!w) genc_error(ctx, GENC_ENOMEM, "gguf writer: out of memory");
    else w->ctx = ctx;
    return w;
}

void genc_gguf_writer_free(genc_gguf_writer *w) {
    if (!w) return;
    for (uint64_t i = 0; i < w->n_kv; i++) free(w->keys[i]);
    for (int i = 0; i < w->n_t; i++) free(w->t[i].name), free(w->t[i].data);
    free(w->keys), free(w->t), free(w->kv.p);
    free(w);
}

/* Starts a key-value: checks the key is new, writes it and the type. */
static genc_status kv_begin(genc_gguf_writer *w, const char *key, genc_gguf_type type) {
    if (!key || !*key) return genc_error(w->ctx, GENC_EINVAL, "gguf writer: empty key");
    for (uint64_t i = 0; i < w->n_kv; i++)
        if (!strcmp(w->keys[i], key)) return genc_error(w->ctx, GENC_EINVAL, "gguf writer: key %s set twice", key);
    char **k = realloc(w->keys, (w->n_kv + 1) * sizeof *k);
    if (!k) return genc_error(w->ctx, GENC_ENOMEM, "gguf writer: out of memory");
    w->keys = k;
    if (!(k[w->n_kv] = strdup(key))) return genc_error(w->ctx, GENC_ENOMEM, "gguf writer: out of memory");
    w->n_kv++;
    put_str(&w->kv, key, strlen(key));
    put_u32(&w->kv, (uint32_t)type);
    return w->kv.oom ? genc_error(w->ctx, GENC_ENOMEM, "gguf writer: out of memory") : GENC_OK;
}

static genc_status kv_end(genc_gguf_writer *w) {
    return w->kv.oom ? genc_error(w->ctx, GENC_ENOMEM, "gguf writer: out of memory") : GENC_OK;
}

genc_status genc_gguf_set_u32(genc_gguf_writer *w, const char *key, uint32_t v) {
    genc_status s = kv_begin(w, key, GENC_GGUF_U32);
    if (!s) put_u32(&w->kv, v), s = kv_end(w);
    return s;
}

genc_status genc_gguf_set_i32(genc_gguf_writer *w, const char *key, int32_t v) {
    genc_status s = kv_begin(w, key, GENC_GGUF_I32);
    if (!s) put_u32(&w->kv, (uint32_t)v), s = kv_end(w);
    return s;
}

genc_status genc_gguf_set_f32(genc_gguf_writer *w, const char *key, float v) {
    genc_status s = kv_begin(w, key, GENC_GGUF_F32);
    uint32_t u;
    memcpy(&u, &v, 4);
    if (!s) put_u32(&w->kv, u), s = kv_end(w);
    return s;
}

genc_status genc_gguf_set_bool(genc_gguf_writer *w, const char *key, bool v) {
    genc_status s = kv_begin(w, key, GENC_GGUF_BOOL);
    uint8_t b = v ? 1 : 0;
    if (!s) put(&w->kv, &b, 1), s = kv_end(w);
    return s;
}

genc_status genc_gguf_set_str(genc_gguf_writer *w, const char *key, const char *v) {
    genc_status s = kv_begin(w, key, GENC_GGUF_STRING);
    if (!s) put_str(&w->kv, v, strlen(v)), s = kv_end(w);
    return s;
}

genc_status genc_gguf_set_arr_str(genc_gguf_writer *w, const char *key, const char *const *strs, const size_t *lens,
                                  uint64_t n) {
    genc_status s = kv_begin(w, key, GENC_GGUF_ARRAY);
    if (s) return s;
    put_u32(&w->kv, GENC_GGUF_STRING);
    put_u64(&w->kv, n);
    for (uint64_t i = 0; i < n; i++) put_str(&w->kv, strs[i], lens ? lens[i] : strlen(strs[i]));
    return kv_end(w);
}

genc_status genc_gguf_set_arr_i32(genc_gguf_writer *w, const char *key, const int32_t *v, uint64_t n) {
    genc_status s = kv_begin(w, key, GENC_GGUF_ARRAY);
    if (s) return s;
    put_u32(&w->kv, GENC_GGUF_I32);
    put_u64(&w->kv, n);
    for (uint64_t i = 0; i < n; i++) put_u32(&w->kv, (uint32_t)v[i]);
    return kv_end(w);
}

genc_status genc_gguf_set_arr_f32(genc_gguf_writer *w, const char *key, const float *v, uint64_t n) {
    genc_status s = kv_begin(w, key, GENC_GGUF_ARRAY);
    if (s) return s;
    put_u32(&w->kv, GENC_GGUF_F32);
    put_u64(&w->kv, n);
    for (uint64_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &v[i], 4);
        put_u32(&w->kv, u);
    }
    return kv_end(w);
}

/* ggml's reference Q8_0: d = amax / 127 stored as F16, q = round(x / d) (half away from 0). */
static void quantize_q8_0(const float *x, uint64_t n, uint8_t *out) {
    for (uint64_t b = 0; b < n / GENC_GGUF_Q8_BLOCK; b++) {
        const float *v = x + b * GENC_GGUF_Q8_BLOCK;
        float amax = 0;
        for (int j = 0; j < GENC_GGUF_Q8_BLOCK; j++) amax = fabsf(v[j]) > amax ? fabsf(v[j]) : amax;
        float d = amax / 127.0f, id = d != 0 ? 1.0f / d : 0.0f;
        uint16_t h = genc_f16_from_f32(d);
        uint8_t *o = out + b * (2 + GENC_GGUF_Q8_BLOCK);
        o[0] = (uint8_t)h, o[1] = (uint8_t)(h >> 8);
        for (int j = 0; j < GENC_GGUF_Q8_BLOCK; j++) o[2 + j] = (uint8_t)(int8_t)roundf(v[j] * id);
    }
}

static void encode(genc_ggml_type type, const float *src, uint64_t n, uint8_t *out) {
    if (type == GENC_GGML_Q8_0) {
        quantize_q8_0(src, n, out);
        return;
    }
    for (uint64_t i = 0; i < n; i++) {
        if (type == GENC_GGML_F16) {
            uint16_t h = genc_f16_from_f32(src[i]);
            out[2 * i] = (uint8_t)h, out[2 * i + 1] = (uint8_t)(h >> 8);
        } else {
            uint32_t u;
            memcpy(&u, &src[i], 4);
            for (int k = 0; k < 4; k++) out[4 * i + (uint64_t)k] = (uint8_t)(u >> (8 * k));
        }
    }
}

genc_status genc_gguf_add_tensor(genc_gguf_writer *w, const char *name, genc_ggml_type type, int ndim,
                                 const int64_t *ne, const float *src) {
    if (!name || !*name || strlen(name) >= 64)
        return genc_error(w->ctx, GENC_EINVAL, "gguf writer: tensor name must have 1..63 bytes");
    if (ndim < 1 || ndim > GENC_GGUF_MAX_DIMS)
        return genc_error(w->ctx, GENC_EINVAL, "gguf writer: %s: expected 1..4 dims, found %d", name, ndim);
    if (type != GENC_GGML_F32 && type != GENC_GGML_F16 && type != GENC_GGML_Q8_0)
        return genc_error(w->ctx, GENC_EINVAL, "gguf writer: %s: unsupported type %d", name, (int)type);
    uint64_t n = 1;
    for (int d = 0; d < ndim; d++) {
        if (ne[d] < 1) return genc_error(w->ctx, GENC_EINVAL, "gguf writer: %s: dim %d is %lld", name, d, (long long)ne[d]);
        n *= (uint64_t)ne[d];
    }
    if (type == GENC_GGML_Q8_0 && ne[0] % GENC_GGUF_Q8_BLOCK)
        return genc_error(w->ctx, GENC_EINVAL, "gguf writer: %s: Q8_0 needs rows of a multiple of 32, found %lld", name,
                          (long long)ne[0]);
    for (int i = 0; i < w->n_t; i++)
        if (!strcmp(w->t[i].name, name)) return genc_error(w->ctx, GENC_EINVAL, "gguf writer: tensor %s added twice", name);
    if (w->n_t == w->cap_t) {
        int cap = w->cap_t ? 2 * w->cap_t : 64;
        wtensor *t = realloc(w->t, (size_t)cap * sizeof *t);
        if (!t) return genc_error(w->ctx, GENC_ENOMEM, "gguf writer: out of memory");
        w->t = t, w->cap_t = cap;
    }
    wtensor *t = &w->t[w->n_t];
    memset(t, 0, sizeof *t);
    t->nbytes = genc_ggml_nbytes(type, n);
    t->name = strdup(name);
    t->data = malloc(t->nbytes + 1);
    if (!t->name || !t->data) {
        free(t->name), free(t->data);
        return genc_error(w->ctx, GENC_ENOMEM, "gguf writer: out of memory for %s", name);
    }
    t->type = type, t->ndim = ndim;
    for (int d = 0; d < GENC_GGUF_MAX_DIMS; d++) t->ne[d] = d < ndim ? ne[d] : 1;
    encode(type, src, n, t->data);
    w->n_t++;
    return GENC_OK;
}

static uint64_t align_up(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

static bool write_all(int fd, const uint8_t *p, size_t n) {
    while (n > 0) {
        ssize_t k = write(fd, p, n);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return false;
        p += k, n -= (size_t)k;
    }
    return true;
}

/* The header (through the padding before the data) into h. */
static void build_header(const genc_gguf_writer *w, buf *h) {
    put(h, "GGUF", 4);
    put_u32(h, GENC_GGUF_VERSION);
    put_u64(h, (uint64_t)w->n_t);
    put_u64(h, w->n_kv);
    put(h, w->kv.p, w->kv.n);
    uint64_t off = 0;
    for (int i = 0; i < w->n_t; i++) {
        const wtensor *t = &w->t[i];
        put_str(h, t->name, strlen(t->name));
        put_u32(h, (uint32_t)t->ndim);
        for (int d = 0; d < t->ndim; d++) put_u64(h, (uint64_t)t->ne[d]);
        put_u32(h, (uint32_t)t->type);
        put_u64(h, off);
        off = align_up(off + t->nbytes, GENC_GGUF_ALIGN);
    }
    static const uint8_t zero[GENC_GGUF_ALIGN] = {0};
    put(h, zero, align_up(h->n, GENC_GGUF_ALIGN) - h->n);
}

static genc_status save_fd(genc_gguf_writer *w, int fd, const char *tmp) {
    buf h = {0};
    build_header(w, &h);
    if (h.oom) {
        free(h.p);
        return genc_error(w->ctx, GENC_ENOMEM, "gguf writer: out of memory");
    }
    static const uint8_t zero[GENC_GGUF_ALIGN] = {0};
    bool ok = write_all(fd, h.p, h.n);
    for (int i = 0; ok && i < w->n_t; i++) {
        const wtensor *t = &w->t[i];
        ok = write_all(fd, t->data, t->nbytes) &&
             write_all(fd, zero, align_up(t->nbytes, GENC_GGUF_ALIGN) - t->nbytes);
    }
    free(h.p);
    if (!ok || fsync(fd) != 0) return genc_error(w->ctx, GENC_EIO, "%s: cannot write: %s", tmp, strerror(errno));
    return GENC_OK;
}

/* fsync the directory holding path, so the rename survives a crash (EINVAL: unsupported). */
static int sync_parent(const char *path) {
    char dir[4200];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash) strcpy(dir, ".");
    else if (slash == dir) dir[1] = 0;
    else *slash = 0;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return -1;
    int rc = fsync(fd);
    if (rc && errno == EINVAL) rc = 0;
    close(fd);
    return rc;
}

genc_status genc_gguf_writer_save(genc_gguf_writer *w, const char *path) {
    char tmp[4200];
    int fd;
    if (strlen(path) > 4000) return genc_error(w->ctx, GENC_EINVAL, "gguf writer: path too long");
    genc_status s = genc_file_create_tmp(w->ctx, path, tmp, sizeof tmp, &fd);
    if (s) return s;
    s = save_fd(w, fd, tmp);
    if (close(fd) != 0 && !s) s = genc_error(w->ctx, GENC_EIO, "%s: cannot close: %s", tmp, strerror(errno));
    if (!s && rename(tmp, path) != 0) s = genc_error(w->ctx, GENC_EIO, "%s: cannot rename %s over it: %s", path, tmp,
                                                     strerror(errno));
    if (s) unlink(tmp);
    if (!s && sync_parent(path) != 0)
        s = genc_error(w->ctx, GENC_EIO, "%s: saved, but syncing its directory failed: %s", path, strerror(errno));
    return s;
}
