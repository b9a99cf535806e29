/* label.c - text labels on float RGB images (label.h), with the quads of
 * stb_easy_font rasterised at an integer scale. */
#include "eval/label.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wmissing-braces"
#include <stb_easy_font.h>
#pragma GCC diagnostic pop

/* One vertex of stb_easy_font_print's buffer: x, y, z, colour. */
typedef struct {
    float x, y, z;
    unsigned char c[4];
} font_vertex;

/* text with every byte outside printable ASCII (and not '\n') replaced by
 * '?': stb_easy_font indexes its tables by c - 32. malloc'ed; NULL when out of memory. */
static char *printable(const char *text) {
    const size_t n = strlen(text);
    char *s = malloc(n + 1);
    if (!s) return NULL;
    for (size_t i = 0; i < n; i++) {
        const unsigned char c = (unsigned char)text[i];
        s[i] = c == '\n' || (c >= 32 && c < 127) ? (char)c : '?';
    }
    s[n] = 0;
    return s;
}

/* The quads of text at the origin (malloc'ed, 4 vertices each); *n_quads. */
static font_vertex *layout(const char *text, int *n_quads) {
    *n_quads = 0;
    char *s = printable(text);
    if (!s) return NULL;
    /* at most 16 segments (quads of 64 bytes) a glyph in the font's tables */
    const size_t bytes = (strlen(s) + 1) * 16 * 4 * sizeof(font_vertex);
    font_vertex *v = bytes < (1u << 30) ? malloc(bytes) : NULL;
    if (v) *n_quads = stb_easy_font_print(0, 0, s, NULL, v, (int)bytes);
    free(s);
    return v;
}

void gs_text_size(const char *text, int scale, int *width, int *height) {
    int n = 0, w = 0, h = 0;
    font_vertex *v = layout(text, &n);
    for (int q = 0; q < n; q++)
        for (int k = 0; k < 4; k++) {
            const font_vertex *p = &v[4 * q + k];
            if ((int)p->x > w) w = (int)p->x;
            if ((int)p->y > h) h = (int)p->y;
        }
    free(v);
    *width = w * scale;
    *height = h * scale;
}

/* Intersect the clip rectangle with the image. */
static void clip_to(const gs_image *im, int *cx0, int *cy0, int *cx1, int *cy1) {
    if (*cx0 < 0) *cx0 = 0;
    if (*cy0 < 0) *cy0 = 0;
    if (*cx1 > im->width) *cx1 = im->width;
    if (*cy1 > im->height) *cy1 = im->height;
}

int gs_draw_text(gs_image *im, int x, int y, const char *text, int scale, const float rgb[3], int cx0, int cy0,
                 int cx1, int cy1) {
    if (!im || !im->data || im->channels != 3 || !text || scale < 1) return 0;
    clip_to(im, &cx0, &cy0, &cx1, &cy1);
    int n = 0, drawn = 0;
    font_vertex *v = layout(text, &n);
    for (int q = 0; q < n; q++) {
        const font_vertex *p = &v[4 * q];
        /* vertices 0 and 2 are opposite corners of an axis-aligned quad on the integer grid */
        const int qx0 = (int)fminf(p[0].x, p[2].x), qx1 = (int)fmaxf(p[0].x, p[2].x);
        const int qy0 = (int)fminf(p[0].y, p[2].y), qy1 = (int)fmaxf(p[0].y, p[2].y);
        for (int py = y + qy0 * scale; py < y + qy1 * scale; py++) {
            if (py < cy0 || py >= cy1) continue;
            for (int px = x + qx0 * scale; px < x + qx1 * scale; px++) {
                if (px < cx0 || px >= cx1) continue;
                float *d = im->data + ((size_t)py * im->width + px) * 3;
                d[0] = rgb[0], d[1] = rgb[1], d[2] = rgb[2];
                drawn++;
            }
        }
    }
    free(v);
    return drawn;
}

void gs_draw_label(gs_image *im, int x, int y, const char *text, int scale, int cx0, int cy0, int cx1, int cy1,
                   int *box_w, int *box_h) {
    int tw = 0, th = 0;
    gs_text_size(text, scale, &tw, &th);
    const int pad = GS_LABEL_PAD(scale), bw = tw + 2 * pad, bh = th + 2 * pad;
    if (box_w) *box_w = bw;
    if (box_h) *box_h = bh;
    if (!im || !im->data || im->channels != 3) return;
    clip_to(im, &cx0, &cy0, &cx1, &cy1);
    for (int py = y; py < y + bh; py++) {
        if (py < cy0 || py >= cy1) continue;
        for (int px = x; px < x + bw; px++) {
            if (px < cx0 || px >= cx1) continue;
            float *d = im->data + ((size_t)py * im->width + px) * 3;
            d[0] *= 0.25f, d[1] *= 0.25f, d[2] *= 0.25f;
        }
    }
    static const float white[3] = {1.0f, 1.0f, 1.0f};
    gs_draw_text(im, x + pad, y + pad, text, scale, white, cx0, cy0, cx1, cy1);
}
