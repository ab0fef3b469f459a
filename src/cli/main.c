/* genc: the command-line entry point. Dispatches `genc <family> <verb> [flags]` to the
 * verb's file; prints `genc: error: <what>` and exits non-zero on failure. */
#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const genc_cli_verb VERBS[] = {
    {"classify", "train", "train the Fashion-MNIST/MNIST classifier", genc_cli_classify_train},
    {"classify", "eval", "evaluate a classifier checkpoint on a test set", genc_cli_classify_eval},
    {"image", "train", "train an image model: NICE/Glow flow, or --model ddpm|rflow", genc_cli_image_train_dispatch},
    {"image", "eval", "test log-likelihood and bits/dim of an image model", genc_cli_image_eval},
    {"image", "sample", "sample an image model into a PNG grid (diffusion: --sampler)", genc_cli_image_sample_dispatch},
    {"image", "fid", "FID on classifier features: checkpoints, PNG folders, data splits", genc_cli_image_fid},
    {"tokenizer", "train", "train a byte-level BPE tokenizer on text files", genc_cli_tokenizer_train},
    {"tokenizer", "encode", "print the token ids of a text", genc_cli_tokenizer_encode},
    {"tokenizer", "decode", "print the text of token ids", genc_cli_tokenizer_decode},
    {"lm", "train", "train a DeepSeek-V3-architecture language model", genc_cli_lm_train},
    {"lm", "sample", "generate text from a language-model checkpoint", genc_cli_lm_sample},
    {"lm", "chat", "chat with a language model: multi-turn over standard input", genc_cli_lm_chat},
    {"lm", "prefix-tune", "prefix-tune a frozen language model on input/output examples", genc_cli_lm_prefix_tune},
    {"lm", "corpus", "write a reasoning task's pre-training corpus", genc_cli_lm_corpus},
    {"lm", "grpo", "reinforcement learning with GRPO and rule-based rewards", genc_cli_lm_grpo},
    {"lm", "eval", "loss and perplexity of a language model on text; --dump-logits", genc_cli_lm_eval},
    {"lm", "export", "export a language model: GGUF for llama.cpp, Hugging Face folder", genc_cli_lm_export},
    {"lm", "quantize", "write a model's weights as FP8 (E4M3, 128x128 block scales)", genc_cli_lm_quantize},
};
#define N_VERBS (int)(sizeof VERBS / sizeof VERBS[0])

/* Every verb, or only those of `family` (non-NULL). */
static void usage(FILE *f, const char *family) {
    fprintf(f, "usage: genc %s <verb> [flags]   (genc %s <verb> --help for its flags)\n\n", family ? family : "<family>",
            family ? family : "<family>");
    for (int i = 0; i < N_VERBS; i++)
        if (!family || !strcmp(family, VERBS[i].family))
            fprintf(f, "  genc %-9s %-11s %s\n", VERBS[i].family, VERBS[i].verb, VERBS[i].help);
    if (!family)
        fprintf(f, "\n  genc info FILE|DIR   what a model, tokenizer, GGUF file or Hugging Face folder is\n"
                   "  genc --version       print the version\n"
                   "  genc completion bash|zsh   shell completion (eval \"$(genc completion bash)\")\n"
                   "  genc man             the manual page (genc man | man -l -)\n");
}

/* libgomp spins 300,000 times at every barrier by default. When another process holds a
 * core, a loop's threads then wait out whole scheduler slices at each of the hundreds of
 * small parallel regions of a training step (measured: a tiny LM step 17x slower on 2
 * threads than on 1). A short spin keeps hand-offs fast on an idle machine and yields the
 * core on a busy one. libgomp reads the setting once, at load time, so genc sets it and
 * re-executes itself once, unless the user chose a policy (OMP_WAIT_POLICY/GOMP_SPINCOUNT). */
static void tune_openmp_waiting(char **argv) {
    if (getenv("OMP_WAIT_POLICY") || getenv("GOMP_SPINCOUNT")) return;
    setenv("GOMP_SPINCOUNT", "1000", 1);
    execv("/proc/self/exe", argv); /* on failure, carry on with the default */
}

int main(int argc, char **argv) {
    tune_openmp_waiting(argv);
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout, NULL);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "info")) return genc_cli_info(argc - 2, argv + 2);
    if (!strcmp(argv[1], "--version")) {
        printf("genc %s\n", GENC_VERSION);
        return 0;
    }
    if (!strcmp(argv[1], "completion")) return genc_cli_completion(VERBS, N_VERBS, argc - 2, argv + 2);
    if (!strcmp(argv[1], "man")) return genc_cli_man(VERBS, N_VERBS);
    bool family_known = false;
    for (int i = 0; i < N_VERBS; i++) {
        if (strcmp(VERBS[i].family, argv[1])) continue;
        family_known = true;
        if (argc >= 3 && !strcmp(VERBS[i].verb, argv[2])) return VERBS[i].run(argc - 3, argv + 3);
    }
    if (family_known && argc == 3 && (!strcmp(argv[2], "--help") || !strcmp(argv[2], "-h"))) {
        usage(stdout, argv[1]); /* `genc lm --help`: the family's verbs */
        return 0;
    }
    if (!family_known) fprintf(stderr, "genc: error: unknown command \"%s\" (try genc --help)\n", argv[1]);
    else fprintf(stderr, "genc: error: \"%s\" needs a verb, one of those listed by genc --help; found \"%s\"\n",
                 argv[1], argc >= 3 ? argv[2] : "");
    return 2;
}
