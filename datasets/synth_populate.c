/*
 * The objects of a generated street (see synth_plan.c for the street itself): moving
 * and parked cars in the lanes, pedestrians on the sidewalks and crossings, rows of
 * trees and street lamps, traffic lights at the cross streets, traffic signs along the
 * curbs, and the colour of the ego vehicle's hood. Dimensions are in metres, real ones
 * except that poles, signs, light boxes and people are somewhat thicker and bigger and
 * stand nearer on average than on a real street, so they stay a few pixels wide in
 * small frames and a small network can learn them. The meaning of each object's dim,
 * col, variant and dir is given by its drawing function in synth_objects.c.
 */
#include "datasets/synth_internal.h"

#include <math.h>
#include <string.h>

static void set3(float *d, const float *s)
{
	memcpy(d, s, 3 * sizeof(float));
}

static const float car_colors[][3] = {
    {0.88f, 0.88f, 0.88f}, {0.70f, 0.72f, 0.74f}, {0.45f, 0.46f, 0.48f}, {0.08f, 0.08f, 0.09f},
    {0.10f, 0.15f, 0.35f}, {0.60f, 0.08f, 0.07f}, {0.20f, 0.35f, 0.65f}, {0.12f, 0.25f, 0.15f},
    {0.75f, 0.68f, 0.55f}, {0.85f, 0.75f, 0.15f}, {0.35f, 0.22f, 0.15f}, {0.55f, 0.55f, 0.58f},
};

static const float cloth_colors[][3] = {
    {0.06f, 0.06f, 0.07f}, {0.10f, 0.13f, 0.30f}, {0.40f, 0.40f, 0.42f}, {0.85f, 0.85f, 0.82f},
    {0.70f, 0.10f, 0.10f}, {0.20f, 0.35f, 0.70f}, {0.20f, 0.45f, 0.25f}, {0.60f, 0.55f, 0.40f},
    {0.40f, 0.28f, 0.18f}, {0.85f, 0.70f, 0.15f}, {0.85f, 0.50f, 0.60f}, {0.40f, 0.20f, 0.45f},
};

static const float skin_colors[][3] = {
    {0.95f, 0.80f, 0.68f},
    {0.85f, 0.65f, 0.50f},
    {0.60f, 0.42f, 0.30f},
    {0.40f, 0.27f, 0.18f},
};

static const float hair_colors[][3] = {
    {0.05f, 0.04f, 0.03f},
    {0.30f, 0.18f, 0.08f},
    {0.75f, 0.62f, 0.35f},
    {0.60f, 0.60f, 0.60f},
};

static const float pole_colors[][3] = {
    {0.55f, 0.56f, 0.57f}, {0.35f, 0.36f, 0.37f}, {0.15f, 0.22f, 0.17f},
    {0.10f, 0.10f, 0.11f}, {0.70f, 0.70f, 0.68f},
};

#define NCOLORS(a) ((int)(sizeof(a) / sizeof(a[0])))

static struct synth_object *add_object(struct synth_scene *sc, int kind, float x, float z,
				       struct rng *r)
{
	struct synth_object *o;

	if (sc->nobj >= SYNTH_MAX_OBJECTS || z < 0.8f || z > sc->z_end - 1)
		return NULL;
	o = &sc->obj[sc->nobj++];
	memset(o, 0, sizeof(*o));
	o->kind = kind;
	o->x = x;
	o->z = z;
	o->seed = (uint32_t)rng_u64(r);
	return o;
}

/* Instance numbers count per class from 0, as in Cityscapes' instanceIds. */
struct instance_counts {
	int car, person;
};

static void plan_car(struct synth_scene *sc, float x, float z, int dir,
		     struct instance_counts *ic, struct rng *r)
{
	static const float glass[3] = {0.12f, 0.15f, 0.20f}, rear[3] = {0.75f, 0.08f, 0.06f};
	static const float front[3] = {0.95f, 0.93f, 0.82f}, trim[3] = {0.09f, 0.09f, 0.10f};
	struct synth_object *o = add_object(sc, OBJ_CAR, x, z, r);
	int v = synth_pick(r, 10);

