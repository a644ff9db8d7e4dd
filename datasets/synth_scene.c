/*
 * The background of a generated street: the ground plane (road with lane markings and
 * crossings, curbs, paved sidewalks, grass), the buildings across the far end, and the
 * vertical planes along both sides (facades with windows, walls, fences, hedges and tree
 * lines), with the shadows the sunny side casts; the ego vehicle's hood, and the sky
 * with clouds wherever nothing else was drawn. See synth_internal.h for the coordinates.
 *
 * The ground is drawn pixel by pixel from its world point (each row is one depth); a
 * side plane is drawn column by column (each column meets a plane at one depth), planes
 * far to near, so nearer planes hide farther ones exactly.
 */
#include "datasets/synth_internal.h"

#include <math.h>
#include <stddef.h>

static float clampf(float v, float lo, float hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

static float fracf(float v)
{
	return v - floorf(v);
}

static void scale3(float *d, const float *s, float k)
{
	d[0] = s[0] * k;
	d[1] = s[1] * k;
	d[2] = s[2] * k;
}

static void mix3(float *d, const float *a, const float *b, float t)
{
	for (int c = 0; c < 3; c++)
		d[c] = a[c] + (b[c] - a[c]) * t;
}

/* ---- shadows ---- */

/*
 * The height up to which the vertical line through ground point (x, z) lies in the
 * shadow of the planes on the side the sun shines from (negative: none). A plane of
 * height H at distance d (towards the street) shades heights below H - d / reach.
 */
static float shadow_height(const struct synth_scene *sc, float x, float z)
{
	const struct synth_side *sd;
	float best = -1;

	if (sc->sun == 0)
		return -1;
	sd = &sc->side[sc->sun < 0 ? 0 : 1];
	for (int i = 0; i < sd->nseg; i++) {
		const struct synth_segment *g = &sd->seg[i];
		float d = g->x - (float)sc->sun * x;

		if (z >= g->z0 && z < g->z1 && d >= 0)
			best = fmaxf(best, g->height - d / sc->sun_reach);
	}
	return best;
}

bool synth_in_shadow(const struct synth_scene *sc, float x, float z)
{
	return shadow_height(sc, x, z) > 0;
}

/* ---- sky ---- */

/* The sky seen by pixel (x, y): a vertical gradient under drifting clouds. */
static void sky_color(const struct synth_scene *sc, int x, int y, float *rgb)
{
	float sx = 1.0f / (0.2f * (float)sc->w), sy = 1.0f / (0.07f * (float)sc->w);
	float thr = 1 - 0.55f * sc->cloud_cover;
	float t = clampf(((float)y + 0.5f) / fmaxf(sc->cam.cy, 1), 0, 1), base[3], cloud[3];
	float n = synth_fbm(sc->seed + 11, (float)x * sx, (float)y * sy, 3);
	float d = clampf((n - thr + 0.25f) / 0.3f, 0, 1) * fminf(sc->cloud_cover * 2, 1);

	mix3(base, sc->sky_top, sc->sky_low, sqrtf(t));
	scale3(cloud, sc->cloud, 0.8f + 0.2f * clampf((n - thr) * 4, 0, 1));
	mix3(rgb, base, cloud, d);
}

/* The sky fills what nothing else covered (labelId 0 marks an unpainted pixel). */
void synth_draw_sky(struct synth_canvas *cv, const struct synth_scene *sc)
{
	for (int y = 0; y < cv->h; y++)
		for (int x = 0; x < cv->w; x++) {
			float rgb[3];

			if (cv->label[(size_t)y * (size_t)cv->w + (size_t)x] != 0)
				continue;
			sky_color(sc, x, y, rgb);
			synth_put(cv, x, y, rgb, LBL_SKY, LBL_SKY);
		}
}

/* ---- ground ---- */

/* Coverage (0..1) of a pixel of width px metres by a line of width wd centred at 0. */
static float line_cover(float d, float wd, float px)
{
	float lo = fmaxf(d - 0.5f * px, -0.5f * wd), hi = fminf(d + 0.5f * px, 0.5f * wd);

	return hi > lo ? (hi - lo) / px : 0;
}

static float road_paint(const struct synth_scene *sc, float x, float z, float px)
{
	float cover = 0;

	for (int i = 0; i < sc->nmark; i++) {
		const struct synth_marking *m = &sc->mark[i];

		if (m->dash > 0 && fracf(z / (m->dash + m->gap)) * (m->dash + m->gap) > m->dash)
			continue;
		cover = fmaxf(cover, line_cover(x - m->x, m->width, px));
	}
	if (sc->zebra)
		for (int i = 0; i < sc->ncross; i++)
			if (z > sc->cross[i][0] - 4.5f && z < sc->cross[i][0] - 1.5f &&
			    fracf(x * 0.5f + 0.25f) < 0.5f)
				cover = 1;
	return cover;
}

static int ground_road(const struct synth_scene *sc, float x, float z, float px, int ix, int iy,
		       float *rgb)
{
	float n = synth_fbm(sc->seed + 21, x * 0.35f, z * 0.35f, 2);
	float k =
	    (1 + 0.25f * (n - 0.5f)) * (1 + 0.06f * (2 * synth_hash01(sc->seed, ix, iy) - 1));
	float paint = road_paint(sc, x, z, px);
	static const float white[3] = {0.85f, 0.85f, 0.82f};
	const float *mark = white;

	for (int i = 0; i < sc->nmark; i++)
		if (fabsf(x - sc->mark[i].x) < sc->mark[i].width + px)
			mark = sc->mark[i].rgb;
	scale3(rgb, sc->road, k);
	if (paint > 0)
		mix3(rgb, rgb, mark, paint * (0.8f + 0.2f * n));
	return LBL_ROAD;
}

static int ground_walk(const struct synth_scene *sc, float a, float z, float px, int ix, int iy,
		       float *rgb)
{
	float t = sc->tile, joint = fmaxf(0.02f, 0.5f * px);
	float ja = fminf(fracf(a / t), 1 - fracf(a / t)) * t;
	float jz = fminf(fracf(z / t), 1 - fracf(z / t)) * t;
	int32_t ta = (int32_t)floorf(a / t), tz = (int32_t)floorf(z / t);
	float k = 1 + 0.08f * (2 * synth_hash01(sc->seed + 31, ta, tz) - 1);

	k *= 1 + 0.05f * (2 * synth_hash01(sc->seed + 32, ix, iy) - 1);
	if (ja < joint || jz < joint)
		k *= 1 - 0.25f * fminf(0.04f / fmaxf(px, 0.04f), 1);
	scale3(rgb, sc->walk, k);
	return LBL_SIDEWALK;
}

static int ground_grass(const struct synth_scene *sc, float x, float z, int ix, int iy,
			float *rgb)
{
	float n = synth_fbm(sc->seed + 41, x * 0.6f, z * 0.6f, 3);
	float k = (1 + 0.5f * (n - 0.5f)) *
		  (1 + 0.12f * (2 * synth_hash01(sc->seed + 42, ix, iy) - 1));

	scale3(rgb, sc->grass, k);
	return LBL_TERRAIN;
}

/* The ground at world point (x, z) seen by pixel (ix, iy) of width px metres. */
static int ground_point(const struct synth_scene *sc, float x, float z, float px, int ix,
			int iy, float *rgb)
{
	const struct synth_side *sd = &sc->side[x < 0 ? 0 : 1];
	float a = fabsf(x), c0 = 0, c1, corner = sd->walk - sd->curb;

	if (a < sd->curb)
		return ground_road(sc, x, z, px, ix, iy, rgb);
	if ((c1 = synth_cross_end(sc, z)) > 0) {
		/* the cross street's own sidewalks continue the corners */
		for (int i = 0; i < sc->ncross; i++)
			if (sc->cross[i][1] == c1)
				c0 = sc->cross[i][0];
		if (a > sd->walk && (z - c0 < corner || c1 - z < corner))
			return ground_walk(sc, a, z, px, ix, iy, rgb);
		return ground_road(sc, x, z, px, ix, iy, rgb);
	}
	if (a < sd->curb + 0.2f) {
		scale3(rgb, sc->curb, 1 + 0.05f * (2 * synth_hash01(sc->seed + 5, ix, iy) - 1));
		return LBL_SIDEWALK;
	}
	if (a < sd->lawn)
		return ground_grass(sc, x, z, ix, iy, rgb);
	if (a < sd->walk || (a >= sd->verge && !sd->green))
		return ground_walk(sc, a, z, px, ix, iy, rgb);
	return ground_grass(sc, x, z, ix, iy, rgb);
}

static void draw_ground(struct synth_canvas *cv, const struct synth_scene *sc)
{
	const struct synth_camera *c = &sc->cam;

	for (int y = 0; y < cv->h; y++) {
		float dy = (float)y + 0.5f - c->cy, z, px;

		if (dy <= 0.5f)
			continue;
		z = c->f * c->height / dy;
		px = z / c->f;
		for (int x = 0; x < cv->w; x++) {
			float wx = ((float)x + 0.5f - c->cx) * px, rgb[3];
			int label = ground_point(sc, wx, z, px, x, y, rgb);

			if (synth_in_shadow(sc, wx, z))
				scale3(rgb, rgb, sc->shade);
			synth_put(cv, x, y, rgb, label, label);
		}
	}
}

/* ---- vertical planes: facades, walls, fences, vegetation ---- */

/* The ragged top of a vegetation plane at position u along it. */
static float vegetation_top(const struct synth_segment *g, float u)
{
	float amp = g->height < 2.6f ? 0.08f : 0.3f;

	return g->height * (1 + amp * (2 * synth_fbm(g->look.seed, u * 0.25f, 0.5f, 3) - 1));
}

static void building_color(const struct synth_facade *f, float u, float v, float height,
			   float *rgb)
{
	float k = 1 + 0.12f * (2 * synth_fbm(f->seed, u * 0.2f, v * 0.2f, 2) - 1);
	float base = f->shop_h > 0 && height > f->shop_h + 2 ? f->shop_h : 0.5f;
	float bay = v < base ? 2 * f->bay : f->bay, fh = v < base ? base : f->floor_h;
	float ww = v < base ? bay - 0.5f : f->win_w, wh = v < base ? base - 0.8f : f->win_h;
	float lv = v < base ? v : fmodf(v - base, fh),
	      sill = v < base ? 0.3f : 0.55f * (fh - wh);
	float lu = fracf(u / bay) * bay;
	int32_t bi = (int32_t)floorf(u / bay), fi = (int32_t)floorf((v - base) / fh);

	if (v > height - 0.4f) {
		scale3(rgb, f->wall, 0.72f * k);
		return;
	}
	if (f->kind == FACADE_BRICK) {
		/* one value per brick, 0.25 x 0.083 m */
		float brick = synth_hash01(f->seed + 1, (int32_t)floorf(u * 4),
					   (int32_t)floorf(v * 12));

		k *= 1 + 0.1f * (2 * brick - 1);
	}
	if (f->kind == FACADE_CONCRETE && (fracf(u / 3) < 0.02f || fracf(v / fh) < 0.02f))
		k *= 0.85f;
	scale3(rgb, f->wall, k);
	if (fabsf(lu - 0.5f * bay) > 0.5f * ww || lv < sill || lv > sill + wh ||
	    (v >= base && base + (float)(fi + 1) * fh > height - 0.5f))
		return;
	if (fabsf(lu - 0.5f * bay) > 0.5f * ww - 0.08f || lv < sill + 0.08f ||
	    lv > sill + wh - 0.08f) {
		scale3(rgb, f->frame, 1);
		return;
	}
	{
		float h = synth_hash01(f->seed + 2, bi, fi);

		scale3(rgb, f->glass, (0.7f + 0.6f * h) * (0.8f + 0.5f * (lv - sill) / wh));
		if (h > 0.85f && lv > sill + 0.5f * wh)
			scale3(rgb, f->frame, 0.85f);
	}
}

/* Fence boards or bars: opaque where solid, the background darkened between. */
static void fence_color(const struct synth_segment *g, float u, float v, float px,
			const float *behind, float *rgb)
{
	float period = 0.14f, solid = 0.55f, cover;

	if (fracf(u / 2.5f) * 2.5f < 0.1f || v > g->height - 0.08f ||
	    fabsf(v - 0.3f * g->height) < 0.04f) {
		scale3(rgb, g->look.wall, 0.9f);
		return;
	}
	if (px > 0.4f * period)
		cover = solid;
	else
		cover = fracf(u / period) < solid ? 1 : 0;
	for (int c = 0; c < 3; c++)
		rgb[c] = cover * g->look.wall[c] + (1 - cover) * 0.7f * behind[c];
}

static int plane_color(const struct synth_segment *g, float u, float v, float px, int ix,
		       int iy, const float *behind, float *rgb)
{
	const struct synth_facade *f = &g->look;
	float n, k;

	switch (g->kind) {
	case SEG_BUILDING:
		building_color(f, u, v, g->height, rgb);
		return LBL_BUILDING;
	case SEG_WALL:
		n = synth_fbm(f->seed + 3, u * 0.5f, v * 0.5f, 3);
		/* brick and plaster walls in the wall colour, concrete ones in the frame grey */
		k = (v > g->height - 0.12f ? 1.15f : 1) * (0.85f + 0.3f * n);
		scale3(rgb, f->kind == FACADE_BRICK || f->kind == FACADE_PLASTER ? f->wall : f->frame,
		       k);
		return LBL_WALL;
	case SEG_FENCE:
		fence_color(g, u, v, px, behind, rgb);
		return LBL_FENCE;
	default:
		n = synth_fbm(f->seed + 4, u * 1.4f, v * 1.4f, 2);
		scale3(rgb, f->wall,
		       (0.55f + 0.9f * n) * (0.75f + 0.4f * v / fmaxf(g->height, 1)) *
			   (1 + 0.2f * (2 * synth_hash01(f->seed + 5, ix, iy) - 1)));
		return LBL_VEGETATION;
	}
}

/* Brightness of a plane: facing the sun, in a cast shadow, facing away, or overcast. */
static float plane_light(const struct synth_scene *sc, int side, bool face, float v,
			 float shadow_below)
{
	if (sc->sun == 0)
		return 0.92f;
	if (face)
		return 0.85f;
	if ((sc->sun < 0) == (side == 0))
		return fminf(sc->shade * 1.15f, 1);
	return v < shadow_below ? sc->shade : 1.05f;
}

/* One plane met by column ix at depth z; face: the plane's end wall at depth z0. */
struct plane_hit {
	const struct synth_segment *g;
	float z, u;
	bool face;
};

static void draw_plane_column(struct synth_canvas *cv, const struct synth_scene *sc, int ix,
			      int side, const struct plane_hit *hit)
{
	const struct synth_camera *c = &sc->cam;
	const struct synth_segment *g = hit->g;
	float top = g->kind == SEG_VEGETATION ? vegetation_top(g, hit->u) : g->height;
	float px = hit->z / c->f, wx = ((float)ix + 0.5f - c->cx) * px;
	float shadow_below = shadow_height(sc, wx, hit->z);
	int y0 = (int)fmaxf(ceilf(cam_y(c, top, hit->z) - 0.5f), 0);
	int y1 = (int)fminf(floorf(cam_y(c, 0, hit->z) - 0.5f), (float)cv->h - 1);

	for (int y = y0; y <= y1; y++) {
		float v = c->height - ((float)y + 0.5f - c->cy) * px, rgb[3], sky[3];
		size_t i = (size_t)y * (size_t)cv->w + (size_t)ix;
		const float *behind = cv->rgb + 3 * i;
		int label;

		if (cv->label[i] == 0 && g->kind == SEG_FENCE) {
			sky_color(sc, ix, y, sky);
			behind = sky;
		}
		label = plane_color(g, hit->u, v, px, ix, y, behind, rgb);

		scale3(rgb, rgb, plane_light(sc, side, hit->face, v, shadow_below));
		synth_put(cv, ix, y, rgb, label, label);
	}
}

/* End walls of buildings reach this far back from their facade. */
#define BUILDING_DEPTH 15.0f

static void draw_side_column(struct synth_canvas *cv, const struct synth_scene *sc, int ix)
{
	const struct synth_camera *c = &sc->cam;
	float dx = fabsf((float)ix + 0.5f - c->cx);
	int side = (float)ix + 0.5f < c->cx ? 0 : 1, n = 0;
	const struct synth_side *sd = &sc->side[side];
	struct plane_hit hits[2 * SYNTH_MAX_SEGMENTS];

	if (dx < 1e-3f)
		return;
	for (int i = 0; i < sd->nseg; i++) {
		const struct synth_segment *g = &sd->seg[i];
		float z = c->f * g->x / dx, a = dx * g->z0 / c->f;

		if (z >= g->z0 && z < g->z1 && z < sc->z_end)
			hits[n++] = (struct plane_hit){g, z, z, false};
		if (g->kind == SEG_BUILDING && g->z0 > 0.5f && a >= g->x &&
		    a < g->x + BUILDING_DEPTH)
			hits[n++] = (struct plane_hit){g, g->z0, a - g->x, true};
	}
	/* far to near; insertion sort keeps equal depths in segment order */
	for (int i = 1; i < n; i++) {
		struct plane_hit t = hits[i];
		int j = i;

		for (; j > 0 && hits[j - 1].z < t.z; j--)
			hits[j] = hits[j - 1];
		hits[j] = t;
	}
	for (int i = 0; i < n; i++)
		draw_plane_column(cv, sc, ix, side, &hits[i]);
}

/* The buildings and tree lines across the far end, facing the camera. */
static void draw_backdrop(struct synth_canvas *cv, const struct synth_scene *sc)
{
	const struct synth_camera *c = &sc->cam;
	float px = sc->z_end / c->f;

	for (int i = 0; i < sc->nback; i++) {
		const struct synth_segment *g = &sc->back[i];
		int x0 = (int)fmaxf(ceilf(cam_x(c, g->z0, sc->z_end) - 0.5f), 0);
		int x1 =
		    (int)fminf(floorf(cam_x(c, g->z1, sc->z_end) - 0.5f), (float)cv->w - 1);

		for (int x = x0; x <= x1; x++) {
			struct plane_hit hit = {g, sc->z_end, ((float)x + 0.5f - c->cx) * px,
						true};

			draw_plane_column(cv, sc, x, 0, &hit);
		}
	}
}

void synth_draw_background(struct synth_canvas *cv, const struct synth_scene *sc)
{
	draw_ground(cv, sc);
	draw_backdrop(cv, sc);
	for (int x = 0; x < cv->w; x++)
		draw_side_column(cv, sc, x);
}

/* The hood: a flat arc over the bottom rows, reflecting a little of the sky. */
void synth_draw_hood(struct synth_canvas *cv, const struct synth_scene *sc)
{
	float half = 0.5f * (float)cv->w;

	if (sc->hood_px <= 0)
		return;
	for (int x = 0; x < cv->w; x++) {
		float t = ((float)x + 0.5f - half) / half;
		float top = (float)cv->h - sc->hood_px * (1 - 0.45f * t * t);

		for (int y = (int)fmaxf(ceilf(top - 0.5f), 0); y < cv->h; y++) {
			float s = clampf(((float)y + 0.5f - top) / fmaxf(sc->hood_px, 1), 0, 1),
			      rgb[3];

			mix3(rgb, sc->sky_low, sc->hood_rgb, 0.55f + 0.45f * s);
			scale3(rgb, rgb, 0.6f);
			synth_put(cv, x, y, rgb, LBL_EGO, LBL_EGO);
		}
	}
}
