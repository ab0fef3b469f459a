/* genc core: status codes, the context (errors, threads, step arena, autograd tape,
 * random numbers), and the real type every kernel computes in.
 *
 * Error model (SQLite/Lua style): every call that can fail returns a genc_status, or a
 * pointer that is NULL on failure, and leaves a one-line message on the context,
 * retrievable with genc_last_error(). The first error is sticky until
 * genc_clear_error(): ops given a NULL input return NULL at once, so model code can
 * chain ops and check once. The library never exits or aborts on user input;
 * GENC_ASSERT guards internal invariants only. */
#ifndef GENC_CORE_H
#define GENC_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define GENC_VERSION "0.1.0"

/* Loop-parallel threshold: below this many elements a kernel runs on one thread. */
#define GENC_PAR_MIN 32768

/* Kernels compute in genc_real. The normal build is float; the test-only build with
 * -DGENC_DOUBLE compiles the same kernels in double for finite-difference checks. */
#ifdef GENC_DOUBLE
typedef double genc_real;
#else
typedef float genc_real;
#endif

typedef enum {
    GENC_OK = 0,
    GENC_EINVAL,  /* bad argument, flag, shape or config */
    GENC_EIO,     /* a file could not be opened, read, written or renamed */
    GENC_EFORMAT, /* a file's content is malformed, truncated or inconsistent */
    GENC_ENOMEM,  /* out of memory */
    GENC_ESTATE,  /* the call is not valid in the current state */
    GENC_EINTR    /* interrupted by the user (signal) */
} genc_status;

const char *genc_status_name(genc_status s);

typedef struct genc_ctx genc_ctx;

genc_ctx *genc_ctx_new(void);
void genc_ctx_free(genc_ctx *ctx);

/* Record an error (printf-style message) and return `status`. Only the first error since
 * the last genc_clear_error() is kept: the root cause, not its echoes. */
genc_status genc_error(genc_ctx *ctx, genc_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Put a printf-style context in front of the recorded error ("CONTEXT: message"): the file
 * or flag a lower-level parser did not know. With from_file the refused value came from a
 * file, so a recorded GENC_EINVAL becomes GENC_EFORMAT (any other status, out of memory say,
 * stays). Returns the context's status; with no error recorded it does nothing (GENC_OK). */
genc_status genc_error_prefix(genc_ctx *ctx, bool from_file, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
const char *genc_last_error(const genc_ctx *ctx); /* "" when no error */
genc_status genc_ctx_status(const genc_ctx *ctx);  /* GENC_OK when no error */
void genc_clear_error(genc_ctx *ctx);

/* Threads: the total for genc's OpenMP loops and the GEMM library together (they share
 * one OpenMP pool, so they never oversubscribe). 0 means all cores. */
void genc_set_threads(genc_ctx *ctx, int n);
int genc_get_threads(const genc_ctx *ctx);

/* Step arena: activations, their gradients and the autograd tape of one step. Reset
 * after every step; after the first step it allocates nothing (its blocks are merged
 * into one and reused). Returns 64-byte aligned memory, or NULL with GENC_ENOMEM. */
void *genc_arena_alloc(genc_ctx *ctx, size_t bytes);
void *genc_arena_calloc(genc_ctx *ctx, size_t bytes);
void genc_step_reset(genc_ctx *ctx); /* frees every step tensor and the tape */
size_t genc_arena_used(const genc_ctx *ctx);

/* Random numbers: Philox4x32-10 (Salmon et al., SC'11), counter based. Draw i of a
 * stream depends only on (seed, stream offset + i), never on the thread count.
 * genc_rng_take(ctx, n) reserves n draws and returns the offset of the first one. */
void genc_rng_seed(genc_ctx *ctx, uint64_t seed);
uint64_t genc_rng_get_seed(const genc_ctx *ctx);
uint64_t genc_rng_take(genc_ctx *ctx, uint64_t n);
uint64_t genc_rng_offset(const genc_ctx *ctx);            /* for checkpoints */
void genc_rng_set_offset(genc_ctx *ctx, uint64_t offset); /* for resume */
/* Stateless draws: the value at counter `i` of key `seed`. */
uint32_t genc_philox_u32(uint64_t seed, uint64_t i);
double genc_philox_uniform(uint64_t seed, uint64_t i); /* [0, 1), 53 bits */
double genc_philox_normal(uint64_t seed, uint64_t i);  /* N(0,1), Box-Muller */
/* Convenience draws that advance the context's stream. */
double genc_rand_uniform(genc_ctx *ctx);
double genc_rand_normal(genc_ctx *ctx);
/* Index sampled from unnormalised non-negative weights p[0..n-1]; -1 if all zero. */
int64_t genc_rand_categorical(genc_ctx *ctx, const genc_real *p, int64_t n);

/* Files a user names. genc_file_open opens `path` read-only without blocking (a FIFO or a
 * device never stalls the open), then refuses anything but a regular file in one line
 * ("expected a regular file, found a FIFO"); *fd and *size on success (close the fd).
 * genc_file_read_all reads a whole regular file of at most max_bytes (0: no limit) into a
 * malloc'd buffer with a terminating NUL after the n bytes; a larger file is refused before
 * anything is allocated. The path "-" is standard input: read to its end at the first call
 * and kept, so every later read of "-" gets the same bytes (a verb may read its input twice). */
#define GENC_TEXT_MAX_BYTES ((int64_t)1 << 30) /* the limit on text inputs (--data, JSON lines) */
genc_status genc_file_open(genc_ctx *ctx, const char *path, int *fd, int64_t *size);
genc_status genc_file_read_all(genc_ctx *ctx, const char *path, int64_t max_bytes, uint8_t **buf, size_t *n);
/* Atomic writes go through "<path>.tmp.<pid>" (written into tmp, cap bytes), created with
 * O_EXCL | O_NOFOLLOW, so a file or symlink planted there is removed, never written through;
 * first the temporary files of `path` left by writers that died are removed. *fd is open for
 * writing on success. genc_file_remove_stale_tmp removes every "<name>.tmp.<pid>" in dir (of
 * base only, unless base is NULL) whose process is gone; returns how many. */
genc_status genc_file_create_tmp(genc_ctx *ctx, const char *path, char *tmp, size_t cap, int *fd);
int genc_file_remove_stale_tmp(const char *dir, const char *base);

/* A bound on the parameter values a model may allocate, set by a loader from the file it
 * loads: genc_params_new refuses (GENC_EFORMAT, naming `label` and the tensor) a parameter
 * that would take the model past max_values values, before allocating it, so a config that
 * claims more than the file holds fails at once. max_values < 0 lifts the bound. */
void genc_param_budget(genc_ctx *ctx, int64_t max_values, const char *label);

/* Internal-invariant check: prints file, line and condition, then aborts. Never used for
 * anything a user can cause. */
void genc_assert_fail(const char *cond, const char *file, int line);
#define GENC_ASSERT(c) ((c) ? (void)0 : genc_assert_fail(#c, __FILE__, __LINE__))

#ifdef __cplusplus
}
#endif
#endif
