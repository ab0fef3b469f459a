/* The front-ends' side of multi-process training: join the MPI job (one rank when not launched
 * by mpirun/srun), keep ranks other than 0 quiet (they print only their own failures; a failure
 * every rank saw is rank 0's to report), run the verb, leave the job. */
#include "cli/cli.h"

#include <stdio.h>

genc_status genc_cli_dist_run(genc_ctx *ctx, double timeout, genc_status (*body)(genc_ctx *, void *, genc_dist *),
                              void *args) {
    genc_dist *dist = NULL;
    genc_status s = genc_dist_open(ctx, timeout, &dist);
    if (!s && genc_dist_rank(dist) != 0 && !freopen("/dev/null", "w", stdout))
        s = genc_error(ctx, GENC_EIO, "cannot silence rank %d's standard output", genc_dist_rank(dist));
    if (!s) s = body(ctx, args, dist);
    if (s && genc_dist_rank(dist) != 0 && genc_dist_failed_together(dist)) (void)!freopen("/dev/null", "w", stderr);
    genc_dist_close(dist, s != GENC_OK);
    return s;
}
