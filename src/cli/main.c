/* genc: the command-line entry point. Dispatches `genc <family> <verb> [flags]` to the
 * verb's file; prints `genc: error: <what>` and exits non-zero on failure. */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

static const genc_cli_verb VERBS[] = {
    {"classify", "train", "train the Fashion-MNIST/MNIST classifier", genc_cli_classify_train},
    {"classify", "eval", "evaluate a classifier checkpoint on a test set", genc_cli_classify_eval},
};
#define N_VERBS (int)(sizeof VERBS / sizeof VERBS[0])

static void usage(FILE *f) {
    fprintf(f, "usage: genc <family> <verb> [flags]   (genc <family> <verb> --help for its flags)\n\n");
    for (int i = 0; i < N_VERBS; i++) fprintf(f, "  genc %-9s %-7s %s\n", VERBS[i].family, VERBS[i].verb, VERBS[i].help);
    fprintf(f, "\n  genc --version       print the version\n");
}

int main(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("genc %s\n", GENC_VERSION);
        return 0;
    }
    bool family_known = false;
    for (int i = 0; i < N_VERBS; i++) {
        if (strcmp(VERBS[i].family, argv[1])) continue;
        family_known = true;
        if (argc >= 3 && !strcmp(VERBS[i].verb, argv[2])) return VERBS[i].run(argc - 3, argv + 3);
    }
    if (!family_known) fprintf(stderr, "genc: error: unknown command \"%s\" (try genc --help)\n", argv[1]);
    else fprintf(stderr, "genc: error: \"%s\" needs a verb, one of those listed by genc --help; found \"%s\"\n",
                 argv[1], argc >= 3 ? argv[2] : "");
    return 2;
}
