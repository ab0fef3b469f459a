/* The genc context: the sticky error message, the thread count, the step arena, the
 * autograd tape and the random stream. Everything a call needs travels in it; genc keeps
 * no hidden global state beyond OpenMP's own thread setting. */
#include "core/internal.h"

#include <omp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_MIN_BLOCK ((size_t)1 << 20)
#define ARENA_ALIGN 64

const char *genc_status_name(genc_status s) {
    switch (s) {
    case GENC_OK: return "ok";
    case GENC_EINVAL: return "invalid argument";
    case GENC_EIO: return "i/o error";
    case GENC_EFORMAT: return "malformed file";
    case GENC_ENOMEM: return "out of memory";
    case GENC_ESTATE: return "invalid state";
    case GENC_EINTR: return "interrupted";
    }
    return "unknown status";
}

genc_ctx *genc_ctx_new(void) {
    genc_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx) return NULL;
    ctx->grad_enabled = true;
    ctx->threads = omp_get_max_threads();
    ctx->rng_seed = 0x5eed;
    ctx->param_budget = -1;
    return ctx;
}

void genc_ctx_free(genc_ctx *ctx) {
    if (!ctx) return;
    for (arena_block *b = ctx->blocks; b;) {
        arena_block *next = b->next;
        free(b);
        b = next;
    }
    genc_profile_free(ctx);
    free(ctx);
}

/* dst <- src with the control characters that came in with user data (a newline in a file's
 * string, a tab in a flag) written as \n, \r, \t or \xHH, so a message is always one line;
 * truncated at a whole character or escape to fit cap. */
static void escape_controls(char *dst, size_t cap, const char *src) {
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)src; *p; p++) {
        char esc[5] = {(char)*p, 0};
        if (*p == '\n') strcpy(esc, "\\n");
        else if (*p == '\r') strcpy(esc, "\\r");
        else if (*p == '\t') strcpy(esc, "\\t");
        else if (*p < 0x20 || *p == 0x7f) snprintf(esc, sizeof esc, "\\x%02x", *p);
        size_t n = strlen(esc);
        if (o + n + 1 > cap) break;
        memcpy(dst + o, esc, n), o += n;
    }
    dst[o] = 0;
}

genc_status genc_error(genc_ctx *ctx, genc_status status, const char *fmt, ...) {
    if (ctx && ctx->status == GENC_OK && status != GENC_OK) {
        char raw[sizeof ctx->msg];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(raw, sizeof raw, fmt, ap);
        va_end(ap);
        escape_controls(ctx->msg, sizeof ctx->msg, raw);
        ctx->status = status;
    }
    return status;
}

genc_status genc_error_prefix(genc_ctx *ctx, bool from_file, const char *fmt, ...) {
    if (!ctx || ctx->status == GENC_OK) return ctx ? ctx->status : GENC_OK;
    if (from_file && ctx->status == GENC_EINVAL) ctx->status = GENC_EFORMAT;
    char raw[sizeof ctx->msg], head[sizeof ctx->msg], old[sizeof ctx->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(raw, sizeof raw, fmt, ap);
    va_end(ap);
    escape_controls(head, sizeof head, raw);
    memcpy(old, ctx->msg, sizeof old);
    size_t h = strlen(head), o = strlen(old), cap = sizeof ctx->msg - 1;
    if (h > cap - 2) h = cap - 2;
    if (o > cap - 2 - h) o = cap - 2 - h; /* the message is long: its end goes */
    memcpy(ctx->msg, head, h), memcpy(ctx->msg + h, ": ", 2), memcpy(ctx->msg + h + 2, old, o);
    ctx->msg[h + 2 + o] = 0;
    return ctx->status;
}

const char *genc_last_error(const genc_ctx *ctx) { return ctx->status ? ctx->msg : ""; }
genc_status genc_ctx_status(const genc_ctx *ctx) { return ctx->status; }
void genc_clear_error(genc_ctx *ctx) {
    ctx->status = GENC_OK;
    ctx->msg[0] = 0;
}

void genc_param_budget(genc_ctx *ctx, int64_t max_values, const char *label) {
    ctx->param_budget = max_values < 0 ? -1 : max_values;
    ctx->param_used = 0;
    snprintf(ctx->budget_label, sizeof ctx->budget_label, "%s", label ? label : "(model file)");
}

/* OpenBLAS is the OpenMP build, so omp_set_num_threads governs its GEMMs too, and inside
 * a genc parallel region it runs single-threaded: one pool, never oversubscribed. */
void genc_set_threads(genc_ctx *ctx, int n) {
    if (n <= 0) n = omp_get_num_procs();
    ctx->threads = n;
    omp_set_num_threads(n);
}
int genc_get_threads(const genc_ctx *ctx) { return ctx->threads; }

/* ---- step arena ---- */

static arena_block *arena_block_new(size_t cap) {
    arena_block *b = malloc(sizeof *b + cap + ARENA_ALIGN);
    if (!b) return NULL;
    b->cap = cap;
    b->used = 0;
    b->next = NULL;
    return b;
}

void *genc_arena_alloc(genc_ctx *ctx, size_t bytes) {
    arena_block *b = ctx->blocks;
    uintptr_t base = b ? (uintptr_t)b->mem : 0;
    size_t off = b ? ((base + b->used + ARENA_ALIGN - 1) & ~(uintptr_t)(ARENA_ALIGN - 1)) - base : 0;
    if (!b || off + bytes > b->cap) {
        size_t cap = b ? 2 * b->cap : ARENA_MIN_BLOCK;
        if (cap < bytes + ARENA_ALIGN) cap = bytes + ARENA_ALIGN;
        arena_block *nb = arena_block_new(cap);
        if (!nb) {
            genc_error(ctx, GENC_ENOMEM, "out of memory: the step arena needs %zu more bytes", bytes);
            return NULL;
        }
        nb->next = b;
        ctx->blocks = b = nb;
        base = (uintptr_t)b->mem;
        off = ((base + ARENA_ALIGN - 1) & ~(uintptr_t)(ARENA_ALIGN - 1)) - base;
    }
    b->used = off + bytes;
    ctx->arena_live += bytes;
    return b->mem + off;
}

void *genc_arena_calloc(genc_ctx *ctx, size_t bytes) {
    void *p = genc_arena_alloc(ctx, bytes);
    if (p) memset(p, 0, bytes);
    return p;
}

/* Forget the step. If it spilled over several blocks, replace them by one block big enough
 * for all of them, so the next step of the same shape allocates nothing. */
void genc_step_reset(genc_ctx *ctx) {
    arena_block *b = ctx->blocks;
    if (b && b->next) {
        size_t total = 0;
        for (arena_block *p = b; p; p = p->next) total += p->cap;
        arena_block *one = arena_block_new(total);
        if (one) {
            while (b) {
                arena_block *next = b->next;
                free(b);
                b = next;
            }
            ctx->blocks = one;
        }
    }
    for (arena_block *p = ctx->blocks; p; p = p->next) p->used = 0;
    ctx->arena_live = 0;
    ctx->grad_pool = NULL;
    ctx->tape = NULL;
    ctx->tape_len = 0;
}

size_t genc_arena_used(const genc_ctx *ctx) { return ctx->arena_live; }

void genc_assert_fail(const char *cond, const char *file, int line) {
    fprintf(stderr, "genc: internal error: %s:%d: assertion failed: %s\n", file, line, cond);
    abort();
}
