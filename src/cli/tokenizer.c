/* genc tokenizer train|encode|decode: learn a byte-level BPE tokenizer from text files and
 * print its statistics; print the token ids of a text or file with a saved tokenizer, and
 * the text of token ids. A file named "-" is standard input. */
#include "cli/cli.h"
#include "genc/tokenizer.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int usage_error(const char *cmd, const char *what) {
    fprintf(stderr, "genc: error: %s: %s (see genc %s --help)\n", cmd, what, cmd);
    return 2;
}

static genc_status read_file(genc_ctx *ctx, const char *path, uint8_t **buf, size_t *n) {
    return genc_file_read_all(ctx, path, GENC_TEXT_MAX_BYTES, buf, n);
}

/* Split a comma-separated list in place; NULL when an entry is empty. */
static char **split_list(char *s, int *n) {
    int k = 1;
    for (const char *p = s; *p; p++) k += *p == ',';
    char **out = malloc((size_t)k * sizeof *out);
    if (!out) return NULL;
    *n = 0;
    for (char *p = s;; p++) {
        char *c = strchr(p, ',');
        if (c) *c = 0;
        if (!*p) break;
        out[(*n)++] = p;
        if (!c) return out;
        p = c;
    }
    free(out);
    return NULL;
}

/* Encode every training file again: bytes and tokens, for the compression line. */
static genc_status measure(genc_ctx *ctx, genc_tokenizer *t, char **files, int n, size_t *bytes, size_t *tokens) {
    *bytes = *tokens = 0;
    for (int i = 0; i < n; i++) {
        uint8_t *buf;
        size_t len, n_ids;
        int32_t *ids;
        genc_status s = read_file(ctx, files[i], &buf, &len);
        if (!s) s = genc_tokenizer_encode(t, ctx, buf, len, true, &ids, &n_ids);
        free(buf);
        if (s) return s;
        free(ids);
        *bytes += len, *tokens += n_ids;
    }
    return GENC_OK;
}

static genc_status run_train(genc_ctx *ctx, char **files, int n_files, int vocab, const char *pretok, genc_tags tags,
                             const char *out) {
    double t0 = now_s();
    genc_tokenizer *t = NULL;
    genc_pretokenizer p = GENC_PRETOK_DEFAULT;
    genc_pretokenizer_parse(pretok, &p); /* the flag's choices are the names */
    genc_status s = genc_tokenizer_train_with(ctx, (const char *const *)files, n_files, vocab, p, tags, &t);
    double t1 = now_s();
    size_t bytes = 0, tokens = 0;
    if (!s) s = measure(ctx, t, files, n_files, &bytes, &tokens);
    double t2 = now_s();
    if (!s) s = genc_tokenizer_save(t, ctx, out);
    if (!s) {
        int v = genc_tokenizer_vocab_size(t);
        printf("tokenizer train: read %zu bytes from %d file%s\n", bytes, n_files, n_files == 1 ? "" : "s");
        printf("learned %d merges (vocab %d) in %.2f s%s\n", genc_tokenizer_n_merges(t), v, t1 - t0,
               v < vocab ? "; the text has no more adjacent pairs to merge" : "");
        printf("compression: %.3f bytes/token on the training text (%zu tokens; encoded in %.2f s, %.1f MB/s)\n",
               tokens ? (double)bytes / (double)tokens : 0.0, tokens, t2 - t1,
               t2 > t1 ? (double)bytes / 1e6 / (t2 - t1) : 0.0);
        printf("wrote %s\n", out);
    }
    genc_tokenizer_free(t);
    return s;
}

