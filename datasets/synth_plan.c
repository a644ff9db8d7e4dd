/*
 * The random scene description of the street-scene generator: camera, road and lanes,
 * sidewalks and verges, the buildings, walls, fences and hedges along both sides, cross
 * streets, the buildings across the far end, the light, and the objects standing on the
 * ground. Every choice comes from the frame's generator, in a fixed order.
 * Sizes are in metres and chosen from real street proportions, so objects shrink with
 * depth consistently and their context (cars on the road, people on sidewalks, lights
 * at crossings) stays learnable. See synth_internal.h for the coordinates.
 */
#include "datasets/synth_internal.h"

#include <math.h>
#include <string.h>

void synth_vary(float *d, const float *base, float amount, struct rng *r)
{
	float k = 1 + synth_uni(r, -amount, amount);

	for (int c = 0; c < 3; c++)
		d[c] = fminf(base[c] * k * (1 + synth_uni(r, -amount, amount) * 0.5f), 1.0f);
}

/*
 * Facade colours overlap the car colours (synth_populate.c) on purpose: colour alone
 * must not give the class away.
 */
static const float facade_colors[][3] = {
    {0.82f, 0.75f, 0.60f}, {0.90f, 0.87f, 0.78f}, {0.85f, 0.85f, 0.83f}, {0.65f, 0.65f, 0.65f},
    {0.50f, 0.50f, 0.52f}, {0.32f, 0.32f, 0.34f}, {0.55f, 0.27f, 0.20f}, {0.45f, 0.33f, 0.25f},
    {0.88f, 0.80f, 0.50f}, {0.60f, 0.70f, 0.78f}, {0.85f, 0.60f, 0.50f}, {0.65f, 0.75f, 0.60f},
    {0.72f, 0.68f, 0.64f},
};

static void random_facade(struct synth_facade *f, struct rng *r)
{
	static const float glass[][3] = {
	    {0.12f, 0.16f, 0.22f},
	    {0.20f, 0.26f, 0.30f},
	    {0.08f, 0.10f, 0.12f},
	    {0.25f, 0.32f, 0.35f},
	};
	static const float frame[][3] = {
	    {0.92f, 0.92f, 0.90f},
	    {0.30f, 0.25f, 0.20f},
	    {0.20f, 0.20f, 0.22f},
	    {0.60f, 0.60f, 0.62f},
	};
	int k = synth_pick(r, 10);

	f->kind = k < 5   ? FACADE_PLASTER
		  : k < 7 ? FACADE_BRICK
		  : k < 9 ? FACADE_CONCRETE
			  : FACADE_GLASS;
	if (f->kind == FACADE_BRICK) {
		static const float brick[][3] = {
		    {0.55f, 0.27f, 0.20f}, {0.62f, 0.40f, 0.30f}, {0.45f, 0.30f, 0.26f}};
		synth_vary(f->wall, brick[synth_pick(r, 3)], 0.1f, r);
	} else {
		synth_vary(f->wall,
			   facade_colors[synth_pick(
			       r, (int)(sizeof(facade_colors) / sizeof(facade_colors[0])))],
			   0.1f, r);
	}
	synth_vary(f->glass, glass[synth_pick(r, 4)], 0.2f, r);
	synth_vary(f->frame, frame[synth_pick(r, 4)], 0.1f, r);
	f->floor_h = synth_uni(r, 2.8f, 3.6f);
	f->bay = f->kind == FACADE_GLASS ? synth_uni(r, 1.2f, 2.0f) : synth_uni(r, 2.2f, 4.0f);
	f->win_w = f->kind == FACADE_GLASS ? f->bay - 0.12f : synth_uni(r, 0.8f, f->bay - 0.8f);
	f->win_h =
	    f->kind == FACADE_GLASS ? f->floor_h - 0.3f : synth_uni(r, 1.2f, f->floor_h - 1.0f);
	f->shop_h = synth_chance(r, 0.5f) ? synth_uni(r, 3.2f, 4.5f) : 0;
	f->seed = (uint32_t)rng_u64(r);
}

static struct synth_segment *add_segment(struct synth_side *sd, int kind, float z0, float z1,
					 float x, float height, struct rng *r)
{
	struct synth_segment *g;

	if (sd->nseg >= SYNTH_MAX_SEGMENTS || z1 <= z0)
		return NULL;
	g = &sd->seg[sd->nseg++];
	g->kind = kind;
	g->z0 = z0;
	g->z1 = z1;
	g->x = x;
	g->height = height;
	random_facade(&g->look, r);
	if (kind == SEG_VEGETATION) {
		static const float leaf[][3] = {{0.20f, 0.32f, 0.12f},
						{0.28f, 0.38f, 0.16f},
						{0.16f, 0.26f, 0.14f},
						{0.34f, 0.40f, 0.18f}};
		synth_vary(g->look.wall, leaf[synth_pick(r, 4)], 0.15f, r);
	} else if (kind == SEG_FENCE) {
		static const float fence[][3] = {{0.30f, 0.32f, 0.30f},
						 {0.55f, 0.55f, 0.55f},
						 {0.45f, 0.33f, 0.22f},
						 {0.15f, 0.25f, 0.18f}};
		synth_vary(g->look.wall, fence[synth_pick(r, 4)], 0.1f, r);
	}
	return g;
}

