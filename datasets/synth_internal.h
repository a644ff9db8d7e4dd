/*
 * Internals of the street-scene generator (datasets/synth.h), shared by its files:
 *   synth.c          frames, annotations derived from labelIds, writing the dataset
 *   synth_plan.c     the random scene description: camera, street layout, light
 *   synth_populate.c the objects of the scene: traffic, people, trees, poles, signals
 *   synth_draw.c     the canvas, noise and shape filling, the photographic finish
 *   synth_scene.c    sky, ground, facades and the buildings across the street end
 *   synth_objects.c  cars, people, trees, poles, signs and traffic lights
 *
 * World coordinates are metres: X to the right, Y up from the ground, Z forward from
 * the camera. A point projects to column cx + f X / Z and row cy + f (height - Y) / Z,
 * so the horizon is row cy and the street's vanishing point is (cx, cy). Canvas pixel
 * (x, y) covers [x, x + 1) x [y, y + 1); shapes are sampled at pixel centres.
 */
#ifndef KNSEG_DATASETS_SYNTH_INTERNAL_H
#define KNSEG_DATASETS_SYNTH_INTERNAL_H

#include "io/rng.h"

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The labelIds drawn (datasets/cityscapes_labels.c). */
enum synth_label {
	LBL_EGO = 1,
	LBL_ROAD = 7,
	LBL_SIDEWALK = 8,
	LBL_BUILDING = 11,
	LBL_WALL = 12,
	LBL_FENCE = 13,
	LBL_POLE = 17,
	LBL_LIGHT = 19,
	LBL_SIGN = 20,
	LBL_VEGETATION = 21,
	LBL_TERRAIN = 22,
	LBL_SKY = 23,
	LBL_PERSON = 24,
	LBL_CAR = 26
};

struct synth_canvas {
	int w, h;
	float *rgb;     /* (h, w, 3) colour, nominally in [0, 1] */
	uint8_t *label; /* (h, w) labelIds */
	uint16_t *inst; /* (h, w) instanceIds */
};

struct synth_camera {
	float f;      /* focal length in pixels */
	float cx, cy; /* vanishing point of the street; cy is the horizon row */
	float height; /* above the ground, metres */
};

static inline float cam_x(const struct synth_camera *c, float x, float z)
{
	return c->cx + c->f * x / z;
}

static inline float cam_y(const struct synth_camera *c, float y, float z)
{
	return c->cy + c->f * (c->height - y) / z;
}

/* How a shape is coloured and labelled. */
struct synth_paint {
	float rgb[3];
	uint8_t label;
	uint16_t inst;
	float grain;     /* relative amplitude of per-pixel noise */
	float mottle;    /* relative amplitude of blotchy noise */
	float mottle_px; /* size of a blotch in pixels */
	float top_light; /* relative brightening from the bottom to the top of the shape */
	uint32_t seed;
};

/* A plain paint of one colour with a little grain. */
struct synth_paint synth_paint_make(const float rgb[3], int label, int inst, uint32_t seed);

/* Noise: hashed lattice values, smooth value noise in [0, 1] and its octave sum. */
uint32_t synth_hash(uint32_t a, uint32_t b, uint32_t c);
float synth_hash01(uint32_t seed, int32_t x, int32_t y);
float synth_noise(uint32_t seed, float x, float y);
float synth_fbm(uint32_t seed, float x, float y, int octaves);

/* Writes one pixel (no bounds check: callers clip). */
static inline void synth_put(struct synth_canvas *cv, int x, int y, const float rgb[3],
			     int label, int inst)
{
	size_t i = (size_t)y * (size_t)cv->w + (size_t)x;

	cv->rgb[3 * i] = rgb[0];
	cv->rgb[3 * i + 1] = rgb[1];
	cv->rgb[3 * i + 2] = rgb[2];
	cv->label[i] = (uint8_t)label;
	cv->inst[i] = (uint16_t)inst;
}

/* Shapes, clipped to the canvas. Polygons are convex, given as n (x, y) pairs. */
void synth_fill_polygon(struct synth_canvas *cv, const float *xy, int n,
			const struct synth_paint *p);
void synth_fill_rect(struct synth_canvas *cv, float x0, float y0, float x1, float y1,
		     const struct synth_paint *p);
void synth_fill_ellipse(struct synth_canvas *cv, float cx, float cy, float rx, float ry,
			const struct synth_paint *p);
/* A round shape whose radius wobbles by up to rough * r (foliage). */
void synth_fill_blob(struct synth_canvas *cv, float cx, float cy, float r, float rough,
		     const struct synth_paint *p);
/* Darkens the ground (road, sidewalk, terrain) inside a convex polygon by factor. */
void synth_shade_polygon(struct synth_canvas *cv, const float *xy, int n, float factor);

/* Photographic finish of the canvas into 8-bit RGB (w * h * 3 bytes). */
struct synth_finish {
	float gain[3];    /* colour balance */
	float brightness; /* added after contrast */
	float contrast;   /* around mid grey */
	float gamma;
	float vignette;   /* darkening of the corners */
	float noise;      /* sensor noise amplitude */
	int blur;         /* 0 none, 1 light, 2 strong */
	int jpeg_quality; /* 0: no JPEG round trip */
	uint32_t seed;
};
void synth_finish_image(const struct synth_canvas *cv, const struct synth_finish *fin,
			uint8_t *rgb);

/* ---- the scene description ---- */

#define SYNTH_MAX_SEGMENTS 64
#define SYNTH_MAX_CROSS 4
#define SYNTH_MAX_BACKDROP 48
#define SYNTH_MAX_OBJECTS 320
#define SYNTH_MAX_MARKINGS 8

