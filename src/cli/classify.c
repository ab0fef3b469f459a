/* genc classify train|eval: the Fashion-MNIST / MNIST classifier verbs. */
#include "cli/cli.h"
#include <stdio.h>
int genc_cli_classify_train(int argc, char **argv) { fprintf(stderr, "genc: error: classify train: unavailable in this build\n"); return 1; }
int genc_cli_classify_eval(int argc, char **argv) { fprintf(stderr, "genc: error: classify eval: unavailable in this build\n"); return 1; }