	if (!o)
		return;
	o->variant = v < 5 ? 0 : v < 8 ? 1 : 2;
	o->dir = dir;
	o->dim[0] = o->variant == 2 ? synth_uni(r, 1.8f, 2.05f) : synth_uni(r, 1.65f, 1.95f);
	o->dim[1] = o->variant == 0   ? synth_uni(r, 1.35f, 1.5f)
		    : o->variant == 1 ? synth_uni(r, 1.4f, 1.6f)
				      : synth_uni(r, 1.8f, 2.3f);
	o->dim[2] = o->variant == 0   ? synth_uni(r, 4.3f, 4.9f)
		    : o->variant == 1 ? synth_uni(r, 3.7f, 4.3f)
				      : synth_uni(r, 4.5f, 5.2f);
	o->dim[3] = synth_uni(r, 0.3f, 0.36f);
	synth_vary(o->col[0], car_colors[synth_pick(r, NCOLORS(car_colors))], 0.08f, r);
	synth_vary(o->col[1], glass, 0.25f, r);
	synth_vary(o->col[2], dir > 0 ? rear : front, 0.05f, r);
	set3(o->col[3], trim);
	o->inst = (uint16_t)(LBL_CAR * 1000 + ic->car++);
}

static void plan_traffic(struct synth_scene *sc, const struct synth_road *rl,
			 struct instance_counts *ic, struct rng *r)
{
	float density = synth_uni(r, 0.15f, 0.55f);

	for (int k = -rl->nl; k <= rl->nr; k++) {
		float x = rl->lane * (float)k;
		int dir = rl->two_way && k < 0 ? -1 : 1;
		float z = k == 0 ? synth_uni(r, 6, 25) : synth_uni(r, 1.5f, 12);

		while (z < sc->z_end - 6) {
			if (synth_chance(r, density))
				plan_car(sc, x + synth_uni(r, -0.3f, 0.3f), z, dir, ic, r);
			z += 5 + synth_uni(r, 2, 25);
		}
	}
	for (int s = 0; s < 2; s++) {
		float sign = s ? 1.0f : -1.0f, z = synth_uni(r, 1, 6);
		int dir = s == 0 && rl->two_way ? -1 : 1;

		if (!rl->park[s])
			continue;
		while (z < sc->z_end - 6) {
			float end = synth_cross_end(sc, z + 5);

			if (end > 0 || synth_cross_end(sc, z) > 0) {
				z = fmaxf(end, synth_cross_end(sc, z)) + 2;
				continue;
			}
			if (synth_chance(r, 0.65f))
				plan_car(sc,
					 sign * (sc->side[s].curb - synth_uni(r, 1.0f, 1.2f)),
					 z, dir, ic, r);
			z += 5 + (synth_chance(r, 0.2f) ? synth_uni(r, 4, 15)
							: synth_uni(r, 0.5f, 2.5f));
		}
	}
}

static void plan_person(struct synth_scene *sc, float x, float z, struct instance_counts *ic,
			struct rng *r)
{
	struct synth_object *o = add_object(sc, OBJ_PERSON, x, z, r);

	if (!o)
		return;
	o->dim[0] =
	    synth_chance(r, 0.12f) ? synth_uni(r, 1.0f, 1.4f) : synth_uni(r, 1.55f, 1.95f);
	o->dim[1] = synth_uni(r, 1.0f, 1.3f);
	o->dim[2] = synth_uni(r, -1, 1);
	o->dim[3] = synth_uni(r, -1, 1);
	synth_vary(o->col[0], cloth_colors[synth_pick(r, NCOLORS(cloth_colors))], 0.1f, r);
	synth_vary(o->col[1], cloth_colors[synth_pick(r, 4)], 0.1f, r);
	synth_vary(o->col[2], skin_colors[synth_pick(r, NCOLORS(skin_colors))], 0.05f, r);
	synth_vary(o->col[3], hair_colors[synth_pick(r, NCOLORS(hair_colors))], 0.1f, r);
	o->variant = (synth_chance(r, 0.15f) ? 1 : 0) | (synth_chance(r, 0.2f) ? 2 : 0) |
		     (synth_chance(r, 0.1f) ? 4 : 0);
	o->dir = synth_chance(r, 0.5f) ? 1 : -1;
	o->inst = (uint16_t)(LBL_PERSON * 1000 + ic->person++);
}