float synth_cross_end(const struct synth_scene *sc, float z)
{
	for (int i = 0; i < sc->ncross; i++)
		if (z >= sc->cross[i][0] && z < sc->cross[i][1])
			return sc->cross[i][1];
	return 0;
}

/* The start of the first cross street beyond z, or z_end. */
static float next_cross(const struct synth_scene *sc, float z)
{
	for (int i = 0; i < sc->ncross; i++)
		if (sc->cross[i][0] > z)
			return sc->cross[i][0];
	return sc->z_end;
}

enum side_style { STYLE_URBAN, STYLE_SUBURBAN, STYLE_GREEN };

/* One stretch [z0, z1) of a side in its style: front plane and what stands behind it. */
static void plan_stretch(struct synth_side *sd, int style, float z0, float z1, struct rng *r)
{
	float x = sd->verge;

	if (style == STYLE_URBAN) {
		if (synth_chance(r, 0.7f)) {
			add_segment(sd, SEG_BUILDING, z0, z1, x, synth_uni(r, 6, 24), r);
			return;
		}
		add_segment(sd, synth_chance(r, 0.6f) ? SEG_WALL : SEG_FENCE, z0, z1, x,
			    synth_uni(r, 1.5f, 3.5f), r);
		add_segment(sd, SEG_VEGETATION, z0, z1, x + synth_uni(r, 2, 6),
			    synth_uni(r, 4, 10), r);
		add_segment(sd, SEG_BUILDING, z0 - 3, z1 + 3, x + synth_uni(r, 8, 15),
			    synth_uni(r, 8, 25), r);
		return;
	}
	if (style == STYLE_SUBURBAN) {
		int k = synth_pick(r, 20);
		int kind = k < 8 ? SEG_WALL : k < 15 ? SEG_FENCE : SEG_VEGETATION;
		float behind = x + synth_uni(r, 3, 9);

		add_segment(sd, kind, z0, z1, x,
			    kind == SEG_VEGETATION ? synth_uni(r, 1.0f, 2.2f)
						   : synth_uni(r, 1.2f, 2.6f),
			    r);
		if (synth_chance(r, 0.7f))
			add_segment(sd, SEG_BUILDING, z0 + synth_uni(r, 0.5f, 3),
				    z1 - synth_uni(r, 0.5f, 3), behind, synth_uni(r, 5, 12), r);
		add_segment(sd, SEG_VEGETATION, z0, z1, behind + synth_uni(r, 2, 8),
			    synth_uni(r, 5, 12), r);
		return;
	}
	if (synth_chance(r, 0.3f))
		add_segment(sd, SEG_FENCE, z0, z1, x, synth_uni(r, 1.2f, 2.2f), r);
	add_segment(sd, SEG_VEGETATION, z0, z1, x + synth_uni(r, 0.5f, 3), synth_uni(r, 4, 14),
		    r);
	if (synth_chance(r, 0.4f))
		add_segment(sd, SEG_BUILDING, z0, z1, x + synth_uni(r, 15, 30),
			    synth_uni(r, 12, 30), r);
}

/* Sidewalk, verge and the stretches along one side, broken by the cross streets. */
static void plan_side(struct synth_scene *sc, int s, float curb, struct rng *r)
{
	struct synth_side *sd = &sc->side[s];
	int u = synth_pick(r, 20);
	int style = u < 9 ? STYLE_URBAN : u < 16 ? STYLE_SUBURBAN : STYLE_GREEN;
	float z = 0.3f;
	bool lawn = synth_chance(r, style == STYLE_URBAN ? 0.2f : 0.6f);

	sd->curb = curb;
	sd->lawn = curb + 0.2f + (lawn ? synth_uni(r, 1.0f, 3.0f) : 0);
	sd->walk = sd->lawn + synth_uni(r, 2.2f, 5.5f);
	sd->verge = sd->walk + (style == STYLE_URBAN      ? 0
				: style == STYLE_SUBURBAN ? synth_uni(r, 1.5f, 6.0f)
							  : synth_uni(r, 3.0f, 12.0f));
	sd->green = style != STYLE_URBAN;
	sd->nseg = 0;
	while (z < sc->z_end && sd->nseg < SYNTH_MAX_SEGMENTS - 4) {
		float end = synth_cross_end(sc, z), limit, z1;

		if (end > 0) {
			z = end;
			continue;
		}
		limit = next_cross(sc, z);
		z1 = fminf(
		    z + (style == STYLE_URBAN ? synth_uni(r, 6, 25) : synth_uni(r, 8, 35)),
		    limit);
		if (limit - z1 < 4)
			z1 = limit;
		plan_stretch(sd, style, z, z1, r);
		z = z1;
	}
}