int genc_cli_tokenizer_train(int argc, char **argv) {
    const char *input = NULL, *out = "tokenizer.safetensors", *tags = "special";
    const char *pretok = genc_pretokenizer_name(GENC_PRETOK_DEFAULT);
    int64_t vocab = 4096;
    genc_flag flags[] = {
        {"input", FLAG_STRING, &input, "training text files, comma-separated (a.txt,b.txt; -: standard input); required"},
        {"vocab", FLAG_INT, &vocab, "vocabulary size: 256 bytes + 7 special tokens + merges", GENC_TOK_FIRST_MERGE,
         262144},
        {"pretok", FLAG_STRING, &pretok, "pre-tokenisation (qwen2: Qwen2's regex, digits single, as llama.cpp and HF "
         "split it; genc-v1: genc's first, digits single, genc only; gpt2: GPT-2's regex, digit runs)",
         .choices = "qwen2|genc-v1|gpt2"},
        {"tags", FLAG_STRING, &tags, "<think> </think> <answer> </answer>: single special tokens, or text like any "
                                     "markup", .choices = "special|text"},
        {"out", FLAG_STRING, &out, "the tokenizer file to write (safetensors)"},
    };
    const char *cmd = "tokenizer train";
    int r = genc_flags_parse(cmd,
                             "Learn a byte-level BPE tokenizer from text files; prints bytes read, merges learned, time "
                             "and compression.\nSpecial tokens: <|bos|> <|eos|> <|pad|> <think> </think> <answer> "
                             "</answer> (ids 256..262).",
                             flags, (int)(sizeof flags / sizeof *flags), argc, argv);
    if (r) return r == 1 ? 0 : 2;
    if (!input) return usage_error(cmd, "--input is required");
    char *list = strdup(input);
    int n_files = 0;
    char **files = list ? split_list(list, &n_files) : NULL;
    if (!files) {
        free(list);
        return usage_error(cmd, "--input expects comma-separated file names, none empty");
    }
    genc_ctx *ctx = genc_ctx_new();
    int code = !ctx ? (fprintf(stderr, "genc: error: out of memory\n"), 1)
                    : run_train(ctx, files, n_files, (int)vocab, pretok, strcmp(tags, "text") ? GENC_TAGS_SPECIAL : GENC_TAGS_TEXT,
                                out) ? genc_cli_fail(ctx) : 0;
    genc_ctx_free(ctx);
    free(files), free(list);
    return code;
}

static genc_status run_encode(genc_ctx *ctx, const char *tok_path, const char *text, const char *file,
                              bool special) {
    genc_tokenizer *t = NULL;
    uint8_t *buf = NULL;
    size_t n = 0, n_ids = 0;
    int32_t *ids = NULL;
    genc_status s = genc_tokenizer_load(ctx, tok_path, &t);
    if (!s && file) s = read_file(ctx, file, &buf, &n);
    const uint8_t *bytes = file ? buf : (const uint8_t *)text;
    if (!s) s = genc_tokenizer_encode(t, ctx, bytes, file ? n : strlen(text), special, &ids, &n_ids);
    for (size_t i = 0; !s && i < n_ids; i++) printf(i ? " %d" : "%d", ids[i]);
    if (!s) printf("\n");
    if (!s && fflush(stdout)) s = genc_error(ctx, GENC_EIO, "stdout: cannot write: %s", strerror(errno));
    free(ids), free(buf);
    genc_tokenizer_free(t);
    return s;
}

int genc_cli_tokenizer_encode(int argc, char **argv) {
    const char *tok = NULL, *text = NULL, *file = NULL;
    bool special = false;
    genc_flag flags[] = {
        {"tokenizer", FLAG_STRING, &tok, "tokenizer file (from genc tokenizer train, or a checkpoint holding one)"},
        {"text", FLAG_STRING, &text, "the text to encode"},
        {"file", FLAG_STRING, &file, "a file to encode (instead of --text; -: standard input)"},
        {"special", FLAG_BOOL, &special, "match special token strings such as <|eos|> as single tokens"},
    };
    const char *cmd = "tokenizer encode";
    int r = genc_flags_parse(cmd, "Print the token ids of a text or file, space-separated on one line.", flags,
                             (int)(sizeof flags / sizeof *flags), argc, argv);
    if (r) return r == 1 ? 0 : 2;
    if (!tok) return usage_error(cmd, "--tokenizer is required");
    if (!text == !file) return usage_error(cmd, "give exactly one of --text and --file");
    genc_ctx *ctx = genc_ctx_new();
    int code = !ctx ? (fprintf(stderr, "genc: error: out of memory\n"), 1)
                    : run_encode(ctx, tok, text, file, special) ? genc_cli_fail(ctx) : 0;
    genc_ctx_free(ctx);
    return code;
}

