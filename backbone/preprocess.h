/* preprocess.h - Depth Anything 3 input preprocessing, bit-exact with the
 * official InputProcessor (da3/utils/io/input_processor.py) and api.py.
 *
 * Per view: PIL .convert("RGB") -> boundary resize to process_res (cv2.resize,
 * INTER_CUBIC when growing, INTER_AREA otherwise) -> multiple of 14 (second
 * resize or centre crop) -> ToTensor + ImageNet Normalize. A batch whose views
 * end at different sizes is centre-cropped to the smallest height and width.
 * Intrinsics follow every step (float32 arithmetic, as numpy does on a float32 K).
 *
 * cv2.resize is reproduced exactly on uint8 RGB:
 *  - INTER_AREA (shrinking): OpenCV's own code (the integer-scale fast path,
 *    its 2x2 special case, and the general fractional-area path). IPP is never
 *    used for it by cv2.
 *  - INTER_CUBIC: pip's opencv-python (4.x and 5.x, x86-64) hands uint8 cubic
 *    resizes of images of at least 4x4 pixels to Intel IPP, whose results
 *    differ from OpenCV's own fixed-point code by +-1 on a few percent of
 *    pixels. GS_DA3_INTER_CUBIC reproduces the IPP results (a float32 model of
 *    its arithmetic, verified pixel for pixel on an AVX2 machine) and falls back
 *    to OpenCV's own algorithm below 4 pixels, as cv2 does.
 *    GS_DA3_INTER_CUBIC_OCV is OpenCV's own algorithm everywhere (what cv2
 *    gives with cv2.ipp.setUseIPP(False) or on builds without IPP).
 */
#ifndef GS_BACKBONE_PREPROCESS_H
#define GS_BACKBONE_PREPROCESS_H

#include "gs/core/runtime.h"
#include "data/image.h"

#ifdef __cplusplus
extern "C" {
#endif

#define GS_DA3_PATCH 14
#define GS_DA3_DEFAULT_PROCESS_RES 504
/* Largest process_res accepted: 4x the models' training resolution (504),
 * 21k tokens a view; the cost of attention grows with their square. */
#define GS_DA3_MAX_PROCESS_RES 2048

/* cv2 interpolation codes (same numbers as OpenCV). */
enum {
    GS_DA3_INTER_NONE = -1,      /* in a plan: this step does nothing */
    GS_DA3_INTER_CUBIC = 2,      /* cv2.INTER_CUBIC as pip's x86 OpenCV computes it */
    GS_DA3_INTER_AREA = 3,       /* cv2.INTER_AREA (shrinking only) */
    GS_DA3_INTER_CUBIC_OCV = 102 /* OpenCV's own cubic, IPP disabled */
};

typedef enum {
    GS_DA3_UPPER_BOUND_RESIZE = 0, /* default: longest side -> process_res, resize to x14 */
    GS_DA3_LOWER_BOUND_RESIZE,     /* shortest side -> process_res, resize to x14 */
    GS_DA3_UPPER_BOUND_CROP,       /* longest side -> process_res, centre crop to x14 */
    GS_DA3_LOWER_BOUND_CROP        /* shortest side -> process_res, centre crop to x14 */
} gs_da3_resize_method;

/* "upper_bound_resize" etc. -> method; unknown names fail naming the choices. */
gs_status gs_da3_resize_method_parse(const char *name, gs_da3_resize_method *out);
const char *gs_da3_resize_method_name(gs_da3_resize_method m);

/* cv2.resize(src, (nw, nh), interpolation=method) on uint8 RGB, HWC.
 * method: GS_DA3_INTER_CUBIC, GS_DA3_INTER_CUBIC_OCV or GS_DA3_INTER_AREA.
 * Equal sizes copy. INTER_AREA growing either side (OpenCV then switches to
 * bilinear) is refused. dst must not overlap src. */
gs_status gs_da3_resize_u8(const uint8_t *src, int w, int h, uint8_t *dst, int nw, int nh, int method);

/* What preprocessing does to one image of w x h. */
typedef struct {
    int orig_w, orig_h;
    int bound_w, bound_h;   /* after the boundary resize */
    int bound_interp;       /* GS_DA3_INTER_CUBIC / _AREA / _NONE */
    int final_w, final_h;   /* after the multiple-of-14 step (before batch unification) */
    int fix_interp;         /* *_resize: second resize, or _NONE */
    int crop_left, crop_top;/* *_crop: centre-crop offsets into the bound image */
} gs_da3_plan;

/* Sizes and interpolations for one image, exactly as the reference computes
 * them (Python banker's round; ties of the multiple-of-14 go up). Fails when
 * process_res is outside [14, GS_DA3_MAX_PROCESS_RES], when the network input
 * would exceed GS_DA3_MAX_PROCESS_RES^2 pixels (lower_bound_* on an elongated
 * photo), when a size is absurd,
 * or when a side would end below 14 pixels (the model needs whole patches). */
gs_status gs_da3_plan_size(int w, int h, int process_res, gs_da3_resize_method m, gs_da3_plan *plan);

/* An image of any channel count / bit depth as the 8-bit RGB that PIL's
 * Image.open(path).convert("RGB") gives: gray replicated, alpha dropped
 * without compositing; 16-bit RGB(A)/gray+alpha keep the high byte; 16-bit
 * gray (PIL mode I;16) saturates at 255, as PIL does. *rgb is malloc'ed (w*h*3). */
gs_status gs_da3_image_to_rgb8(const gs_image *im, uint8_t **rgb);

/* Boundary resize + multiple-of-14 step on one uint8 RGB image.
 * K (row-major 3x3, float32) may be NULL; it is updated in place.
 * *out is malloc'ed (plan->final_w * plan->final_h * 3). */
gs_status gs_da3_process_rgb8(const uint8_t *rgb, int w, int h, int process_res, gs_da3_resize_method m,
                              float *K, uint8_t **out, gs_da3_plan *plan);

/* ToTensor + Normalize(mean=[0.485,0.456,0.406], std=[0.229,0.224,0.225]):
 * uint8 HWC RGB -> float32 CHW, bit-identical to torchvision. */
void gs_da3_normalize(const uint8_t *rgb, int w, int h, float *chw); // [3, H, W]

/* api._add_processed_images: clip(x*std + mean, 0, 1)*255 truncated (float64
 * arithmetic as numpy) -> uint8 HWC RGB. */
void gs_da3_denormalize(const float *chw, int w, int h, uint8_t *rgb); // [3, H, W] -> [H, W, 3]

/* The whole InputProcessor on S images.
 * K_in: [S,3,3] float32 or NULL; K_out: [S,3,3] (written when K_in is given; may equal K_in).
 * *images: malloc'ed float32 [S,3,H,W], normalised. *cropped: 1 when the views
 * ended at different sizes and were centre-cropped to the smallest H and W
 * (the reference warns; the caller should too), else 0. */
gs_status gs_da3_preprocess(const gs_image *imgs, int S, int process_res, gs_da3_resize_method m,
                            const float *K_in, float **images, int *H, int *W, float *K_out, int *cropped);

#ifdef __cplusplus
}
#endif
#endif