static void plan_people(struct synth_scene *sc, struct instance_counts *ic, struct rng *r)
{
	float zmax = fminf(45, sc->z_end - 2);

	for (int s = 0; s < 2; s++) {
		const struct synth_side *sd = &sc->side[s];
		float sign = s ? 1.0f : -1.0f;
		int n = synth_pick(r, 18) - 3;

		for (int i = 0; i < n; i++) {
			/* more people near the camera than a uniform depth would give */
			float u = rng_uniform(r), z = 2.5f + (zmax - 2.5f) * u * sqrtf(u);
			float x = sign * synth_uni(r, sd->lawn + 0.3f, sd->walk - 0.3f);

			plan_person(sc, x, z, ic, r);
			if (synth_chance(r, 0.3f))
				plan_person(sc, x + synth_uni(r, -0.8f, 0.8f),
					    z + synth_uni(r, -1, 1), ic, r);
		}
	}
	if (sc->zebra && sc->ncross > 0 && synth_chance(r, 0.5f)) {
		int n = 1 + synth_pick(r, 4);

		for (int i = 0; i < n; i++)
			plan_person(sc, synth_uni(r, -sc->side[0].curb, sc->side[1].curb),
				    sc->cross[0][0] - synth_uni(r, 1.5f, 4), ic, r);
	}
}

static void plan_trees_and_lamps(struct synth_scene *sc, struct rng *r)
{
	static const float trunk[3] = {0.30f, 0.24f, 0.18f};
	static const float leaf[][3] = {{0.18f, 0.30f, 0.10f},
					{0.26f, 0.38f, 0.14f},
					{0.14f, 0.24f, 0.12f},
					{0.35f, 0.40f, 0.15f}};

	for (int s = 0; s < 2; s++) {
		const struct synth_side *sd = &sc->side[s];
		float sign = s ? 1.0f : -1.0f, step = synth_uni(r, 7, 14),
		      z = synth_uni(r, 2, 10);
		float x = sd->lawn - sd->curb > 1.0f    ? 0.5f * (sd->curb + 0.2f + sd->lawn)
			  : sd->verge - sd->walk > 1.5f ? 0.5f * (sd->walk + sd->verge)
							: sd->curb + synth_uni(r, 0.7f, 1.1f);
		const float *green = leaf[synth_pick(r, 4)];
		bool trees = synth_chance(r, 0.55f);

		for (; trees && z < sc->z_end - 2; z += step * synth_uni(r, 0.85f, 1.15f)) {
			struct synth_object *o;

			if (synth_cross_end(sc, z) > 0 ||
			    !(o = add_object(sc, OBJ_TREE, sign * x, z, r)))
				continue;
			o->dim[0] = synth_uni(r, 1.8f, 3.5f);
			o->dim[1] = synth_uni(r, 0.2f, 0.45f);
			o->dim[2] = synth_uni(r, 1.4f, 3.2f);
			o->dim[3] = (float)(2 + synth_pick(r, 4));
			synth_vary(o->col[0], trunk, 0.15f, r);
			synth_vary(o->col[1], green, 0.12f, r);
		}
		if (!synth_chance(r, 0.8f))
			continue;
		for (z = synth_uni(r, 3, 12), step = synth_uni(r, 12, 24); z < sc->z_end - 2;
		     z += step) {
			struct synth_object *o;

			if (synth_cross_end(sc, z) > 0 ||
			    !(o = add_object(sc, OBJ_LAMP, sign * (sd->curb + 0.4f), z, r)))
				continue;
			o->dim[0] = synth_uni(r, 6, 9);
			o->dim[1] = synth_uni(r, 0.22f, 0.35f);
			o->dim[2] = -sign * synth_uni(r, 0.8f, 2.2f);
			set3(o->col[0], pole_colors[synth_pick(r, NCOLORS(pole_colors))]);
		}
	}
}