/* Whitespace- or comma-separated token ids in `text` (`what` names it in errors). */
static genc_status parse_ids(genc_ctx *ctx, const char *what, const char *text, int32_t **ids, size_t *n) {
    size_t cap = 16;
    *n = 0;
    *ids = malloc(cap * sizeof **ids);
    for (const char *p = text; *ids;) {
        p += strspn(p, " \t\r\n,");
        if (!*p) return GENC_OK;
        char *end;
        errno = 0;
        long long v = strtoll(p, &end, 10);
        if (end == p || errno || v < 0 || v > INT32_MAX || (*end && !strchr(" \t\r\n,", *end)))
            return genc_error(ctx, GENC_EINVAL, "%s: expected token ids (integers >= 0), found \"%.*s\" as id %zu", what,
                              (int)strcspn(p, " \t\r\n,"), p, *n + 1);
        if (*n == cap) {
            int32_t *more = realloc(*ids, 2 * cap * sizeof **ids);
            if (!more) break;
            *ids = more, cap *= 2;
        }
        (*ids)[(*n)++] = (int32_t)v, p = end;
    }
    return genc_error(ctx, GENC_ENOMEM, "out of memory");
}

static genc_status run_decode(genc_ctx *ctx, const char *tok_path, const char *text, const char *file) {
    genc_tokenizer *t = NULL;
    uint8_t *buf = NULL, *bytes = NULL;
    size_t n = 0, n_ids = 0, n_bytes = 0;
    int32_t *ids = NULL;
    genc_status s = genc_tokenizer_load(ctx, tok_path, &t);
    if (!s && file) s = read_file(ctx, file, &buf, &n);
    if (!s) s = parse_ids(ctx, file ? file : "--ids", file ? (const char *)buf : text, &ids, &n_ids);
    if (!s) s = genc_tokenizer_decode(t, ctx, ids, n_ids, &bytes, &n_bytes);
    if (!s && (fwrite(bytes, 1, n_bytes, stdout) != n_bytes || fflush(stdout)))
        s = genc_error(ctx, GENC_EIO, "stdout: cannot write: %s", strerror(errno));
    free(ids), free(buf), free(bytes);
    genc_tokenizer_free(t);
    return s;
}

int genc_cli_tokenizer_decode(int argc, char **argv) {
    const char *tok = NULL, *ids = NULL, *file = NULL;
    genc_flag flags[] = {
        {"tokenizer", FLAG_STRING, &tok, "tokenizer file (from genc tokenizer train, or a checkpoint holding one)"},
        {"ids", FLAG_STRING, &ids, "token ids, separated by spaces or commas (as tokenizer encode prints them)"},
        {"file", FLAG_STRING, &file, "a file of token ids (instead of --ids; -: standard input)"},
    };
    const char *cmd = "tokenizer decode";
    int r = genc_flags_parse(cmd, "Print the text of token ids (the inverse of tokenizer encode).", flags,
                             (int)(sizeof flags / sizeof *flags), argc, argv);
    if (r) return r == 1 ? 0 : 2;
    if (!tok) return usage_error(cmd, "--tokenizer is required");
    if (!ids == !file) return usage_error(cmd, "give exactly one of --ids and --file");
    genc_ctx *ctx = genc_ctx_new();
    int code = !ctx ? (fprintf(stderr, "genc: error: out of memory\n"), 1)
                    : run_decode(ctx, tok, ids, file) ? genc_cli_fail(ctx) : 0;
    genc_ctx_free(ctx);
    return code;
}
