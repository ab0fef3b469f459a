/* File helpers the reference-test drivers (the C files in tests/reference) share: a whole text file as
 * a NUL-terminated string, and an exact number of bytes of a binary file. Each returns a
 * malloc'd buffer (the caller frees) or NULL when the file cannot be opened or is short. */
#ifndef GENC_TOOL_IO_H
#define GENC_TOOL_IO_H
#include <stdio.h>
#include <stdlib.h>

static inline char *tool_read_text(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (s && fread(s, 1, (size_t)n, f) != (size_t)n) free(s), s = NULL;
    if (s) s[n] = 0;
    fclose(f);
    return s;
}

static inline void *tool_read_bytes(const char *path, size_t bytes) {
    FILE *f = fopen(path, "rb");
    void *buf = malloc(bytes ? bytes : 1);
    size_t got = f && buf ? fread(buf, 1, bytes, f) : 0;
    if (f) fclose(f);
    if (got != bytes) free(buf), buf = NULL;
    return buf;
}
#endif
