/* label.h - text labels on float RGB images (the contact sheets of gs
 * eval-nvs): stb_easy_font (Debian libstb, public domain) lays out ASCII
 * text as axis-aligned quads on a 1-pixel grid, rasterised here at an
 * integer scale, on a dark backing box for contrast. */
#ifndef GS_EVAL_LABEL_H
#define GS_EVAL_LABEL_H

#include "data/image.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Size in pixels of text ('\n' separates lines) at an integer scale >= 1:
 * the quads' extent, not counting the backing box. */
void gs_text_size(const char *text, int scale, int *width, int *height);
/* Draw text with its top-left corner at (x, y) in colour rgb, each font
 * pixel a scale x scale square; only pixels inside the clip rectangle
 * [cx0, cx1) x [cy0, cy1) (and the image) are written. Bytes outside
 * printable ASCII are drawn as '?'. The image must have 3 channels.
 * Returns the number of pixels written. */
int gs_draw_text(gs_image *im, int x, int y, const char *text, int scale, const float rgb[3], int cx0, int cy0,
                 int cx1, int cy1);
/* Padding of the backing box around the text, in pixels at scale s. */
#define GS_LABEL_PAD(s) (2 * (s))
/* A label: a box of the text's size plus GS_LABEL_PAD on each side at (x,
 * y), its pixels darkened to a quarter, with the text in white inside; both
 * clipped as gs_draw_text. *box_w, *box_h (may be NULL) receive the box size. */
void gs_draw_label(gs_image *im, int x, int y, const char *text, int scale, int cx0, int cy0, int cx1, int cy1,
                   int *box_w, int *box_h);

#ifdef __cplusplus
}
#endif
#endif
