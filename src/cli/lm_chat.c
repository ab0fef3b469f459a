/* genc lm chat: an interactive multi-turn loop over standard input. Each line is a user turn;
 * the model's reply streams to stdout as it is generated and joins the conversation, so the
 * next turn sees it. /reset starts afresh, /quit (or end of input) leaves. Templates: plain
 * ("User: ... Assistant: ..." turns) or r1 (the R1-Zero paper's instruction first, each reply
 * opened with <think>). A conversation that no longer fits the model's positions starts afresh
 * with a note. */
#include "cli/cli.h"
#include "cli/lm_common.h"
#include "genc/lm_infer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *R1_HEAD =
    "A conversation between User and Assistant. The user asks a question, and the Assistant solves it. "
    "The assistant first thinks about the reasoning process in the mind and then provides the user with the "
    "answer. The reasoning process and answer are enclosed within <think> </think> and <answer> </answer> tags, "
    "respectively, i.e., <think> reasoning process here </think> <answer> answer here </answer>.";

typedef struct {
    const char *checkpoint, *tmpl;
    int64_t max_new, top_k, seed, threads;
    double temperature, top_p;
} chat_args;

typedef struct {
    char *text;
    size_t n, cap;
} buf;

static bool append(buf *b, const char *s, size_t n) {
    if (b->n + n + 1 > b->cap) {
        size_t cap = (b->n + n + 1) * 2;
        char *t = realloc(b->text, cap);
        if (!t) return false;
        b->text = t, b->cap = cap;
    }
    memcpy(b->text + b->n, s, n);
    b->n += n, b->text[b->n] = 0;
    return true;
}

static int stream(void *user, int64_t row, int32_t id, const uint8_t *text, size_t n) {
    if (n) fwrite(text, 1, n, stdout);
    fflush(stdout);
    return genc_cli_stop;
}

/* One turn: the conversation plus the user's line, the reply streamed and appended. *fits is
 * false (and nothing generated) when the conversation leaves no room in the model. */
static genc_status turn(genc_ctx *ctx, genc_lm *m, genc_tokenizer *tok, const chat_args *a, buf *conv, const char *line,
                        bool *fits) {
    bool r1 = !strcmp(a->tmpl, "r1"), first = conv->n == 0;
    const char *user = r1 ? " User: " : first ? "User: " : "\nUser: ", *open = r1 ? " Assistant: <think>" : "\nAssistant:";
    if ((first && r1 && !append(conv, R1_HEAD, strlen(R1_HEAD))) || !append(conv, user, strlen(user)) ||
        !append(conv, line, strlen(line)) || !append(conv, open, strlen(open)))
        return genc_error(ctx, GENC_ENOMEM, "out of memory");
    int32_t *ids = NULL;
    size_t n = 0;
    genc_status s = genc_tokenizer_encode(tok, ctx, (const uint8_t *)conv->text, conv->n, true, &ids, &n);
    *fits = s || (int64_t)n + 1 <= m->cfg.max_seq;
    if (!*fits) {
        free(ids);
        return GENC_OK;
    }
    const char *stops[] = {"\nUser:", " User:"};
    int64_t plen = (int64_t)n, room = m->cfg.max_seq - plen;
    genc_gen_config cf = {.max_new = a->max_new < room ? a->max_new : room,
                          .sampler = {a->temperature, a->top_k, a->top_p}, .eos_id = genc_tokenizer_special(tok, "<|eos|>"),
                          .tok = tok, .stops = stops, .n_stops = 2, .on_token = stream};
    const int32_t *prompts[1] = {ids};
    genc_gen_result r = {0};
    if (!s && r1) fputs("<think>", stdout);
    if (!s) s = genc_lm_generate(ctx, m, prompts, &plen, 1, &cf, &r);
    uint8_t *reply = NULL;
    size_t rn = 0;
    if (!s) s = genc_tokenizer_decode(tok, ctx, r.tokens, (size_t)r.len[0], &reply, &rn);
    for (int k = 0; !s && k < 2; k++) { /* the reply ends before a stop string */
        char *cut = strstr((char *)reply, stops[k]);
        if (cut) rn = (size_t)(cut - (char *)reply), *cut = 0;
    }
    if (!s && !append(conv, (const char *)reply, rn)) s = genc_error(ctx, GENC_ENOMEM, "out of memory");
    if (!s) printf("\n");
    fflush(stdout);
    free(reply), free(ids);
    genc_gen_result_free(&r);
    return s;
}

