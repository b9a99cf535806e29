/* trajectory.h - camera paths for rendering videos. */
#ifndef GS_RASTER_TRAJECTORY_H
#define GS_RASTER_TRAJECTORY_H

#include "data/cameras.h"
#include "data/scene.h"

#ifdef __cplusplus
extern "C" {
#endif

/* An orbit of n_frames cameras around the scene.
 * With reference cameras (ref != NULL, ref->n > 0, posed): the orbit centre is
 * the least-squares intersection of their optical axes, the up axis their
 * mean up vector (-y of OpenCV cameras), the radius and height their mean
 * distance and elevation, and the intrinsics those of the first camera.
 * Without: the centre is the median splat position, up is -y (the INRIA/COLMAP
 * world convention), the radius 2.5x the 90th-percentile distance of splats
 * from the centre, a 50 degree horizontal field of view at width x height. */
gs_status gs_orbit_path(const gs_scene *s, const gs_cameras *ref, int n_frames, int width, int height,
                        gs_cameras *out);

#ifdef __cplusplus
}
#endif
#endif
