/* genc png: PNG output (grey, RGB, image grids) and line plots drawn by genc's own rasteriser
 * with a built-in 5x7 bitmap font, and grey images read back from a PNG. Every write is
 * atomic: the image goes to path.tmp.<pid>, is fsync'ed, then renamed over `path`. */
#ifndef GENC_PNG_H
#define GENC_PNG_H

#include <stdbool.h>
#include <stdint.h>

#include "core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* pix: [height, width] bytes; rgb: [height, width, 3] bytes. 1 <= width, height <= 16384. */
genc_status genc_png_write_gray(genc_ctx *ctx, const char *path, const uint8_t *pix, int width,
                                int height);
genc_status genc_png_write_rgb(genc_ctx *ctx, const char *path, const uint8_t *rgb, int width,
                               int height);

/* Grid of n grey images (each [h, w] floats, clamped to [0,1], NaN as 0) in min(cols, n)
 * columns, row-major, with a 2-pixel mid-grey (128) border around and between the images;
 * unused cells are border grey. Size: (cols*(w+2)+2) x (rows*(h+2)+2). */
#define GENC_GRID_BORDER 2
#define GENC_GRID_BORDER_VALUE 128
genc_status genc_png_grid(genc_ctx *ctx, const char *path, const float *images, int n, int h,
                          int w, int cols);

/* Read rows x cols grey images back from a PNG (any PNG, converted to 8-bit grey): either one
 * rows x cols image or a grid as genc_png_grid writes it (cells that are all border grey are
 * skipped). At most `room` images go to out ([room, rows, cols] floats, v / 255); *got says
 * how many. A PNG over 16384 pixels a side, of another size, or unreadable is an error naming
 * the file. */
genc_status genc_png_read_cells(genc_ctx *ctx, const char *path, int rows, int cols, float *out, int64_t room,
                                int64_t *got);

/* Line plot of 1..8 series on a white background: axes, grid, numbered ticks, title, axis
 * labels and a legend. Points with a non-finite x or y (or y <= 0 when log_y) are skipped
 * and break the line. width >= 160, height >= 120. Text outside the font draws as '?'. */
typedef struct {
    const char *name;
    const double *x;
    const double *y;
    int n;
} genc_plot_series;
#define GENC_PLOT_MAX_SERIES 8
genc_status genc_plot_png(genc_ctx *ctx, const char *path, const char *title, const char *xlabel,
                          const char *ylabel, const genc_plot_series *series, int n_series,
                          bool log_y, int width, int height);

/* Plot columns of a JSON-lines metrics file (800x500): each line that is an object with
 * numbers at xkey and ykeys[k] gives a point of series k. Blank lines and a partial last
 * line (no newline, not valid JSON) are skipped; other invalid lines are errors, and so is
 * a file where no line has a point. The title says what is plotted ("loss and val_loss by
 * step"); genc_plot_jsonl_labelled takes the title and axis labels (with units), and adds
 * "(log scale)" to the y label when log_y. */
genc_status genc_plot_jsonl(genc_ctx *ctx, const char *jsonl_path, const char *png_path,
                            const char *xkey, const char **ykeys, int n_ykeys, bool log_y);
genc_status genc_plot_jsonl_labelled(genc_ctx *ctx, const char *jsonl_path, const char *png_path, const char *title,
                                     const char *xlabel, const char *ylabel, const char *xkey, const char **ykeys,
                                     int n_ykeys, bool log_y);

/* The 5x7 font: rows[r] (r = 0 top .. 6) holds the glyph's pixels in its low 5 bits, bit 4
 * the leftmost. Returns false (and the '?' glyph) for a character not in the font. */
#define GENC_FONT_W 5
#define GENC_FONT_H 7
bool genc_font5x7_glyph(int ch, uint8_t rows[GENC_FONT_H]);

#ifdef __cplusplus
}
#endif
#endif
