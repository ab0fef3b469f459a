/* genc safetensors: element types and their conversions, a validating reader and an
 * atomic writer for the safetensors container (checkpoints, model weights, state).
 *
 * File layout: an 8-byte little-endian u64 N, N bytes of UTF-8 JSON mapping tensor names
 * to {"dtype", "shape", "data_offsets": [begin, end]} (plus an optional "__metadata__"
 * object of strings), then the raw little-endian row-major data; offsets are relative to
 * the end of the header.
 *
 * The reader reads the whole file into memory and validates everything before returning:
 * header length against the file size (and a 100 MB cap), JSON syntax and UTF-8,
 * duplicate keys, known dtypes, shapes (at most 8 non-negative dims, no overflow),
 * offsets (inside the data, sized exactly numel * dtype size, not overlapping each
 * other), metadata values (strings only) and unknown entry keys. Gaps between tensors
 * and trailing bytes after the last one are tolerated. Every failure returns a status
 * and leaves one line on the context naming the file (or memory label), the tensor and
 * what was expected and found. */
#ifndef GENC_SAFETENSORS_H
#define GENC_SAFETENSORS_H

#include "core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    GENC_DT_F32,
    GENC_DT_F16,
    GENC_DT_BF16,
    GENC_DT_F8_E4M3,
    GENC_DT_F64,
    GENC_DT_I64,
    GENC_DT_I32,
    GENC_DT_U8
} genc_dtype;

#define GENC_ST_MAX_DIMS 8
#define GENC_ST_MAX_HEADER ((uint64_t)100 << 20) /* bytes of JSON the reader accepts */

/* The safetensors name ("F32", "BF16", "F8_E4M3", ...) and the element size in bytes;
 * "?" and 0 for a value outside the enum. */
const char *genc_dtype_name(genc_dtype dt);
size_t genc_dtype_size(genc_dtype dt);
/* The dtype with safetensors name `name`; false when it is not one genc knows. */
bool genc_dtype_parse(const char *name, genc_dtype *out);

/* Conversions. Narrowing is round-to-nearest, ties-to-even; decoding is exact.
 *  - BF16 and F16 are IEEE-style: overflow rounds to infinity, subnormals are kept,
 *    NaN stays a (quiet) NaN with its sign.
 *  - F8_E4M3 is the OCP "E4M3FN" variant (torch.float8_e4m3fn): bias 7, no infinities,
 *    largest finite value 448 (S.1111.110), NaN is S.1111.111, subnormals down to 2^-9.
 *    Encoding SATURATES: any finite value beyond 448 in magnitude and +-infinity become
 *    +-448; NaN becomes NaN (0x7f or 0xff, keeping the sign).
 *  - F8_E5M2 (torch.float8_e5m2): bias 15, IEEE-like (infinities 0x7c/0xfc, NaNs above),
 *    largest finite 57344, subnormals down to 2^-16. Encoding saturates like E4M3 (to
 *    +-57344, infinities too, as PTX cvt.satfinite); NaN becomes S.1111111.
 * These are genc's one scalar implementation; genc/fp8.h's codecs are built on them. */
uint16_t genc_bf16_from_f32(float x);
float genc_f32_from_bf16(uint16_t h);
uint16_t genc_f16_from_f32(float x);
float genc_f32_from_f16(uint16_t h);
uint8_t genc_f8e4m3_from_f32(float x);
float genc_f32_from_f8e4m3(uint8_t b);
uint8_t genc_f8e5m2_from_f32(float x);
float genc_f32_from_f8e5m2(uint8_t b);

/* One tensor of a parsed file. `name` lives as long as the genc_st. begin/end are byte
 * offsets into the data section; ndim 0 is a scalar (one element). */
typedef struct {
    const char *name;
    genc_dtype dtype;
    int ndim;
    int64_t shape[GENC_ST_MAX_DIMS];
    uint64_t begin, end;
} genc_st_entry;