enum synth_facade_kind { FACADE_PLASTER, FACADE_BRICK, FACADE_CONCRETE, FACADE_GLASS };

/* The look of a building (or of a wall, fence or hedge, which use wall colour only). */
struct synth_facade {
	int kind;
	float wall[3], glass[3], frame[3];
	float floor_h;      /* storey height */
	float bay;          /* window spacing along the facade */
	float win_w, win_h; /* window size */
	float shop_h;       /* height of a shop front at street level, 0 for none */
	uint32_t seed;
};

enum synth_segment_kind { SEG_BUILDING, SEG_WALL, SEG_FENCE, SEG_VEGETATION };

/*
 * A vertical plane parallel to the street at distance x from the camera axis, on one
 * side, from depth z0 to z1, height metres tall (vegetation: the mean of a ragged top).
 */
struct synth_segment {
	int kind;
	float z0, z1, x, height;
	struct synth_facade look;
};

struct synth_side {
	float curb;  /* distance from the camera axis of the road edge */
	float lawn;  /* ... of the outer edge of a grass strip along the curb (the curb
			   stone's edge, curb + 0.2, when there is none) */
	float walk;  /* ... of the sidewalk's outer edge */
	float verge; /* ... of the grass verge's outer edge (== walk: none) */
	bool green;  /* ground behind the facade line is grass, not pavement */
	int nseg;
	struct synth_segment seg[SYNTH_MAX_SEGMENTS];
};

/* A line on the road along the street at X = x; dashed when dash > 0. */
struct synth_marking {
	float x, width, dash, gap;
	float rgb[3];
};

enum synth_object_kind {
	OBJ_CAR,
	OBJ_PERSON,
	OBJ_TREE,
	OBJ_LAMP,
	OBJ_SIGN,
	OBJ_LIGHT,
	OBJ_MAST
};

/*
 * An object standing on the ground at (x, z), z its nearest depth. dim, col, variant
 * and dir mean what each kind's drawing function says (synth_objects.c).
 */
struct synth_object {
	int kind;
	float x, z;
	float dim[4];
	float col[4][3];
	int variant;
	int dir;
	uint16_t inst;
	uint32_t seed;
};

struct synth_scene {
	int w, h;
	struct synth_camera cam;
	float z_end; /* depth of the buildings across the far end */
	/* ground */
	float road[3], walk[3], curb[3], grass[3];
	float tile; /* sidewalk tile size, metres */
	int nmark;
	struct synth_marking mark[SYNTH_MAX_MARKINGS];
	/* cross streets: depth ranges [z0, z1) where the sidewalks stop and the road opens
	   to both sides */
	int ncross;
	float cross[SYNTH_MAX_CROSS][2];
	bool zebra;                /* a pedestrian crossing before each cross street */
	struct synth_side side[2]; /* 0: left (X < 0), 1: right */
	/* buildings across the far end: planes at depth x = z_end from X = z0 to z1 */
	int nback;
	struct synth_segment back[SYNTH_MAX_BACKDROP];
	/* sky and light */
	float sky_top[3], sky_low[3], cloud[3];
	float cloud_cover;
	int sun;                    /* side the sun shines from: -1, +1, or 0 overcast */
	float sun_reach;            /* shadow length per metre of height */
	float shade;                /* brightness in shadow */
	float hood_px, hood_rgb[3]; /* ego vehicle hood height at the centre, pixels */
	int nobj;
	struct synth_object obj[SYNTH_MAX_OBJECTS];
	struct synth_finish finish;
	uint32_t seed;
};

/* Random choices of the planner. */
static inline float synth_uni(struct rng *r, float lo, float hi)
{
	return lo + (hi - lo) * rng_uniform(r);
}

static inline bool synth_chance(struct rng *r, float p)
{
	return rng_uniform(r) < p;
}

static inline int synth_pick(struct rng *r, int n)
{
	return (int)rng_below(r, (uint64_t)n);
}

/* A palette colour with its brightness and channels varied by up to amount. */
void synth_vary(float *d, const float *base, float amount, struct rng *r);

/* The lanes of the street (camera lane centred on X = 0, lanes lane metres wide). */
struct synth_road {
	float lane;
	int nl, nr;   /* lanes left and right of the camera's lane */
	bool two_way; /* the left lanes carry oncoming traffic */
	bool park[2]; /* parking strips along the left and right curbs */
};

/* Draws a random scene for the canvas size. */
void synth_plan(struct synth_scene *sc, int w, int h, struct rng *r);

/* Adds the objects to a planned street, sorted far to near (synth_populate.c). */
void synth_plan_objects(struct synth_scene *sc, const struct synth_road *rl, struct rng *r);

/* The end of the cross street containing depth z, or 0 when z is not in one. */
float synth_cross_end(const struct synth_scene *sc, float z);

/*
 * Background: ground, far buildings, street-side segments (synth_scene.c). The canvas
 * starts with labelId 0 everywhere, meaning not painted yet; synth_draw_sky fills those
 * pixels at the end, so the sky is computed only where it shows.
 */
void synth_draw_background(struct synth_canvas *cv, const struct synth_scene *sc);
void synth_draw_sky(struct synth_canvas *cv, const struct synth_scene *sc);
/* Whether ground point (x, z) lies in a cast shadow of the street-side segments. */
bool synth_in_shadow(const struct synth_scene *sc, float x, float z);
/* The ego vehicle hood over the bottom rows. */
void synth_draw_hood(struct synth_canvas *cv, const struct synth_scene *sc);

/* Objects far to near with their ground shadows (synth_objects.c). */
void synth_draw_objects(struct synth_canvas *cv, const struct synth_scene *sc);

#endif
