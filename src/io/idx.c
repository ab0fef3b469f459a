/* genc IDX reader: image and label files in the IDX format of (Fashion-)MNIST, gzip or raw
 * (zlib's gzread reads both). Every size claimed by a header is checked against the bytes
 * actually there before anything large is allocated. */
#include "genc/data.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#define IDX_MAGIC_IMAGES 0x00000803u /* unsigned bytes, 3 dimensions */
#define IDX_MAGIC_LABELS 0x00000801u /* unsigned bytes, 1 dimension */
#define IDX_CHUNK (1 << 24)

typedef struct {
    gzFile gz;
    const char *path;
    int64_t got; /* bytes read so far (uncompressed) */
} idx_file;

static genc_status idx_open(genc_ctx *ctx, idx_file *f, const char *path) {
    f->path = path;
    f->got = 0;
    int fd; /* regular files only: a FIFO or device is refused, never waited on */
    int64_t size;
    if (genc_file_open(ctx, path, &fd, &size)) return genc_ctx_status(ctx);
    errno = 0;
    f->gz = gzdopen(fd, "rb");
    if (!f->gz) {
        close(fd);
        return genc_error(ctx, GENC_EIO, "%s: cannot open IDX file: %s", path,
                          errno ? strerror(errno) : "out of memory");
    }
    return GENC_OK;
}

/* Reads up to len bytes; returns how many, or -1 with the error set on a gzip error. */
static int64_t idx_read_some(genc_ctx *ctx, idx_file *f, void *buf, int64_t len) {
    int64_t done = 0;
    while (done < len) {
        int64_t want = len - done < IDX_CHUNK ? len - done : IDX_CHUNK;
        int r = gzread(f->gz, (char *)buf + done, (unsigned)want);
        if (r < 0) {
            int errnum;
            const char *msg = gzerror(f->gz, &errnum);
            size_t plen = strlen(f->path); /* zlib prefixes the path: drop the echo */
            if (strncmp(msg, f->path, plen) == 0 && msg[plen] == ':' && msg[plen + 1] == ' ')
                msg += plen + 2;
            genc_error(ctx, GENC_EFORMAT, "%s: corrupt gzip data after %lld bytes: %s", f->path,
                       (long long)(f->got + done), msg);
            return -1;
        }
        if (r == 0)
            break;
        done += r;
    }
    f->got += done;
    return done;
}

/* Reads exactly len bytes of a file that should be `total` bytes long. */
static genc_status idx_read(genc_ctx *ctx, idx_file *f, void *buf, int64_t len, int64_t total,
                            const char *what) {
    int64_t r = idx_read_some(ctx, f, buf, len);
    if (r < 0)
        return GENC_EFORMAT;
    if (r == len)
        return GENC_OK;
    if (f->got == 0)
        return genc_error(ctx, GENC_EFORMAT, "%s: empty file, expected an IDX %s of %lld bytes",
                          f->path, what, (long long)total);
    return genc_error(ctx, GENC_EFORMAT, "%s: truncated IDX %s: expected %lld bytes%s, found "
                      "%lld", f->path, what, (long long)total,
                      gzdirect(f->gz) ? "" : " (uncompressed)", (long long)f->got);
}

/* The file must end right after `total` bytes. */
static genc_status idx_check_end(genc_ctx *ctx, idx_file *f, int64_t total) {
    char scratch[1 << 14];
    int64_t r;
    while ((r = idx_read_some(ctx, f, scratch, sizeof scratch)) > 0) {
    }
    if (r < 0)
        return GENC_EFORMAT;
    if (f->got != total)
        return genc_error(ctx, GENC_EFORMAT, "%s: trailing data after the IDX payload: expected "
                          "%lld bytes%s, found %lld", f->path, (long long)total,
                          gzdirect(f->gz) ? "" : " (uncompressed)", (long long)f->got);
    return GENC_OK;
}