static genc_status run_chat(genc_ctx *ctx, void *args) {
    const chat_args *a = args;
    genc_lm m = {0};
    genc_tokenizer *tok = NULL;
    buf conv = {0};
    char line[8192];
    bool tty = isatty(0);
    genc_status s = genc_lm_load(ctx, a->checkpoint, true, &m, &tok);
    if (!s && tty)
        fprintf(stderr, "genc lm chat: %s, %s template; /reset starts afresh, /quit leaves\n", a->checkpoint, a->tmpl);
    while (!s && !genc_cli_stop) {
        if (tty) fputs("> ", stderr);
        if (!fgets(line, sizeof line, stdin)) break;
        line[strcspn(line, "\r\n")] = 0;
        if (!strcmp(line, "/quit") || !strcmp(line, "/exit")) break;
        if (!strcmp(line, "/reset")) {
            conv.n = 0;
            if (tty) fputs("(a new conversation)\n", stderr);
            continue;
        }
        if (!*line) continue;
        size_t before = conv.n;
        bool fits = true;
        s = turn(ctx, &m, tok, a, &conv, line, &fits);
        if (!s && !fits && before > 0) { /* too long with the history: afresh */
            fprintf(stderr, "genc: note: the conversation no longer fits the model's %d positions; starting afresh\n",
                    m.cfg.max_seq);
            conv.n = 0;
            s = turn(ctx, &m, tok, a, &conv, line, &fits);
        }
        if (!s && !fits)
            s = genc_error(ctx, GENC_EINVAL, "the line (%zu bytes) does not fit the model's %d positions", strlen(line),
                           m.cfg.max_seq);
    }
    free(conv.text);
    genc_tokenizer_free(tok);
    if (m.blocks) genc_lm_free(&m);
    return s;
}

int genc_cli_lm_chat(int argc, char **argv) {
    chat_args a = {.checkpoint = "runs/lm/checkpoint.safetensors", .tmpl = "plain", .max_new = 256, .seed = 1,
                   .temperature = 0.8, .top_p = 1.0};
    genc_flag flags[] = {
        {"checkpoint", FLAG_STRING, &a.checkpoint, "model checkpoint (genc lm train's or lm grpo's)"},
        {"template", FLAG_STRING, &a.tmpl, "turns as \"User: ... Assistant: ...\" (plain), or after the R1-Zero "
                                           "instruction with each reply opened by <think> (r1)", .choices = "plain|r1"},
        {"max-new", FLAG_INT, &a.max_new, "tokens per reply at most", 1, 1 << 24},
        {"temperature", FLAG_DOUBLE, &a.temperature, "softmax temperature (0: greedy)", 0, 100},
        {"top-k", FLAG_INT, &a.top_k, "sample among the k most likely tokens (0: all)", 0, 1 << 24},
        {"top-p", FLAG_DOUBLE, &a.top_p, "nucleus: the smallest set with this much mass (1: all)", 1e-9, 1},
        {"seed", FLAG_INT, &a.seed, "random seed of the sampler", 0, 9.2e18},
        GENC_THREADS_FLAG_ENTRY(a),
    };
    int n = (int)(sizeof flags / sizeof *flags);
    int r = genc_flags_parse("lm chat", "Chat with a language model: one line per turn on standard input, replies "
                             "streamed; /reset, /quit.", flags, n, argc, argv);
    if (!r && a.temperature == 0)
        r = genc_flag_refuse("lm chat", flags, n, "top-k top-p", "with --temperature 0 (greedy decoding takes the most likely token)");
    if (r) return r == 1 ? 0 : 2;
    return genc_cli_run(a.threads, a.seed, run_chat, &a);
}