typedef struct genc_st genc_st; /* a parsed file, held entirely in memory */

/* Read and validate `path`. On failure *out is NULL and the context holds the reason. */
genc_status genc_st_open(genc_ctx *ctx, const char *path, genc_st **out);
/* The same from a buffer, which is copied; `label` stands for the file name in messages. */
genc_status genc_st_open_memory(genc_ctx *ctx, const void *buf, size_t len, const char *label,
                                genc_st **out);
void genc_st_close(genc_st *st); /* NULL is fine */

/* Entries in the order of the JSON header. */
int genc_st_count(const genc_st *st);
const genc_st_entry *genc_st_at(const genc_st *st, int i);      /* NULL when out of range */
const genc_st_entry *genc_st_find(const genc_st *st, const char *name); /* NULL if absent */
/* The entry's raw little-endian bytes (end - begin of them). The data section starts
 * 64-byte aligned, but a tensor's own alignment depends on its offset: read elements
 * with memcpy, or use the genc_st_read_* calls. */
const void *genc_st_data(const genc_st *st, const genc_st_entry *e);
const char *genc_st_meta(const genc_st *st, const char *key); /* NULL when absent */
int genc_st_meta_count(const genc_st *st);
/* The i-th metadata pair in header order; false when i is out of range. */
bool genc_st_meta_at(const genc_st *st, int i, const char **key, const char **value);
const char *genc_st_label(const genc_st *st); /* the path or memory label */

/* Copy tensor `name` into dst, converting to float / double. Every dtype converts (the
 * integer ones too, exactly for F64 up to 2^53). Fails with GENC_EFORMAT, naming file,
 * tensor, expected and found shape, when the tensor is missing or its shape is not
 * exactly (ndim, shape). dst must hold the product of shape. */
genc_status genc_st_read_f32(genc_ctx *ctx, const genc_st *st, const char *name, float *dst,
                             int ndim, const int64_t *shape);
genc_status genc_st_read_f64(genc_ctx *ctx, const genc_st *st, const char *name, double *dst,
                             int ndim, const int64_t *shape);
/* Integer tensors (I64, I32, U8) into int64; a floating dtype is an error. */
genc_status genc_st_read_i64(genc_ctx *ctx, const genc_st *st, const char *name, int64_t *dst,
                             int ndim, const int64_t *shape);

/* Writer: collects tensors (copied) and metadata, then writes them in one go. The header
 * lists "__metadata__" first, then the tensors in insertion order with contiguous
 * offsets; it is padded with spaces so the data starts at a multiple of 8 bytes. */
typedef struct genc_st_writer genc_st_writer;

genc_st_writer *genc_st_writer_new(genc_ctx *ctx); /* NULL with GENC_ENOMEM */
/* `raw` holds numel * dtype size bytes, little-endian, already in dtype. Rejects an empty,
 * non-UTF-8 or duplicate name, "__metadata__", ndim outside 0..8 and negative dims. */
genc_status genc_st_writer_add(genc_st_writer *w, const char *name, genc_dtype dtype, int ndim,
                               const int64_t *shape, const void *raw);
/* Converts float to dtype F32, F64, F16, BF16 or F8_E4M3 (see the rounding notes above). */
genc_status genc_st_writer_add_f32(genc_st_writer *w, const char *name, genc_dtype dtype,
                                   int ndim, const int64_t *shape, const float *src);
/* Sets a metadata string (UTF-8); setting a key again replaces its value. */
genc_status genc_st_writer_meta(genc_st_writer *w, const char *key, const char *value);
/* Atomic save: writes path.tmp.<pid>, fsyncs it, renames it over path and fsyncs the
 * directory. On failure the temporary file is removed and an existing file at path is
 * left as it was. The writer stays usable (save again, or free). */
genc_status genc_st_writer_save(genc_st_writer *w, const char *path);
void genc_st_writer_free(genc_st_writer *w); /* NULL is fine */

#ifdef __cplusplus
}
#endif
#endif