static uint32_t be32(const unsigned char *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Reads the magic, then ndims big-endian u32 dimensions. */
static genc_status idx_header(genc_ctx *ctx, idx_file *f, uint32_t magic, int ndims,
                              uint32_t *dims) {
    unsigned char h[16];
    int64_t len = 4 + 4 * (int64_t)ndims;
    genc_status st = idx_read(ctx, f, h, 4, len, "header");
    if (st == GENC_OK && be32(h) != magic)
        st = genc_error(ctx, GENC_EFORMAT, "%s: expected IDX magic 0x%08x (unsigned bytes, %d "
                        "dimension%s), found 0x%08x", f->path, magic, ndims,
                        ndims > 1 ? "s" : "", be32(h));
    if (st == GENC_OK)
        st = idx_read(ctx, f, h + 4, len - 4, len, "header");
    for (int i = 0; st == GENC_OK && i < ndims; i++)
        dims[i] = be32(h + 4 + 4 * i);
    return st;
}

/* Reads the `len`-byte payload of a file of `total` bytes into a buffer that grows as data
 * arrives, so a header that lies about its size cannot trigger a huge allocation. */
static genc_status idx_payload(genc_ctx *ctx, idx_file *f, int64_t len, int64_t total,
                               uint8_t **out) {
    int64_t cap = len < IDX_CHUNK ? len : IDX_CHUNK, have = 0;
    uint8_t *buf = malloc((size_t)(cap > 0 ? cap : 1));
    genc_status st = buf ? GENC_OK : genc_error(ctx, GENC_ENOMEM, "%s: out of memory", f->path);
    while (st == GENC_OK && have < len) {
        if (have == cap) {
            cap = cap * 2 < len ? cap * 2 : len;
            uint8_t *nb = realloc(buf, (size_t)cap);
            if (!nb) {
                st = genc_error(ctx, GENC_ENOMEM, "%s: out of memory for %lld bytes", f->path,
                                (long long)cap);
                break;
            }
            buf = nb;
        }
        st = idx_read(ctx, f, buf + have, cap - have, total, "data");
        have = cap;
    }
    if (st == GENC_OK)
        st = idx_check_end(ctx, f, total);
    if (st != GENC_OK) {
        free(buf);
        buf = NULL;
    }
    *out = buf;
    return st;
}

/* Loads the image file into out (labels left for the caller). */
static genc_status load_images(genc_ctx *ctx, const char *path, genc_dataset *out) {
    idx_file f;
    uint32_t d[3] = {0, 0, 0};
    genc_status st = idx_open(ctx, &f, path);
    if (st != GENC_OK)
        return st;
    st = idx_header(ctx, &f, IDX_MAGIC_IMAGES, 3, d);
    if (st == GENC_OK && (d[0] == 0 || d[1] == 0 || d[2] == 0 || d[1] > 4096 || d[2] > 4096))
        st = genc_error(ctx, GENC_EFORMAT, "%s: expected at least one image of 1..4096 x "
                        "1..4096 pixels, found %u images of %ux%u", path, d[0], d[1], d[2]);
    uint8_t *raw = NULL;
    int64_t len = st == GENC_OK ? (int64_t)d[0] * d[1] * d[2] : 0; /* dims checked: < 2^56 */
    if (st == GENC_OK)
        st = idx_payload(ctx, &f, len, 16 + len, &raw);
    gzclose(f.gz);
    if (st == GENC_OK)
        st = genc_dataset_alloc(ctx, out, d[0], (int)d[1], (int)d[2], 0);
    if (st == GENC_OK)
        for (int64_t i = 0; i < len; i++)
            out->images[i] = raw[i] * (1.0f / 255.0f);
    free(raw);
    return st;
}

/* Loads the label file; *n is its count. */
static genc_status load_labels(genc_ctx *ctx, const char *path, uint8_t **labels, int64_t *n) {
    idx_file f;
    uint32_t count = 0;
    *labels = NULL;
    genc_status st = idx_open(ctx, &f, path);
    if (st != GENC_OK)
        return st;
    st = idx_header(ctx, &f, IDX_MAGIC_LABELS, 1, &count);
    if (st == GENC_OK && count == 0)
        st = genc_error(ctx, GENC_EFORMAT, "%s: expected at least one label, found 0", path);
    if (st == GENC_OK)
        st = idx_payload(ctx, &f, count, 8 + (int64_t)count, labels);
    gzclose(f.gz);
    *n = count;
    return st;
}

genc_status genc_data_load_idx(genc_ctx *ctx, const char *images_path, const char *labels_path,
                               genc_dataset *out) {
    memset(out, 0, sizeof *out);
    uint8_t *labels = NULL;
    int64_t n_labels = 0;
    genc_status st = load_labels(ctx, labels_path, &labels, &n_labels);
    if (st == GENC_OK)
        st = load_images(ctx, images_path, out);
    if (st == GENC_OK && n_labels != out->n)
        st = genc_error(ctx, GENC_EFORMAT, "%s: expected %lld labels, one per image of %s, found "
                        "%lld", labels_path, (long long)out->n, images_path,
                        (long long)n_labels);
    if (st != GENC_OK) {
        free(labels);
        genc_dataset_free(out);
        return st;
    }
    memcpy(out->labels, labels, (size_t)n_labels);
    free(labels);
    int max = 0;
    for (int64_t i = 0; i < out->n; i++)
        max = out->labels[i] > max ? out->labels[i] : max;
    out->n_classes = max + 1;
    return GENC_OK;
}

/* dst <- dir/name.gz if it exists, else dir/name. */
static void pick_file(char *dst, size_t cap, const char *dir, const char *name) {
    snprintf(dst, cap, "%s/%s.gz", dir, name);
    if (access(dst, F_OK) != 0)
        snprintf(dst, cap, "%s/%s", dir, name);
}

genc_status genc_data_load_fashion_mnist(genc_ctx *ctx, const char *dir, bool train,
                                         genc_dataset *out) {
    char images[4096], labels[4096];
    memset(out, 0, sizeof *out);
    if (!dir)
        dir = GENC_FASHION_MNIST_DIR;
    if (strlen(dir) > sizeof images - 64)
        return genc_error(ctx, GENC_EINVAL, "fashion-mnist: directory name too long: %.64s...",
                          dir);
    const char *split = train ? "train" : "t10k";
    char name[64];
    snprintf(name, sizeof name, "%s-images-idx3-ubyte", split);
    pick_file(images, sizeof images, dir, name);
    snprintf(name, sizeof name, "%s-labels-idx1-ubyte", split);
    pick_file(labels, sizeof labels, dir, name);
    return genc_data_load_idx(ctx, images, labels, out);
}