static void traffic_light(struct synth_scene *sc, int kind, float x, float z, struct rng *r)
{
	static const float housing[][3] = {{0.12f, 0.12f, 0.13f},
					   {0.05f, 0.05f, 0.05f},
					   {0.75f, 0.60f, 0.10f},
					   {0.25f, 0.30f, 0.25f}};
	struct synth_object *o = add_object(sc, kind, x, z, r);

	if (!o)
		return;
	o->dim[0] = kind == OBJ_MAST ? synth_uni(r, 5, 7) : synth_uni(r, 2.4f, 3.6f);
	o->dim[1] = kind == OBJ_MAST ? synth_uni(r, 0.22f, 0.32f) : synth_uni(r, 0.16f, 0.25f);
	o->dim[2] = synth_uni(r, 1.0f, 1.4f);
	o->dim[3] = synth_uni(r, 0.45f, 0.6f);
	set3(o->col[0], pole_colors[synth_pick(r, NCOLORS(pole_colors))]);
	synth_vary(o->col[1], housing[synth_pick(r, 4)], 0.1f, r);
	o->variant = synth_pick(r, 3) | (synth_chance(r, 0.7f) ? 4 : 0);
	o->dir = synth_pick(r, 2);
}

static void plan_signals(struct synth_scene *sc, struct rng *r)
{
	float zmax = fminf(45, sc->z_end - 2);

	for (int i = 0; i < sc->ncross; i++)
		for (int s = 0; s < 2; s++) {
			float sign = s ? 1.0f : -1.0f,
			      z = sc->cross[i][0] - synth_uni(r, 0.3f, 2);
			bool mast = s == 1 && synth_chance(r, 0.4f);
			struct synth_object *o;

			traffic_light(sc, mast ? OBJ_MAST : OBJ_LIGHT,
				      sign * (sc->side[s].curb + 0.5f), z, r);
			if (mast && (o = &sc->obj[sc->nobj - 1])->kind == OBJ_MAST)
				o->dim[2] = -synth_uni(r, 3, sc->side[1].curb + 1);
		}
	for (int i = 0; i < sc->ncross; i++)
		for (int s = 0; s < 2; s++)
			if (synth_chance(r, 0.6f))
				traffic_light(sc, OBJ_LIGHT,
					      (s ? 1.0f : -1.0f) * (sc->side[s].curb + 0.5f),
					      sc->cross[i][1] + synth_uni(r, 0.3f, 2), r);
	if (sc->ncross == 0 && synth_chance(r, 0.7f)) {
		float z = synth_uni(r, 8, zmax);

		for (int s = 0; s < 2; s++)
			traffic_light(sc, OBJ_LIGHT,
				      (s ? 1.0f : -1.0f) * (sc->side[s].curb + 0.5f), z, r);
	}
	for (int s = 0; s < 2; s++) {
		int n = 1 + synth_pick(r, 5);

		for (int i = 0; i < n; i++) {
			float sign = s ? 1.0f : -1.0f;
			struct synth_object *o = add_object(
			    sc, OBJ_SIGN, sign * (sc->side[s].curb + synth_uni(r, 0.3f, 0.8f)),
			    synth_uni(r, 4, zmax), r);

			if (!o)
				continue;
			o->dim[0] = synth_uni(r, 2.2f, 3.2f);
			o->dim[1] = synth_uni(r, 0.12f, 0.18f);
			o->dim[2] = synth_uni(r, 0.8f, 1.3f);
			o->dim[3] = synth_chance(r, 0.3f) ? synth_uni(r, 0.6f, 0.9f) : 0;
			set3(o->col[0], pole_colors[synth_pick(r, NCOLORS(pole_colors))]);
			o->variant = synth_pick(r, 7);
			o->dir = synth_pick(r, 7);
		}
	}
}

/* Far to near (stable, so equal depths keep their planning order). */
static void sort_objects(struct synth_scene *sc)
{
	for (int i = 1; i < sc->nobj; i++) {
		struct synth_object t = sc->obj[i];
		int j = i;

		for (; j > 0 && sc->obj[j - 1].z < t.z; j--)
			sc->obj[j] = sc->obj[j - 1];
		sc->obj[j] = t;
	}
}

void synth_plan_objects(struct synth_scene *sc, const struct synth_road *rl, struct rng *r)
{
	struct instance_counts ic = {0, 0};

	sc->nobj = 0;
	plan_signals(sc, r);
	plan_trees_and_lamps(sc, r);
	plan_traffic(sc, rl, &ic, r);
	plan_people(sc, &ic, r);
	synth_vary(sc->hood_rgb, car_colors[synth_pick(r, NCOLORS(car_colors))], 0.05f, r);
	sort_objects(sc);
}
