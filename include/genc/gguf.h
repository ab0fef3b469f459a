/* genc GGUF: the container llama.cpp reads (version 3), a writer and a validating reader.
 *
 * Layout (little-endian): "GGUF", u32 version 3, u64 tensor count, u64 key-value count;
 * the key-value pairs (string key, u32 value type, value; arrays are u32 element type, u64
 * count, elements; strings are u64 length + bytes); the tensor infos (string name, u32 dims,
 * u64 ne[dims] with ne[0] the fastest-varying dimension, u32 ggml type, u64 offset into the
 * data section); padding to the alignment (general.alignment, default 32); the data, each
 * tensor at its offset, a multiple of the alignment.
 *
 * A PyTorch [out, in] row-major matrix is ne = {in, out} with the same bytes.
 *
 * The reader reads the whole file and checks everything before returning: magic, version,
 * counts against the bytes left, every string and array inside the file, known value and
 * tensor types, no nested arrays, unique keys and tensor names, 1..4 dimensions of positive
 * size without overflow, Q8_0 rows a multiple of 32, the alignment a power of two, offsets
 * aligned, inside the data and not overlapping. Every failure is one line naming the file. */
#ifndef GENC_GGUF_H
#define GENC_GGUF_H

#include "core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    GENC_GGUF_U8 = 0, GENC_GGUF_I8 = 1, GENC_GGUF_U16 = 2, GENC_GGUF_I16 = 3, GENC_GGUF_U32 = 4,
    GENC_GGUF_I32 = 5, GENC_GGUF_F32 = 6, GENC_GGUF_BOOL = 7, GENC_GGUF_STRING = 8, GENC_GGUF_ARRAY = 9,
    GENC_GGUF_U64 = 10, GENC_GGUF_I64 = 11, GENC_GGUF_F64 = 12
} genc_gguf_type;

/* The ggml tensor types genc writes and reads. */
typedef enum { GENC_GGML_F32 = 0, GENC_GGML_F16 = 1, GENC_GGML_Q8_0 = 8 } genc_ggml_type;

#define GENC_GGUF_VERSION 3
#define GENC_GGUF_ALIGN 32
#define GENC_GGUF_MAX_DIMS 4
#define GENC_GGUF_Q8_BLOCK 32

const char *genc_ggml_type_name(genc_ggml_type t); /* "F32", "F16", "Q8_0"; "?" otherwise */
/* Bytes of n elements (n a multiple of 32 for Q8_0). */
uint64_t genc_ggml_nbytes(genc_ggml_type t, uint64_t n);

/* ---- writer: collects key-values and tensors (converted and copied), writes atomically ---- */
typedef struct genc_gguf_writer genc_gguf_writer;

genc_gguf_writer *genc_gguf_writer_new(genc_ctx *ctx); /* NULL with GENC_ENOMEM */
genc_status genc_gguf_set_u32(genc_gguf_writer *w, const char *key, uint32_t v);
genc_status genc_gguf_set_i32(genc_gguf_writer *w, const char *key, int32_t v);
genc_status genc_gguf_set_f32(genc_gguf_writer *w, const char *key, float v);
genc_status genc_gguf_set_bool(genc_gguf_writer *w, const char *key, bool v);
genc_status genc_gguf_set_str(genc_gguf_writer *w, const char *key, const char *v);
/* Array of n strings (strs[i] of lens[i] bytes; lens NULL: NUL-terminated). */
genc_status genc_gguf_set_arr_str(genc_gguf_writer *w, const char *key, const char *const *strs, const size_t *lens,
                                  uint64_t n);
genc_status genc_gguf_set_arr_i32(genc_gguf_writer *w, const char *key, const int32_t *v, uint64_t n);
genc_status genc_gguf_set_arr_f32(genc_gguf_writer *w, const char *key, const float *v, uint64_t n);
/* A tensor of ndim (1..4) dims ne (ggml order: ne[0] fastest) from float src, converted to
 * type (F16 rounds to nearest even; Q8_0 as ggml's reference quantiser: per 32 values a F16
 * scale amax/127 and round-half-away values). Q8_0 needs ne[0] % 32 == 0. */
genc_status genc_gguf_add_tensor(genc_gguf_writer *w, const char *name, genc_ggml_type type, int ndim,
                                 const int64_t *ne, const float *src);
genc_status genc_gguf_writer_save(genc_gguf_writer *w, const char *path);
void genc_gguf_writer_free(genc_gguf_writer *w); /* NULL is fine */

/* ---- reader ---- */
typedef struct genc_gguf genc_gguf;

typedef struct {
    const char *key;         /* NUL-terminated copy */
    genc_gguf_type type;
    genc_gguf_type arr_type; /* for GENC_GGUF_ARRAY */
    uint64_t n;              /* array length (1 for scalars) */
} genc_gguf_kv;

typedef struct {
    const char *name; /* NUL-terminated copy */
    int ndim;
    int64_t ne[GENC_GGUF_MAX_DIMS]; /* unused dims are 1 */
    genc_ggml_type type;
    uint64_t offset, nbytes; /* in the data section */
} genc_gguf_tensor;

genc_status genc_gguf_open(genc_ctx *ctx, const char *path, genc_gguf **out);
genc_status genc_gguf_open_memory(genc_ctx *ctx, const void *buf, size_t len, const char *label, genc_gguf **out);
void genc_gguf_close(genc_gguf *g); /* NULL is fine */

uint32_t genc_gguf_version(const genc_gguf *g);
uint64_t genc_gguf_data_offset(const genc_gguf *g); /* file offset of the data section */
int genc_gguf_kv_count(const genc_gguf *g);
const genc_gguf_kv *genc_gguf_kv_at(const genc_gguf *g, int i);
const genc_gguf_kv *genc_gguf_find_kv(const genc_gguf *g, const char *key); /* NULL if absent */
/* Scalar values: false when the kv is absent or of another type (integers of any width
 * convert to int64 when exact). */
bool genc_gguf_get_int(const genc_gguf *g, const char *key, int64_t *v);
bool genc_gguf_get_f32(const genc_gguf *g, const char *key, float *v);
bool genc_gguf_get_bool(const genc_gguf *g, const char *key, bool *v);
const char *genc_gguf_get_str(const genc_gguf *g, const char *key, size_t *len); /* not NUL-terminated */
/* Element i of an array kv: a string (bytes, *len), or a number as double. */
const char *genc_gguf_arr_str(const genc_gguf *g, const genc_gguf_kv *kv, uint64_t i, size_t *len);
bool genc_gguf_arr_num(const genc_gguf *g, const genc_gguf_kv *kv, uint64_t i, double *v);

int genc_gguf_tensor_count(const genc_gguf *g);
const genc_gguf_tensor *genc_gguf_tensor_at(const genc_gguf *g, int i);
const genc_gguf_tensor *genc_gguf_find_tensor(const genc_gguf *g, const char *name);
const void *genc_gguf_tensor_data(const genc_gguf *g, const genc_gguf_tensor *t);
/* Decode a tensor to float (dst holds ne[0]*..*ne[3] values). */
void genc_gguf_tensor_read_f32(const genc_gguf *g, const genc_gguf_tensor *t, float *dst);
const char *genc_gguf_label(const genc_gguf *g);

#ifdef __cplusplus
}
#endif
#endif
