/* genc safetensors reader and writer. The reader opens only regular files (never blocking on
 * a FIFO), reads and validates the header completely before it allocates or reads the tensor
 * data (only up to the last tensor's end), and converts tensors to
 * float/double on request; the writer buffers tensors and saves them atomically
 * (temporary file, fsync, rename, directory fsync). JSON is handled by jansson. */
#include "genc/safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DATA_ALIGN 64
#define NAME_SHOW 64 /* bytes of a tensor name quoted in messages */

struct genc_st {
    char *label;
    unsigned char *mem;        /* the allocation; the file copy lies inside it */
    const unsigned char *data; /* data section, DATA_ALIGN-aligned */
    uint64_t data_len;
    json_t *root;              /* owns the name and metadata strings */
    int n, n_meta;
    genc_st_entry *entries;    /* header order */
    const genc_st_entry **by_name;
    const char **meta_keys, **meta_vals;
};

/* ---- little-endian loads and stores ---- */

static uint64_t ld_le(const unsigned char *p, int bytes) {
    uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

static void st_le(unsigned char *p, uint64_t v, int bytes) {
    for (int i = 0; i < bytes; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static float ld_f32(const unsigned char *p) {
    uint32_t u = (uint32_t)ld_le(p, 4);
    float x;
    memcpy(&x, &u, 4);
    return x;
}

static double ld_f64(const unsigned char *p) {
    uint64_t u = ld_le(p, 8);
    double x;
    memcpy(&x, &u, 8);
    return x;
}

/* ---- message helpers: everything quoted from a file is made printable and short ---- */

static void show_text(char *out, size_t cap, const char *s) {
    size_t n = 0, limit = cap - 4; /* room for "..." and the terminator */
    for (; *s && n < limit; s++)
        out[n++] = ((unsigned char)*s < 0x20 || *s == 0x7f) ? '?' : *s;
    if (*s) {
        while (n > 0 && ((unsigned char)out[n - 1] & 0xc0) == 0x80) n--; /* whole chars */
        if (n > 0 && (unsigned char)out[n - 1] >= 0xc0) n--;
        memcpy(out + n, "...", 3);
        n += 3;
    }
    out[n] = 0;
}

static void show_shape(char *out, size_t cap, int ndim, const int64_t *shape) {
    size_t n = 0;
    out[0] = 0;
    for (int i = 0; i < ndim && n < cap; i++)
        n += (size_t)snprintf(out + n, cap - n, "%s%lld", i ? ", " : "", (long long)shape[i]);
}

static genc_status fail_tensor(genc_ctx *ctx, const char *label, const char *name,
                               const char *what) {
    char nm[NAME_SHOW + 4];
    show_text(nm, sizeof nm, name);
    return genc_error(ctx, GENC_EFORMAT, "%s: tensor \"%s\": %s", label, nm, what);
}

/* ---- reader: header entries ---- */

static genc_status parse_dtype(genc_ctx *ctx, const char *label, const char *name,
                               json_t *v, genc_dtype *dt) {
    char what[160], shown[40];
    if (!json_is_string(v))
        return fail_tensor(ctx, label, name, "\"dtype\" must be a string");
    if (genc_dtype_parse(json_string_value(v), dt)) return GENC_OK;
    show_text(shown, sizeof shown, json_string_value(v));
    snprintf(what, sizeof what, "unsupported dtype \"%s\" (expected F32, F16, BF16, F8_E4M3, "
             "F64, I64, I32 or U8)", shown);
    return fail_tensor(ctx, label, name, what);
}

/* Shape into e->ndim/e->shape; *bytes = numel * dtype size, overflow checked. */
static genc_status parse_shape(genc_ctx *ctx, const char *label, const char *name, json_t *v,
                               genc_st_entry *e, uint64_t *bytes) {
    char what[160];
    if (!json_is_array(v)) return fail_tensor(ctx, label, name, "\"shape\" must be an array");
    size_t nd = json_array_size(v);
    if (nd > GENC_ST_MAX_DIMS) {
        snprintf(what, sizeof what, "shape has %zu dims, at most %d supported", nd,
                 GENC_ST_MAX_DIMS);
        return fail_tensor(ctx, label, name, what);
    }
    uint64_t numel = 1;
    bool empty = false;
    for (size_t i = 0; i < nd; i++) {
        json_t *d = json_array_get(v, i);
        if (!json_is_integer(d) || json_integer_value(d) < 0) {
            snprintf(what, sizeof what, "shape[%zu] must be a non-negative integer", i);
            return fail_tensor(ctx, label, name, what);
        }
        e->shape[i] = (int64_t)json_integer_value(d);
        if (e->shape[i] == 0) empty = true;
        else if (!empty && numel > (uint64_t)INT64_MAX / (uint64_t)e->shape[i])
            return fail_tensor(ctx, label, name, "shape's element count overflows 64 bits");
        else if (!empty) numel *= (uint64_t)e->shape[i];
    }
    e->ndim = (int)nd;
    *bytes = empty ? 0 : numel * genc_dtype_size(e->dtype); /* numel < 2^63, size <= 8 */
    if (!empty && *bytes / genc_dtype_size(e->dtype) != numel)
        return fail_tensor(ctx, label, name, "shape's byte count overflows 64 bits");
    return GENC_OK;
}

static genc_status parse_offsets(genc_ctx *ctx, const genc_st *st, const char *name,
                                 json_t *v, genc_st_entry *e, uint64_t bytes) {
    char what[400], shp[200];
    json_t *b = json_array_get(v, 0), *en = json_array_get(v, 1);
    if (!json_is_array(v) || json_array_size(v) != 2 || !json_is_integer(b) ||
        !json_is_integer(en) || json_integer_value(b) < 0 || json_integer_value(en) < 0)
        return fail_tensor(ctx, st->label, name,
                           "\"data_offsets\" must be [begin, end], two non-negative integers");
    e->begin = (uint64_t)json_integer_value(b);
    e->end = (uint64_t)json_integer_value(en);
    if (e->begin > e->end || e->end > st->data_len) {
        snprintf(what, sizeof what, "data_offsets [%llu, %llu] %s %llu bytes of data",
                 (unsigned long long)e->begin, (unsigned long long)e->end,
                 e->begin > e->end ? "are reversed; the file has" : "reach past the",
                 (unsigned long long)st->data_len);
        return fail_tensor(ctx, st->label, name, what);
    }
    if (e->end - e->begin != bytes) {
        show_shape(shp, sizeof shp, e->ndim, e->shape);
        snprintf(what, sizeof what, "data_offsets [%llu, %llu] give %llu bytes but %s [%s] "
                 "needs %llu", (unsigned long long)e->begin, (unsigned long long)e->end,
                 (unsigned long long)(e->end - e->begin), genc_dtype_name(e->dtype), shp,
                 (unsigned long long)bytes);
        return fail_tensor(ctx, st->label, name, what);
    }
    return GENC_OK;
}

static genc_status parse_entry(genc_ctx *ctx, const genc_st *st, const char *name, json_t *v,
                               genc_st_entry *e) {
    char what[160], shown[40];
    if (!json_is_object(v)) return fail_tensor(ctx, st->label, name, "entry must be an object");
    const char *key;
    json_t *x;
    json_object_foreach(v, key, x) {
        if (strcmp(key, "dtype") && strcmp(key, "shape") && strcmp(key, "data_offsets")) {
            show_text(shown, sizeof shown, key);
            snprintf(what, sizeof what, "unknown key \"%s\" (expected dtype, shape, "
                     "data_offsets)", shown);
            return fail_tensor(ctx, st->label, name, what);
        }
    }
    static const char *const need[] = {"dtype", "shape", "data_offsets"};
    for (int i = 0; i < 3; i++)
        if (!json_object_get(v, need[i])) {
            snprintf(what, sizeof what, "missing \"%s\"", need[i]);
            return fail_tensor(ctx, st->label, name, what);
        }
    e->name = name;
    uint64_t bytes = 0;
    genc_status s = parse_dtype(ctx, st->label, name, json_object_get(v, "dtype"), &e->dtype);
    if (!s) s = parse_shape(ctx, st->label, name, json_object_get(v, "shape"), e, &bytes);
    if (!s) s = parse_offsets(ctx, st, name, json_object_get(v, "data_offsets"), e, bytes);
    return s;
}

static genc_status parse_meta(genc_ctx *ctx, genc_st *st, json_t *m) {
    if (!json_is_object(m))
        return genc_error(ctx, GENC_EFORMAT, "%s: \"__metadata__\" must be an object of "
                          "strings, found a %s", st->label, json_is_array(m) ? "array" :
                          json_is_string(m) ? "string" : "number, boolean or null");
    size_t n = json_object_size(m);
    st->meta_keys = calloc(n + 1, sizeof *st->meta_keys);
    st->meta_vals = calloc(n + 1, sizeof *st->meta_vals);
    if (!st->meta_keys || !st->meta_vals)
        return genc_error(ctx, GENC_ENOMEM, "%s: out of memory for metadata", st->label);
    const char *key;
    json_t *v;
    json_object_foreach(m, key, v) {
        if (!json_is_string(v)) {
            char shown[NAME_SHOW + 4];
            show_text(shown, sizeof shown, key);
            return genc_error(ctx, GENC_EFORMAT, "%s: metadata \"%s\" must be a string "
                              "(safetensors metadata holds strings only)", st->label, shown);
        }
        st->meta_keys[st->n_meta] = key;
        st->meta_vals[st->n_meta++] = json_string_value(v);
    }
    return GENC_OK;
}

/* ---- reader: whole-file checks ---- */

typedef const genc_st_entry *entry_ptr;

static int cmp_begin(const void *a, const void *b) {
    const genc_st_entry *x = *(const entry_ptr *)a, *y = *(const entry_ptr *)b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

static int cmp_name(const void *a, const void *b) {
    return strcmp((*(const entry_ptr *)a)->name, (*(const entry_ptr *)b)->name);
}

/* Sort by offset and check that no two non-empty tensors share a byte; leaves by_name
 * sorted by name for genc_st_find. */
static genc_status check_overlaps(genc_ctx *ctx, genc_st *st) {
    const genc_st_entry **o = st->by_name, *prev = NULL;
    for (int i = 0; i < st->n; i++) o[i] = &st->entries[i];
    qsort(o, (size_t)st->n, sizeof *o, cmp_begin);
    for (int i = 0; i < st->n; i++) {
        if (o[i]->begin == o[i]->end) continue;
        if (prev && o[i]->begin < prev->end) {
            char a[NAME_SHOW + 4], b[NAME_SHOW + 4];
            show_text(a, sizeof a, prev->name);
            show_text(b, sizeof b, o[i]->name);
            return genc_error(ctx, GENC_EFORMAT, "%s: tensors \"%s\" [%llu, %llu] and \"%s\" "
                              "[%llu, %llu] overlap in the data section", st->label, a,
                              (unsigned long long)prev->begin, (unsigned long long)prev->end,
                              b, (unsigned long long)o[i]->begin, (unsigned long long)o[i]->end);
        }
        prev = o[i];
    }
    qsort(o, (size_t)st->n, sizeof *o, cmp_name);
    return GENC_OK;
}

static genc_status parse_json(genc_ctx *ctx, genc_st *st, const unsigned char *hdr, size_t n) {
    json_error_t err;
    st->root = json_loadb((const char *)hdr, n, JSON_REJECT_DUPLICATES, &err);
    if (!st->root) {
        char shown[sizeof err.text + 4];
        show_text(shown, sizeof shown, err.text);
        return genc_error(ctx, GENC_EFORMAT, "%s: header (%zu bytes) is not valid UTF-8 JSON: "
                          "%s at header byte %d", st->label, n, shown, err.position);
    }
    if (!json_is_object(st->root))
        return genc_error(ctx, GENC_EFORMAT, "%s: header must be a JSON object", st->label);
    return GENC_OK;
}

static genc_status parse_header(genc_ctx *ctx, genc_st *st, const unsigned char *hdr, size_t n) {
    genc_status s = parse_json(ctx, st, hdr, n);
    if (s) return s;
    size_t count = json_object_size(st->root);
    if (count > (size_t)INT32_MAX / 2)
        return genc_error(ctx, GENC_EFORMAT, "%s: too many tensors (%zu)", st->label, count);
    st->entries = calloc(count + 1, sizeof *st->entries);
    st->by_name = calloc(count + 1, sizeof *st->by_name);
    if (!st->entries || !st->by_name)
        return genc_error(ctx, GENC_ENOMEM, "%s: out of memory for %zu entries", st->label, count);
    const char *key;
    json_t *v;
    json_object_foreach(st->root, key, v) {
        if (strcmp(key, "__metadata__") == 0) s = parse_meta(ctx, st, v);
        else s = parse_entry(ctx, st, key, v, &st->entries[st->n++]);
        if (s) return s;
    }
    return check_overlaps(ctx, st);
}

/* Check the 8-byte length prefix against the total size; *hlen gets the header length. */
static genc_status check_prefix(genc_ctx *ctx, const char *label, const unsigned char *p8,
                                uint64_t total, uint64_t *hlen) {
    if (total < 8)
        return genc_error(ctx, GENC_EFORMAT, "%s: %llu bytes, too short for a safetensors "
                          "file (expected an 8-byte header length first)", label,
                          (unsigned long long)total);
    uint64_t n = ld_le(p8, 8);
    if (n > GENC_ST_MAX_HEADER)
        return genc_error(ctx, GENC_EFORMAT, "%s: header length %llu exceeds the limit of %llu "
                          "bytes (not a safetensors file?)", label, (unsigned long long)n,
                          (unsigned long long)GENC_ST_MAX_HEADER);
    if (n > total - 8)
        return genc_error(ctx, GENC_EFORMAT, "%s: header length %llu but only %llu bytes follow "
                          "the length field (truncated file?)", label, (unsigned long long)n,
                          (unsigned long long)(total - 8));
    *hlen = n;
    return GENC_OK;
}

/* An empty genc_st labelled `label` whose data section will be `data_len` bytes. */
static genc_st *st_new(genc_ctx *ctx, const char *label, uint64_t data_len) {
    genc_st *st = calloc(1, sizeof *st);
    size_t lab = strlen(label);
    if (st) st->label = malloc(lab + 1);
    if (!st || !st->label) {
        genc_st_close(st);
        genc_error(ctx, GENC_ENOMEM, "%s: out of memory", label);
        return NULL;
    }
    memcpy(st->label, label, lab + 1);
    st->data_len = data_len;
    return st;
}

/* Room for the data section, DATA_ALIGN-aligned; returns where it goes (NULL: out of memory).
 * Only the bytes up to the last tensor's end are kept: trailing bytes are never read. */
static unsigned char *st_data_alloc(genc_ctx *ctx, genc_st *st) {
    uint64_t used = 0;
    for (int i = 0; i < st->n; i++)
        if (st->entries[i].end > used) used = st->entries[i].end;
    st->data_len = used;
    if (st->data_len <= SIZE_MAX - DATA_ALIGN) st->mem = malloc((size_t)st->data_len + DATA_ALIGN);
    if (!st->mem) {
        genc_error(ctx, GENC_ENOMEM, "%s: out of memory for %llu bytes of tensor data", st->label,
                   (unsigned long long)st->data_len);
        return NULL;
    }
    uintptr_t base = (uintptr_t)st->mem, want = (base + DATA_ALIGN - 1) / DATA_ALIGN * DATA_ALIGN;
    unsigned char *data = st->mem + (want - base);
    st->data = data;
    return data;
}

genc_status genc_st_open_memory(genc_ctx *ctx, const void *buf, size_t len, const char *label,
                                genc_st **out) {
    if (!out) return genc_error(ctx, GENC_EINVAL, "genc_st_open_memory: out is NULL");
    *out = NULL;
    const char *lab = label ? label : "(memory)";
    if (!buf && len) return genc_error(ctx, GENC_EINVAL, "%s: buffer is NULL", lab);
    uint64_t hlen;
    genc_status s = check_prefix(ctx, lab, buf, len, &hlen);
    if (s) return s;
    genc_st *st = st_new(ctx, lab, len - 8 - hlen);
    if (!st) return GENC_ENOMEM;
    s = parse_header(ctx, st, (const unsigned char *)buf + 8, (size_t)hlen);
    unsigned char *data = s ? NULL : st_data_alloc(ctx, st);
    if (!s && !data) s = GENC_ENOMEM;
    if (s) {
        genc_st_close(st);
        return s;
    }
    memcpy(data, (const unsigned char *)buf + 8 + hlen, (size_t)st->data_len);
    *out = st;
    return GENC_OK;
}

/* read() until n bytes or end of file; returns the count read or -1 with errno. */
static ssize_t read_full(int fd, unsigned char *p, size_t n) {
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, p + got, n - got);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return -1;
        if (r == 0) break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

static genc_status read_exact(genc_ctx *ctx, const char *path, int fd, unsigned char *p, uint64_t n,
                              const char *what) {
    ssize_t r = read_full(fd, p, (size_t)n);
    if (r >= 0 && (uint64_t)r == n) return GENC_OK;
    return genc_error(ctx, GENC_EIO, "%s: read %lld of the %llu bytes of its %s: %s", path, (long long)r,
                      (unsigned long long)n, what, r < 0 ? strerror(errno) : "file shrank");
}

/* The header is read and validated before the data section is allocated or read, so a file
 * whose header is bad costs its header, not its size. */
static genc_status open_fd(genc_ctx *ctx, const char *path, int fd, uint64_t total, genc_st **out) {
    unsigned char p8[8];
    uint64_t hlen;
    genc_status s = read_exact(ctx, path, fd, p8, total < 8 ? total : 8, "length prefix");
    if (!s) s = check_prefix(ctx, path, p8, total, &hlen);
    if (s) return s;
    unsigned char *hdr = malloc((size_t)hlen + 1); /* hlen <= GENC_ST_MAX_HEADER */
    if (!hdr) return genc_error(ctx, GENC_ENOMEM, "%s: out of memory for a %llu-byte header", path,
                                (unsigned long long)hlen);
    genc_st *st = NULL;
    s = read_exact(ctx, path, fd, hdr, hlen, "header");
    if (!s && !(st = st_new(ctx, path, total - 8 - hlen))) s = GENC_ENOMEM;
    if (!s) s = parse_header(ctx, st, hdr, (size_t)hlen);
    free(hdr);
    unsigned char *data = s ? NULL : st_data_alloc(ctx, st);
    if (!s && !data) s = GENC_ENOMEM;
    if (!s) s = read_exact(ctx, path, fd, data, st->data_len, "tensor data");
    if (s) {
        genc_st_close(st);
        return s;
    }
    *out = st;
    return GENC_OK;
}

genc_status genc_st_open(genc_ctx *ctx, const char *path, genc_st **out) {
    if (!out || !path) return genc_error(ctx, GENC_EINVAL, "genc_st_open: path or out is NULL");
    *out = NULL;
    int fd;
    int64_t size;
    genc_status s = genc_file_open(ctx, path, &fd, &size);
    if (s) return s;
    s = open_fd(ctx, path, fd, (uint64_t)size, out);
    close(fd);
    return s;
}

void genc_st_close(genc_st *st) {
    if (!st) return;
    json_decref(st->root);
    free(st->entries);
    free(st->by_name);
    free(st->meta_keys);
    free(st->meta_vals);
    free(st->mem);
    free(st->label);
    free(st);
}

/* ---- reader: accessors ---- */

int genc_st_count(const genc_st *st) { return st ? st->n : 0; }

const genc_st_entry *genc_st_at(const genc_st *st, int i) {
    return (st && i >= 0 && i < st->n) ? &st->entries[i] : NULL;
}

const genc_st_entry *genc_st_find(const genc_st *st, const char *name) {
    if (!st || !name) return NULL;
    genc_st_entry key = {.name = name};
    const genc_st_entry *kp = &key, **hit;
    hit = bsearch(&kp, st->by_name, (size_t)st->n, sizeof *st->by_name, cmp_name);
    return hit ? *hit : NULL;
}

const void *genc_st_data(const genc_st *st, const genc_st_entry *e) {
    return (st && e) ? st->data + e->begin : NULL;
}

const char *genc_st_meta(const genc_st *st, const char *key) {
    for (int i = 0; st && key && i < st->n_meta; i++)
        if (strcmp(st->meta_keys[i], key) == 0) return st->meta_vals[i];
    return NULL;
}

int genc_st_meta_count(const genc_st *st) { return st ? st->n_meta : 0; }

bool genc_st_meta_at(const genc_st *st, int i, const char **key, const char **value) {
    if (!st || i < 0 || i >= st->n_meta) return false;
    if (key) *key = st->meta_keys[i];
    if (value) *value = st->meta_vals[i];
    return true;
}

const char *genc_st_label(const genc_st *st) { return st ? st->label : ""; }

/* ---- reader: typed reads ---- */

static uint64_t entry_numel(const genc_st_entry *e) {
    return (e->end - e->begin) / genc_dtype_size(e->dtype);
}

/* Find `name` and check that its shape is exactly (ndim, shape). */
static genc_status find_shaped(genc_ctx *ctx, const genc_st *st, const char *name, int ndim,
                               const int64_t *shape, const genc_st_entry **out) {
    char nm[NAME_SHOW + 4], want[200], have[200];
    if (!st || !name || (ndim > 0 && !shape))
        return genc_error(ctx, GENC_EINVAL, "genc_st_read: file, name or shape is NULL");
    const genc_st_entry *e = genc_st_find(st, name);
    show_text(nm, sizeof nm, name);
    if (!e) return genc_error(ctx, GENC_EFORMAT, "%s: no tensor \"%s\"", st->label, nm);
    bool same = ndim == e->ndim;
    for (int i = 0; same && i < ndim; i++) same = shape[i] == e->shape[i];
    if (same) {
        *out = e;
        return GENC_OK;
    }
    show_shape(want, sizeof want, ndim < 0 ? 0 : ndim > 8 ? 8 : ndim, shape);
    show_shape(have, sizeof have, e->ndim, e->shape);
    return genc_error(ctx, GENC_EFORMAT, "%s: tensor \"%s\": expected shape [%s] but the file "
                      "has %s [%s]", st->label, nm, want, genc_dtype_name(e->dtype), have);
}

/* Element i of entry data p as double (exact for every dtype but I64 beyond 2^53). */
static double elem_f64(genc_dtype dt, const unsigned char *p, uint64_t i) {
    switch (dt) {
    case GENC_DT_F32: return ld_f32(p + 4 * i);
    case GENC_DT_F16: return genc_f32_from_f16((uint16_t)ld_le(p + 2 * i, 2));
    case GENC_DT_BF16: return genc_f32_from_bf16((uint16_t)ld_le(p + 2 * i, 2));
    case GENC_DT_F8_E4M3: return genc_f32_from_f8e4m3(p[i]);
    case GENC_DT_F64: return ld_f64(p + 8 * i);
    case GENC_DT_I64: return (double)(int64_t)ld_le(p + 8 * i, 8);
    case GENC_DT_I32: return (double)(int32_t)(uint32_t)ld_le(p + 4 * i, 4);
    case GENC_DT_U8: return p[i];
    }
    return 0;
}

genc_status genc_st_read_f32(genc_ctx *ctx, const genc_st *st, const char *name, float *dst,
                             int ndim, const int64_t *shape) {
    const genc_st_entry *e;
    genc_status s = find_shaped(ctx, st, name, ndim, shape, &e);
    if (s) return s;
    const unsigned char *p = st->data + e->begin;
    uint64_t n = entry_numel(e);
    if (e->dtype == GENC_DT_F32)
        for (uint64_t i = 0; i < n; i++) dst[i] = ld_f32(p + 4 * i);
    else if (e->dtype == GENC_DT_I64)
        for (uint64_t i = 0; i < n; i++) dst[i] = (float)(int64_t)ld_le(p + 8 * i, 8);
    else
        for (uint64_t i = 0; i < n; i++) dst[i] = (float)elem_f64(e->dtype, p, i);
    return GENC_OK;
}

genc_status genc_st_read_f64(genc_ctx *ctx, const genc_st *st, const char *name, double *dst,
                             int ndim, const int64_t *shape) {
    const genc_st_entry *e;
    genc_status s = find_shaped(ctx, st, name, ndim, shape, &e);
    if (s) return s;
    const unsigned char *p = st->data + e->begin;
    uint64_t n = entry_numel(e);
    for (uint64_t i = 0; i < n; i++) dst[i] = elem_f64(e->dtype, p, i);
    return GENC_OK;
}

genc_status genc_st_read_i64(genc_ctx *ctx, const genc_st *st, const char *name, int64_t *dst,
                             int ndim, const int64_t *shape) {
    const genc_st_entry *e;
    genc_status s = find_shaped(ctx, st, name, ndim, shape, &e);
    if (s) return s;
    const unsigned char *p = st->data + e->begin;
    uint64_t n = entry_numel(e);
    if (e->dtype == GENC_DT_I64)
        for (uint64_t i = 0; i < n; i++) dst[i] = (int64_t)ld_le(p + 8 * i, 8);
    else if (e->dtype == GENC_DT_I32)
        for (uint64_t i = 0; i < n; i++) dst[i] = (int32_t)(uint32_t)ld_le(p + 4 * i, 4);
    else if (e->dtype == GENC_DT_U8)
        for (uint64_t i = 0; i < n; i++) dst[i] = p[i];
    else {
        char nm[NAME_SHOW + 4];
        show_text(nm, sizeof nm, name);
        return genc_error(ctx, GENC_EFORMAT, "%s: tensor \"%s\": expected an integer dtype "
                          "(I64, I32 or U8) but the file has %s", st->label, nm,
                          genc_dtype_name(e->dtype));
    }
    return GENC_OK;
}

/* ---- writer ---- */

typedef struct {
    char *name;
    genc_dtype dtype;
    int ndim;
    int64_t shape[GENC_ST_MAX_DIMS];
    unsigned char *data;
    uint64_t bytes;
} wentry;

struct genc_st_writer {
    genc_ctx *ctx;
    wentry *v;
    int n, cap;
    json_t *names; /* name -> true, for duplicate checks */
    json_t *meta;  /* key -> string, insertion order */
};

genc_st_writer *genc_st_writer_new(genc_ctx *ctx) {
    genc_st_writer *w = calloc(1, sizeof *w);
    if (w) {
        w->ctx = ctx;
        w->names = json_object();
        w->meta = json_object();
    }
    if (!w || !w->names || !w->meta) {
        genc_st_writer_free(w);
        genc_error(ctx, GENC_ENOMEM, "safetensors writer: out of memory");
        return NULL;
    }
    return w;
}

void genc_st_writer_free(genc_st_writer *w) {
    if (!w) return;
    for (int i = 0; i < w->n; i++) {
        free(w->v[i].name);
        free(w->v[i].data);
    }
    free(w->v);
    json_decref(w->names);
    json_decref(w->meta);
    free(w);
}

/* Validate a new tensor's name, dtype and shape; *bytes gets its data size. */
static genc_status writer_check(genc_st_writer *w, const char *name, genc_dtype dtype, int ndim,
                                const int64_t *shape, uint64_t *bytes) {
    char nm[NAME_SHOW + 4];
    show_text(nm, sizeof nm, name ? name : "(null)");
    if (!name || !*name || strcmp(name, "__metadata__") == 0)
        return genc_error(w->ctx, GENC_EINVAL, "safetensors writer: invalid tensor name \"%s\"",
                          nm);
    if (json_object_get(w->names, name))
        return genc_error(w->ctx, GENC_EINVAL, "safetensors writer: duplicate tensor \"%s\"", nm);
    if (genc_dtype_size(dtype) == 0 || ndim < 0 || ndim > GENC_ST_MAX_DIMS || (ndim && !shape))
        return genc_error(w->ctx, GENC_EINVAL, "safetensors writer: tensor \"%s\": bad dtype %d "
                          "or ndim %d (expected 0..%d)", nm, (int)dtype, ndim, GENC_ST_MAX_DIMS);
    uint64_t numel = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0 || (shape[i] && numel > (uint64_t)(SIZE_MAX / 8) / (uint64_t)shape[i]))
            return genc_error(w->ctx, GENC_EINVAL, "safetensors writer: tensor \"%s\": dim %d "
                              "is %lld (negative or too large)", nm, i, (long long)shape[i]);
        numel *= (uint64_t)shape[i];
    }
    *bytes = numel * genc_dtype_size(dtype);
    return GENC_OK;
}

/* Append a checked tensor whose data buffer (malloc'ed, now owned) is ready. */
static genc_status writer_push(genc_st_writer *w, const char *name, genc_dtype dtype, int ndim,
                               const int64_t *shape, unsigned char *data, uint64_t bytes) {
    wentry e = {.dtype = dtype, .ndim = ndim, .data = data, .bytes = bytes};
    size_t len = strlen(name);
    e.name = malloc(len + 1);
    if (e.name) memcpy(e.name, name, len + 1);
    if (e.name && w->n == w->cap) {
        int cap = w->cap ? 2 * w->cap : 16;
        wentry *v = realloc(w->v, (size_t)cap * sizeof *v);
        if (v) w->v = v, w->cap = cap;
    }
    if (!e.name || w->n == w->cap || json_object_set_new(w->names, name, json_true())) {
        free(e.name);
        free(data);
        return genc_error(w->ctx, GENC_ENOMEM, "safetensors writer: out of memory (or name "
                          "not UTF-8) adding a tensor");
    }
    if (ndim) memcpy(e.shape, shape, (size_t)ndim * sizeof *shape);
    w->v[w->n++] = e;
    return GENC_OK;
}

/* Name must be valid UTF-8 (jansson checks it when building the header). */
static genc_status writer_utf8(genc_st_writer *w, const char *s, const char *what) {
    json_t *j = json_string(s);
    if (j) {
        json_decref(j);
        return GENC_OK;
    }
    return genc_error(w->ctx, GENC_EINVAL, "safetensors writer: %s is not valid UTF-8", what);
}

genc_status genc_st_writer_add(genc_st_writer *w, const char *name, genc_dtype dtype, int ndim,
                               const int64_t *shape, const void *raw) {
    if (!w) return GENC_EINVAL;
    uint64_t bytes = 0;
    genc_status s = writer_check(w, name, dtype, ndim, shape, &bytes);
    if (!s) s = writer_utf8(w, name, "tensor name");
    if (s) return s;
    if (bytes && !raw)
        return genc_error(w->ctx, GENC_EINVAL, "safetensors writer: data is NULL");
    unsigned char *copy = malloc(bytes ? (size_t)bytes : 1);
    if (!copy) return genc_error(w->ctx, GENC_ENOMEM, "safetensors writer: out of memory");
    if (bytes) memcpy(copy, raw, (size_t)bytes);
    return writer_push(w, name, dtype, ndim, shape, copy, bytes);
}

static void encode_f32(unsigned char *out, genc_dtype dt, const float *src, uint64_t n) {
    for (uint64_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &src[i], 4);
        switch (dt) {
        case GENC_DT_F32: st_le(out + 4 * i, u, 4); break;
        case GENC_DT_F16: st_le(out + 2 * i, genc_f16_from_f32(src[i]), 2); break;
        case GENC_DT_BF16: st_le(out + 2 * i, genc_bf16_from_f32(src[i]), 2); break;
        case GENC_DT_F8_E4M3: out[i] = genc_f8e4m3_from_f32(src[i]); break;
        default: { /* F64 */
            double d = src[i];
            uint64_t b;
            memcpy(&b, &d, 8);
            st_le(out + 8 * i, b, 8);
        }
        }
    }
}

genc_status genc_st_writer_add_f32(genc_st_writer *w, const char *name, genc_dtype dtype,
                                   int ndim, const int64_t *shape, const float *src) {
    if (!w) return GENC_EINVAL;
    if (dtype != GENC_DT_F32 && dtype != GENC_DT_F16 && dtype != GENC_DT_BF16 &&
        dtype != GENC_DT_F8_E4M3 && dtype != GENC_DT_F64)
        return genc_error(w->ctx, GENC_EINVAL, "safetensors writer: cannot convert float to "
                          "%s (expected F32, F16, BF16, F8_E4M3 or F64)", genc_dtype_name(dtype));
    uint64_t bytes = 0;
    genc_status s = writer_check(w, name, dtype, ndim, shape, &bytes);
    if (!s) s = writer_utf8(w, name, "tensor name");
    if (s) return s;
    if (bytes && !src) return genc_error(w->ctx, GENC_EINVAL, "safetensors writer: data is NULL");
    unsigned char *buf = malloc(bytes ? (size_t)bytes : 1);
    if (!buf) return genc_error(w->ctx, GENC_ENOMEM, "safetensors writer: out of memory");
    encode_f32(buf, dtype, src, bytes / genc_dtype_size(dtype));
    return writer_push(w, name, dtype, ndim, shape, buf, bytes);
}

genc_status genc_st_writer_meta(genc_st_writer *w, const char *key, const char *value) {
    if (!w) return GENC_EINVAL;
    if (!key || !value)
        return genc_error(w->ctx, GENC_EINVAL, "safetensors writer: metadata key or value is NULL");
    genc_status s = writer_utf8(w, key, "metadata key");
    if (!s) s = writer_utf8(w, value, "metadata value");
    if (s) return s;
    if (json_object_set_new(w->meta, key, json_string(value)))
        return genc_error(w->ctx, GENC_ENOMEM, "safetensors writer: out of memory");
    return GENC_OK;
}

/* The header JSON (compact, insertion order), without padding; NULL when out of memory. */
static char *writer_header(const genc_st_writer *w) {
    json_t *root = json_object();
    if (root && json_object_size(w->meta)) json_object_set(root, "__metadata__", w->meta);
    uint64_t off = 0;
    bool ok = root != NULL;
    for (int i = 0; ok && i < w->n; i++) {
        const wentry *e = &w->v[i];
        json_t *shape = json_array();
        for (int d = 0; shape && d < e->ndim; d++)
            json_array_append_new(shape, json_integer(e->shape[d]));
        json_t *obj = json_pack("{s:s, s:o*, s:[I,I]}", "dtype", genc_dtype_name(e->dtype),
                                "shape", shape, "data_offsets", (json_int_t)off,
                                (json_int_t)(off + e->bytes));
        ok = shape && obj && json_array_size(shape) == (size_t)e->ndim;
        if (ok) ok = json_object_set_new(root, e->name, obj) == 0;
        else json_decref(obj);
        off += e->bytes;
    }
    char *text = ok ? json_dumps(root, JSON_COMPACT) : NULL;
    json_decref(root);
    return text;
}

static int write_full(int fd, const unsigned char *p, uint64_t n) {
    while (n > 0) {
        size_t chunk = n > ((size_t)1 << 30) ? ((size_t)1 << 30) : (size_t)n;
        ssize_t r = write(fd, p, chunk);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return -1;
        p += r;
        n -= (uint64_t)r;
    }
    return 0;
}

/* Write prefix, header and data to fd and fsync it; -1 with errno on failure. */
static int write_body(const genc_st_writer *w, int fd, const unsigned char *head, size_t hn) {
    if (write_full(fd, head, hn)) return -1;
    for (int i = 0; i < w->n; i++)
        if (write_full(fd, w->v[i].data, w->v[i].bytes)) return -1;
    return fsync(fd);
}

/* fsync the directory holding path, so the rename survives a crash. */
static int sync_dir(const char *path) {
    size_t len = strlen(path);
    char *dir = malloc(len + 2);
    if (!dir) return -1;
    memcpy(dir, path, len + 1);
    char *slash = strrchr(dir, '/');
    if (!slash) strcpy(dir, ".");
    else if (slash == dir) dir[1] = 0;
    else *slash = 0;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc = -1;
    free(dir);
    if (fd < 0) return -1;
    rc = fsync(fd);
    if (rc && errno == EINVAL) rc = 0; /* directory fsync unsupported here: nothing to do */
    close(fd);
    return rc;
}

/* Build the 8-byte length, the header and its space padding in one buffer. */
static unsigned char *writer_prefix(const genc_st_writer *w, size_t *len) {
    char *json = writer_header(w);
    if (!json) return NULL;
    size_t n = strlen(json), padded = (n + 7) / 8 * 8;
    unsigned char *head = malloc(8 + padded);
    if (head) {
        st_le(head, padded, 8);
        memcpy(head + 8, json, n);
        memset(head + 8 + n, ' ', padded - n);
        *len = 8 + padded;
    }
    free(json);
    return head;
}

static genc_status save_to_tmp(genc_st_writer *w, const char *path, char *tmp, size_t tmp_cap) {
    size_t hn;
    unsigned char *head = writer_prefix(w, &hn);
    if (!head)
        return genc_error(w->ctx, GENC_ENOMEM, "%s: out of memory building the header", path);
    int fd;
    if (genc_file_create_tmp(w->ctx, path, tmp, tmp_cap, &fd)) {
        free(head);
        return genc_ctx_status(w->ctx);
    }
    int rc = write_body(w, fd, head, hn), err = errno;
    free(head);
    if (close(fd) && !rc) rc = -1, err = errno;
    if (rc) {
        unlink(tmp);
        return genc_error(w->ctx, GENC_EIO, "%s: writing temporary file %s failed: %s", path, tmp,
                          strerror(err));
    }
    return GENC_OK;
}

genc_status genc_st_writer_save(genc_st_writer *w, const char *path) {
    if (!w) return GENC_EINVAL;
    if (!path || !*path) return genc_error(w->ctx, GENC_EINVAL, "safetensors writer: empty path");
    size_t len = strlen(path) + 32;
    char *tmp = malloc(len);
    if (!tmp) return genc_error(w->ctx, GENC_ENOMEM, "%s: out of memory", path);
    genc_status s = save_to_tmp(w, path, tmp, len);
    if (!s && rename(tmp, path) != 0) {
        s = genc_error(w->ctx, GENC_EIO, "%s: cannot rename %s over it: %s", path, tmp,
                       strerror(errno));
        unlink(tmp);
    }
    if (!s && sync_dir(path) != 0)
        s = genc_error(w->ctx, GENC_EIO, "%s: saved, but syncing its directory failed: %s", path,
                       strerror(errno));
    free(tmp);
    return s;
}