/* Lane lines: dashed between lanes, solid in the middle of a two-way road and at edges. */
static void plan_road(struct synth_scene *sc, const struct synth_road *rl, struct rng *r)
{
	static const float white[3] = {0.85f, 0.85f, 0.82f}, yellow[3] = {0.85f, 0.70f, 0.20f};
	float dash = synth_uni(r, 2.5f, 6), gap = dash * synth_uni(r, 1.2f, 2.5f),
	      wid = synth_uni(r, 0.1f, 0.2f);
	bool yellow_mid = synth_chance(r, 0.15f);

	sc->nmark = 0;
	for (int k = -rl->nl; k <= rl->nr + 1; k++) {
		struct synth_marking *m;
		float x = rl->lane * ((float)k - 0.5f);
		bool edge = k == -rl->nl || k == rl->nr + 1, mid = rl->two_way && k == 0;

		if (edge && !rl->park[k == -rl->nl ? 0 : 1] && !synth_chance(r, 0.4f))
			continue;
		if (sc->nmark >= SYNTH_MAX_MARKINGS)
			break;
		m = &sc->mark[sc->nmark++];
		m->x = x;
		m->width = mid ? wid * 1.3f : wid;
		m->dash = edge || mid ? 0 : dash;
		m->gap = gap;
		synth_vary(m->rgb, mid && yellow_mid ? yellow : white, 0.05f, r);
	}
}

static void plan_cross_streets(struct synth_scene *sc, struct rng *r)
{
	int n = synth_pick(r, 5);

	sc->ncross = 0;
	n = n < 2 ? 0 : n < 4 ? 1 : 2;
	for (int i = 0; i < n; i++) {
		float lo = sc->ncross ? sc->cross[sc->ncross - 1][1] + 15 : 10;
		float c0 = synth_uni(r, lo, lo + 40), c1 = c0 + synth_uni(r, 8, 16);

		if (c1 > sc->z_end - 10)
			break;
		sc->cross[sc->ncross][0] = c0;
		sc->cross[sc->ncross][1] = c1;
		sc->ncross++;
	}
	sc->zebra = synth_chance(r, 0.6f);
}

/* Buildings (and some tree lines) across the far end of the street. */
static void plan_backdrop(struct synth_scene *sc, struct rng *r)
{
	const struct synth_camera *c = &sc->cam;
	float span = sc->z_end * fmaxf(c->cx, (float)sc->w - c->cx) / c->f + 10;
	float x = -span;
	bool green = synth_chance(r, 0.25f);

	sc->nback = 0;
	while (x < span && sc->nback < SYNTH_MAX_BACKDROP) {
		struct synth_segment *g = &sc->back[sc->nback++];
		float width = synth_uni(r, 6, 22);
		int veg = green ? synth_chance(r, 0.7f) : synth_chance(r, 0.15f);

		g->kind = veg ? SEG_VEGETATION : SEG_BUILDING;
		g->z0 = x;
		g->z1 = x + width;
		g->x = sc->z_end;
		g->height = veg                     ? synth_uni(r, 5, 14)
			    : synth_chance(r, 0.1f) ? synth_uni(r, 3, 6)
						    : synth_uni(r, 8, 35);
		random_facade(&g->look, r);
		if (veg) {
			static const float leaf[3] = {0.22f, 0.32f, 0.14f};
			synth_vary(g->look.wall, leaf, 0.2f, r);
		}
		x += width;
	}
}

static void plan_sky_and_light(struct synth_scene *sc, struct rng *r)
{
	static const float blue_top[3] = {0.25f, 0.45f, 0.80f},
			   blue_low[3] = {0.70f, 0.80f, 0.92f};
	static const float grey_top[3] = {0.62f, 0.65f, 0.70f},
			   grey_low[3] = {0.82f, 0.83f, 0.85f};
	static const float cloud[3] = {0.95f, 0.95f, 0.96f};
	bool overcast = synth_chance(r, 0.3f);

	synth_vary(sc->sky_top, overcast ? grey_top : blue_top, 0.12f, r);
	synth_vary(sc->sky_low, overcast ? grey_low : blue_low, 0.08f, r);
	synth_vary(sc->cloud, cloud, 0.08f, r);
	sc->cloud_cover = overcast ? synth_uni(r, 0.4f, 0.9f) : synth_uni(r, 0, 0.6f);
	sc->sun = overcast ? 0 : synth_chance(r, 0.5f) ? -1 : 1;
	sc->sun_reach = synth_uni(r, 0.4f, 1.6f);
	sc->shade = synth_uni(r, 0.5f, 0.75f);
	for (int c = 0; c < 3; c++)
		sc->finish.gain[c] = synth_uni(r, 0.92f, 1.08f);
	sc->finish.brightness = synth_uni(r, -0.05f, 0.08f);
	sc->finish.contrast = overcast ? synth_uni(r, 0.75f, 1.0f) : synth_uni(r, 0.9f, 1.2f);
	sc->finish.gamma = synth_uni(r, 0.8f, 1.15f);
	sc->finish.vignette = synth_uni(r, 0, 0.35f);
	sc->finish.noise = synth_uni(r, 0.004f, 0.025f);
	sc->finish.blur = synth_pick(r, 10) < 3 ? 0 : synth_pick(r, 10) < 7 ? 1 : 2;
	/* the blur is in pixels: small frames would lose their thin poles to it */
	if (sc->finish.blur > sc->w / 384)
		sc->finish.blur = sc->w / 384;
	sc->finish.jpeg_quality = synth_chance(r, 0.75f) ? 60 + synth_pick(r, 36) : 0;
	sc->finish.seed = (uint32_t)rng_u64(r);
}

static void plan_ground(struct synth_scene *sc, struct rng *r)
{
	static const float pavers[][3] = {
	    {0.55f, 0.42f, 0.38f}, {0.62f, 0.58f, 0.50f}, {0.45f, 0.45f, 0.48f}};
	static const float grass[][3] = {
	    {0.33f, 0.48f, 0.20f}, {0.45f, 0.52f, 0.25f}, {0.55f, 0.54f, 0.32f}};
	/*
	 * Road and sidewalk greys overlap across scenes, but within one the pavement is
	 * lighter than the asphalt, as on real streets.
	 */
	float g = synth_uni(r, 0.2f, 0.42f), wg = fminf(g * synth_uni(r, 1.3f, 1.9f), 0.75f);
	float grey[3] = {g, g, g * synth_uni(r, 0.97f, 1.06f)}, wgrey[3] = {wg, wg, wg * 1.02f};
	float cg = fminf(wg + synth_uni(r, 0.05f, 0.2f), 0.9f), cgrey[3] = {cg, cg, cg};

	synth_vary(sc->road, grey, 0.04f, r);
	synth_vary(sc->walk, synth_chance(r, 0.3f) ? pavers[synth_pick(r, 3)] : wgrey, 0.06f,
		   r);
	synth_vary(sc->curb, cgrey, 0.04f, r);
	synth_vary(sc->grass, grass[synth_pick(r, 3)], 0.1f, r);
	sc->tile = synth_chance(r, 0.6f) ? synth_uni(r, 0.3f, 0.6f) : synth_uni(r, 1.0f, 1.6f);
}

void synth_plan(struct synth_scene *sc, int w, int h, struct rng *r)
{
	struct synth_road rl;

	memset(sc, 0, sizeof(*sc));
	sc->w = w;
	sc->h = h;
	sc->seed = (uint32_t)rng_u64(r);
	sc->cam.f = (float)w * synth_uni(r, 0.75f, 1.05f);
	sc->cam.cx = (float)w * (0.5f + synth_uni(r, -0.08f, 0.08f));
	sc->cam.cy = (float)h * synth_uni(r, 0.38f, 0.5f);
	sc->cam.height = synth_uni(r, 1.2f, 1.6f);
	sc->z_end = synth_uni(r, 50, 140);
	rl.lane = synth_uni(r, 2.8f, 3.5f);
	rl.nl = synth_pick(r, 3);
	rl.nr = synth_pick(r, 3);
	rl.two_way = rl.nl > 0 && synth_chance(r, 0.7f);
	rl.park[0] = synth_chance(r, 0.3f);
	rl.park[1] = synth_chance(r, 0.35f);
	plan_road(sc, &rl, r);
	plan_ground(sc, r);
	plan_cross_streets(sc, r);
	for (int s = 0; s < 2; s++)
		plan_side(
		    sc, s,
		    rl.lane * ((float)(s ? rl.nr : rl.nl) + 0.5f) + (rl.park[s] ? 2.2f : 0), r);
	plan_backdrop(sc, r);
	plan_sky_and_light(sc, r);
	sc->hood_px = synth_chance(r, 0.8f) ? (float)h * synth_uni(r, 0.04f, 0.09f) : 0;
	synth_plan_objects(sc, &rl, r);
}
