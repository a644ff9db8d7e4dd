/*
 * The objects of a generated street, drawn as flat parts in world coordinates and
 * projected: cars (box body, cabin, windows, wheels, lights), pedestrians (legs, torso,
 * arms, head), trees (trunk and foliage blobs), street lamps, traffic signs and traffic
 * lights. Their ground shadows go first, then the objects far to near (the planner sorts
 * them). Each object is labelled as a whole: a car's windows and wheels are car, a
 * tree's trunk is vegetation, a sign's post is pole.
 */
#include "datasets/synth_internal.h"

#include <math.h>

/* What one drawing call needs: canvas, camera, and the object's brightness. */
struct obj_ctx {
	struct synth_canvas *cv;
	const struct synth_camera *cam;
	float light;
	uint32_t seed;
};

static struct synth_paint paint(const struct obj_ctx *c, const float *rgb, float k, int label,
				int inst)
{
	float lit[3] = {rgb[0] * k * c->light, rgb[1] * k * c->light, rgb[2] * k * c->light};

	return synth_paint_make(lit, label, inst, c->seed);
}

/* A world rectangle [x0, x1] x [y0, y1] in the plane at depth z. */
static void rect_at(const struct obj_ctx *c, float x0, float y0, float x1, float y1, float z,
		    const struct synth_paint *p)
{
	synth_fill_rect(c->cv, cam_x(c->cam, x0, z), cam_y(c->cam, y1, z), cam_x(c->cam, x1, z),
			cam_y(c->cam, y0, z), p);
}

/* A convex polygon of n world points (x, y, z). */
static void poly3(const struct obj_ctx *c, const float *p3, int n, const struct synth_paint *p)
{
	float xy[16];

	for (int i = 0; i < n && i < 8; i++) {
		xy[2 * i] = cam_x(c->cam, p3[3 * i], p3[3 * i + 2]);
		xy[2 * i + 1] = cam_y(c->cam, p3[3 * i + 1], p3[3 * i + 2]);
	}
	synth_fill_polygon(c->cv, xy, n < 8 ? n : 8, p);
}

/* A convex polygon of n world points (x, y) in the plane at depth z. */
static void poly_at(const struct obj_ctx *c, const float *p2, int n, float z,
		    const struct synth_paint *p)
{
	float xy[16];

	for (int i = 0; i < n && i < 8; i++) {
		xy[2 * i] = cam_x(c->cam, p2[2 * i], z);
		xy[2 * i + 1] = cam_y(c->cam, p2[2 * i + 1], z);
	}
	synth_fill_polygon(c->cv, xy, n < 8 ? n : 8, p);
}

static void ellipse_at(const struct obj_ctx *c, float x, float y, float rx, float ry, float z,
		       const struct synth_paint *p)
{
	synth_fill_ellipse(c->cv, cam_x(c->cam, x, z), cam_y(c->cam, y, z), c->cam->f * rx / z,
			   c->cam->f * ry / z, p);
}

/*
 * A shadow on the ground over the world rectangle [x0, x1] x [z0, z1], cut off just in
 * front of the camera (where the projection would flip).
 */
static void ground_shadow(const struct obj_ctx *c, float x0, float z0, float x1, float z1,
			  float factor)
{
	float zn = fmaxf(z0, 0.3f), yn = cam_y(c->cam, 0, zn), yf = cam_y(c->cam, 0, z1);
	float xy[8] = {cam_x(c->cam, x0, zn), yn, cam_x(c->cam, x1, zn), yn,
		       cam_x(c->cam, x1, z1), yf, cam_x(c->cam, x0, z1), yf};

	if (z1 <= zn)
		return;
	synth_shade_polygon(c->cv, xy, 4, factor);
}

/*
 * The flank of a car at X = sx (the side facing the camera): body up to the belt line,
 * the cabin leaning inwards by in at the belt and 2 in at the roof (s gives inwards),
 * its windows, and the two wheels.
 */
static void car_side(const struct obj_ctx *c, const struct synth_object *o, float sx, float s,
		     float in, const float *cab)
{
	float h = o->dim[1], l = o->dim[2], r = o->dim[3], z = o->z;
	float belt = h * (o->variant == 2 ? 0.5f : 0.55f), xb = sx + s * in,
	      xt = sx + 2 * s * in;
	struct synth_paint body = paint(c, o->col[0], 0.85f, LBL_CAR, o->inst);
	struct synth_paint glass = paint(c, o->col[1], 1, LBL_CAR, o->inst);
	struct synth_paint tyre = paint(c, o->col[3], 1, LBL_CAR, o->inst);
	struct synth_paint hub = paint(c, o->col[3], 4, LBL_CAR, o->inst);
	float side[12] = {sx, 0.2f, z, sx, 0.2f, z + l, sx, belt, z + l, sx, belt, z};
	float cabin[12] = {xb, belt, z + cab[0] * l, xb, belt, z + cab[1] * l,
			   xt, h,    z + cab[3] * l, xt, h,    z + cab[2] * l};
	float win[12] = {
	    xb, belt + 0.06f, z + cab[0] * l + 0.1f,  xb, belt + 0.06f, z + cab[1] * l - 0.1f,
	    xt, h - 0.06f,    z + cab[3] * l - 0.08f, xt, h - 0.06f,    z + cab[2] * l + 0.08f};

	body.top_light = 0.2f;
	poly3(c, side, 4, &body);
	poly3(c, cabin, 4, &body);
	poly3(c, win, 4, &glass);
	for (int k = 0; k < 2; k++) {
		float zw = z + (k ? 0.8f : 0.2f) * l;
		float rx = 0.5f * fabsf(cam_x(c->cam, sx, zw - r) - cam_x(c->cam, sx, zw + r));
		float cx = cam_x(c->cam, sx, zw), cy = cam_y(c->cam, r, zw),
		      ry = c->cam->f * r / zw;

		synth_fill_ellipse(c->cv, cx, cy, rx, ry, &tyre);
		synth_fill_ellipse(c->cv, cx, cy, 0.55f * rx, 0.55f * ry, &hub);
	}
}

/* The near end of a car (rear or front): bumper, lamps, plate, grille, tyres below. */
static void car_end(const struct obj_ctx *c, const struct synth_object *o, float belt)
{
	static const float plate[3] = {0.9f, 0.9f, 0.88f};
	float wd = o->dim[0], l = o->dim[2], z = o->z;
	float xl = o->x - 0.5f * wd, xr = o->x + 0.5f * wd;
	struct synth_paint body = paint(c, o->col[0], 1, LBL_CAR, o->inst);
	struct synth_paint lamp = paint(c, o->col[2], 1, LBL_CAR, o->inst);
	struct synth_paint trim = paint(c, o->col[3], 1, LBL_CAR, o->inst);
	struct synth_paint white = paint(c, plate, 1, LBL_CAR, o->inst);

	rect_at(c, xl + 0.05f, 0, xl + 0.32f, 0.35f, z + 0.15f * l, &trim);
	rect_at(c, xr - 0.32f, 0, xr - 0.05f, 0.35f, z + 0.15f * l, &trim);
	body.top_light = 0.25f;
	rect_at(c, xl, 0.22f, xr, belt, z, &body);
	rect_at(c, xl, 0.22f, xr, 0.34f, z, &trim);
	rect_at(c, xl + 0.04f, belt - 0.2f, xl + 0.3f, belt - 0.05f, z, &lamp);
	rect_at(c, xr - 0.3f, belt - 0.2f, xr - 0.04f, belt - 0.05f, z, &lamp);
	if (o->dir < 0)
		rect_at(c, o->x - 0.4f, belt - 0.22f, o->x + 0.4f, belt - 0.06f, z, &trim);
	rect_at(c, o->x - 0.26f, 0.36f, o->x + 0.26f, 0.47f, z, &white);
}

/*
 * Cars: dim = width, height, length, wheel radius; col = body, glass, lamps, trim;
 * variant 0 sedan, 1 hatchback, 2 van; dir +1 driving away (rear seen), -1 towards.
 * Parts go far to near: the top of the bonnet or boot, the roof, the flank, the sloping
 * window face of the cabin, the near end.
 */
static void draw_car(const struct obj_ctx *c, const struct synth_object *o)
{
	/* cabin corners along the length: bottom near, bottom far, top near, top far */
	static const float cabins[3][2][4] = {
	    {{0.25f, 0.8f, 0.35f, 0.68f}, {0.2f, 0.75f, 0.32f, 0.65f}},
	    {{0.05f, 0.75f, 0.1f, 0.6f}, {0.25f, 0.95f, 0.4f, 0.9f}},
	    {{0.03f, 0.85f, 0.05f, 0.75f}, {0.15f, 0.97f, 0.25f, 0.95f}},
	};
	const float *cab = cabins[o->variant][o->dir > 0 ? 0 : 1];
	float wd = o->dim[0], h = o->dim[1], l = o->dim[2], z = o->z;
	float xl = o->x - 0.5f * wd, xr = o->x + 0.5f * wd;
	float belt = h * (o->variant == 2 ? 0.5f : 0.55f);
	float zc = z + cab[0] * l, zt = z + cab[2] * l, zr = z + cab[3] * l, in = 0.06f * wd;
	struct synth_paint body = paint(c, o->col[0], 1, LBL_CAR, o->inst);
	struct synth_paint glass = paint(c, o->col[1], 1.1f, LBL_CAR, o->inst);
	float top[12] = {xl, belt, z, xr, belt, z, xr, belt, z + l, xl, belt, z + l};
	float roof[12] = {xl + 2 * in, h, zt, xr - 2 * in, h, zt,
			  xr - 2 * in, h, zr, xl + 2 * in, h, zr};
	float face[12] = {xl + in,     belt, zc, xr - in,     belt, zc,
			  xr - 2 * in, h,    zt, xl + 2 * in, h,    zt};
	float win[12] = {
	    xl + in + 0.07f,     belt + 0.05f, zc, xr - in - 0.07f,     belt + 0.05f, zc,
	    xr - 2 * in - 0.07f, h - 0.06f,    zt, xl + 2 * in + 0.07f, h - 0.06f,    zt};

	body.top_light = 0.25f;
	poly3(c, top, 4, &body);
	if (c->cam->height > h)
		poly3(c, roof, 4, &body);
	if (xl > 0.05f)
		car_side(c, o, xl, 1, in, cab);
	else if (xr < -0.05f)
		car_side(c, o, xr, -1, in, cab);
	poly3(c, face, 4, &body);
	poly3(c, win, 4, &glass);
	car_end(c, o, belt);
}

/* One leg (with its shoe) and one arm (with its hand) of a person; k = -1 left, +1 right. */
static void person_limbs(const struct obj_ctx *c, const struct synth_object *o, int k,
			 const struct synth_paint *legs, const struct synth_paint *sleeve,
			 const struct synth_paint *skin, const struct synth_paint *shoe)
{
	float h = o->dim[0], s = h / 1.75f, sw = s * o->dim[1], x = o->x, z = o->z;
	float fk = (float)k, hip = 0.5f * h, sh = 0.81f * h;
	float hx = x + fk * 0.075f * sw, fx = hx + fk * 0.16f * s * o->dim[2];
	float hand = x + fk * (0.25f * sw + 0.05f * s * o->dim[3]);
	float leg[8] = {hx - 0.07f * sw, hip, hx + 0.07f * sw, hip,
			fx + 0.055f * sw, 0.05f, fx - 0.055f * sw, 0.05f};
	float arm[8] = {x + fk * 0.2f * sw, sh, x + fk * 0.25f * sw, sh,
			hand, 0.47f * h, hand - fk * 0.07f * sw, 0.47f * h};

	poly_at(c, leg, 4, z, o->variant & 1 ? skin : legs);
	rect_at(c, fx - 0.07f * sw, 0, fx + 0.07f * sw, 0.06f, z, shoe);
	poly_at(c, arm, 4, z, sleeve);
	ellipse_at(c, hand - fk * 0.03f * sw, 0.45f * h, 0.045f * s, 0.05f * s, z, skin);
}

/*
 * People: dim = height, width scale, stride (-1..1), arm swing (-1..1); col = top,
 * legs, skin, hair; variant bits 1 skirt, 2 bag, 4 hat; dir +1 back seen, -1 face seen.
 */
static void draw_person(const struct obj_ctx *c, const struct synth_object *o)
{
	float h = o->dim[0], s = h / 1.75f, sw = s * o->dim[1], x = o->x, z = o->z;
	float hip = 0.5f * h, sh = 0.81f * h, rh = 0.068f * h;
	struct synth_paint top = paint(c, o->col[0], 1, LBL_PERSON, o->inst);
	struct synth_paint legs = paint(c, o->col[1], 1, LBL_PERSON, o->inst);
	struct synth_paint skin = paint(c, o->col[2], 1, LBL_PERSON, o->inst);
	struct synth_paint hair = paint(c, o->col[3], 1, LBL_PERSON, o->inst);
	struct synth_paint shoe = paint(c, o->col[3], 0.3f, LBL_PERSON, o->inst);
	float torso[8] = {x - 0.17f * sw, hip - 0.04f * h, x + 0.17f * sw, hip - 0.04f * h,
			  x + 0.22f * sw, sh, x - 0.22f * sw, sh};
	float skirt[8] = {x - 0.17f * sw, hip, x + 0.17f * sw, hip,
			  x + 0.26f * sw, 0.28f * h, x - 0.26f * sw, 0.28f * h};

	person_limbs(c, o, -1, &legs, &top, &skin, &shoe);
	person_limbs(c, o, 1, &legs, &top, &skin, &shoe);
	if (o->variant & 1)
		poly_at(c, skirt, 4, z, &legs);
	top.top_light = 0.2f;
	poly_at(c, torso, 4, z, &top);
	if ((o->variant & 2) && o->dir > 0) {
		struct synth_paint bag = paint(c, o->col[1], 0.6f, LBL_PERSON, o->inst);

		rect_at(c, x - 0.15f * sw, 0.55f * h, x + 0.15f * sw, 0.78f * h, z, &bag);
	}
	rect_at(c, x - 0.04f * s, sh - 0.01f, x + 0.04f * s, h - 1.6f * rh, z, &skin);
	ellipse_at(c, x, h - rh, 0.8f * rh, rh, z, o->dir > 0 ? &hair : &skin);
	if (o->variant & 4)
		rect_at(c, x - 0.9f * rh, h - 0.7f * rh, x + 0.9f * rh, h + 0.15f * rh, z, &shoe);
	else if (o->dir < 0)
		ellipse_at(c, x, h - 0.55f * rh, 0.85f * rh, 0.55f * rh, z, &hair);
}

/* Trees: dim = trunk height, trunk width, crown radius, blobs; col = trunk, leaves. */
static void draw_tree(const struct obj_ctx *c, const struct synth_object *o)
{
	float th = o->dim[0], tw = o->dim[1], cr = o->dim[2], z = o->z;
	float cy = th + 0.8f * cr, pxm = c->cam->f / z;
	struct synth_paint trunk = paint(c, o->col[0], 1, LBL_VEGETATION, LBL_VEGETATION);
	struct synth_paint leaf = paint(c, o->col[1], 1, LBL_VEGETATION, LBL_VEGETATION);
	int blobs = (int)o->dim[3];

	trunk.mottle = 0.15f;
	rect_at(c, o->x - 0.5f * tw, 0, o->x + 0.5f * tw, cy, z, &trunk);
	leaf.grain = 0.18f;
	leaf.mottle = 0.35f;
	leaf.mottle_px = fmaxf(0.35f * pxm, 1.5f);
	leaf.top_light = 0.35f;
	for (int i = 0; i <= blobs; i++) {
		float a = 6.2832f * synth_hash01(o->seed, i, 0), d = i ? 0.55f * cr : 0;
		float r = i ? cr * (0.5f + 0.25f * synth_hash01(o->seed, i, 1)) : cr;
		float bx = o->x + d * cosf(a), by = cy + 0.7f * d * sinf(a);

		leaf.seed = o->seed + (uint32_t)i;
		synth_fill_blob(c->cv, cam_x(c->cam, bx, z), cam_y(c->cam, by, z), r * pxm,
				0.25f, &leaf);
	}
}

/* Street lamps: dim = height, width, arm reach in X; col = pole. */
static void draw_lamp(const struct obj_ctx *c, const struct synth_object *o)
{
	float h = o->dim[0], pw = o->dim[1], arm = o->dim[2], z = o->z, x = o->x;
	struct synth_paint pole = paint(c, o->col[0], 1, LBL_POLE, LBL_POLE);
	struct synth_paint head = paint(c, o->col[0], 0.7f, LBL_POLE, LBL_POLE);
	float xa = fminf(x, x + arm), xb = fmaxf(x, x + arm);

	pole.top_light = 0.2f;
	rect_at(c, x - 0.5f * pw, 0, x + 0.5f * pw, h, z, &pole);
	rect_at(c, x - 0.8f * pw, 0, x + 0.8f * pw, 0.5f, z, &pole);
	rect_at(c, xa, h - 0.12f, xb, h - 0.02f, z, &pole);
	rect_at(c, x + arm - 0.3f, h - 0.22f, x + arm + 0.3f, h - 0.05f, z, &head);
}

/* Signs: dim = pole height, width, sign size, second sign size; variant/dir: shapes. */
static void sign_face(const struct obj_ctx *c, int shape, float x, float y, float size,
		      float z)
{
	static const float red[3] = {0.75f, 0.08f, 0.08f}, wht[3] = {0.92f, 0.92f, 0.9f};
	static const float blue[3] = {0.1f, 0.25f, 0.7f}, yel[3] = {0.95f, 0.78f, 0.1f};
	static const float blk[3] = {0.08f, 0.08f, 0.08f};
	struct synth_paint pr = paint(c, red, 1, LBL_SIGN, LBL_SIGN);
	struct synth_paint pw = paint(c, wht, 1, LBL_SIGN, LBL_SIGN);
	struct synth_paint pb = paint(c, blue, 1, LBL_SIGN, LBL_SIGN);
	struct synth_paint py = paint(c, yel, 1, LBL_SIGN, LBL_SIGN);
	struct synth_paint pk = paint(c, blk, 1, LBL_SIGN, LBL_SIGN);
	float r = 0.5f * size, oct[16];

	switch (shape) {
	case 0: /* prohibition: red ring */
	case 1: /* mandatory: blue disc with a white bar */
		ellipse_at(c, x, y, r, r, z, shape ? &pb : &pr);
		ellipse_at(c, x, y, 0.75f * r, 0.75f * r, z, shape ? &pb : &pw);
		if (shape)
			rect_at(c, x - 0.12f * r, y - 0.5f * r, x + 0.12f * r, y + 0.5f * r, z,
				&pw);
		break;
	case 2: /* warning: red triangle, white inside */
		for (int k = 0; k < 2; k++) {
			float q = k ? 0.6f : 1, top = k ? 0.5f : 1;
			float tri[6] = {x - q * r, y - 0.6f * q * r, x + q * r, y - 0.6f * q * r,
					x, y + top * r};

			poly_at(c, tri, 3, z, k ? &pw : &pr);
		}
		break;
	case 3: /* information: blue square */
		rect_at(c, x - r, y - r, x + r, y + r, z, &pb);
		rect_at(c, x - 0.3f * r, y - 0.6f * r, x + 0.3f * r, y + 0.6f * r, z, &pw);
		break;
	case 4: /* priority road: yellow diamond with a white border */
		for (int k = 0; k < 2; k++) {
			float q = k ? 0.7f * r : r;
			float dia[8] = {x, y - q, x + q, y, x, y + q, x - q, y};

			poly_at(c, dia, 4, z, k ? &py : &pw);
		}
		break;
	case 5: /* stop: red octagon */
		for (int i = 0; i < 8; i++) {
			oct[2 * i] = x + r * cosf(0.3927f + 0.7854f * (float)i);
			oct[2 * i + 1] = y + r * sinf(0.3927f + 0.7854f * (float)i);
		}
		poly_at(c, oct, 8, z, &pr);
		rect_at(c, x - 0.6f * r, y - 0.12f * r, x + 0.6f * r, y + 0.12f * r, z, &pw);
		break;
	default: /* street name: white board with a black line of text */
		rect_at(c, x - 1.4f * r, y - 0.5f * r, x + 1.4f * r, y + 0.5f * r, z, &pw);
		rect_at(c, x - 1.1f * r, y - 0.1f * r, x + 1.1f * r, y + 0.1f * r, z, &pk);
		break;
	}
}

static void draw_sign(const struct obj_ctx *c, const struct synth_object *o)
{
	float ph = o->dim[0], pw = o->dim[1], s1 = o->dim[2], s2 = o->dim[3];
	struct synth_paint pole = paint(c, o->col[0], 1, LBL_POLE, LBL_POLE);

	rect_at(c, o->x - 0.5f * pw, 0, o->x + 0.5f * pw, ph, o->z, &pole);
	sign_face(c, o->variant, o->x, ph, s1, o->z);
	if (s2 > 0)
		sign_face(c, o->dir, o->x, ph - 0.5f * s1 - 0.6f * s2, s2, o->z);
}

/* A light box of height bh and width bw with its lower edge at y; lamp lit = 0..2. */
static void light_box(const struct obj_ctx *c, const struct synth_object *o, float x, float y,
		      float bh, float bw)
{
	static const float on[3][3] = {
	    {1.0f, 0.15f, 0.1f}, {1.0f, 0.7f, 0.1f}, {0.3f, 1.0f, 0.55f}};
	static const float off[3] = {0.12f, 0.11f, 0.1f}, plate[3] = {0.04f, 0.04f, 0.04f};
	struct synth_paint box = paint(c, o->col[1], 1, LBL_LIGHT, LBL_LIGHT);
	struct synth_paint back = paint(c, plate, 1, LBL_LIGHT, LBL_LIGHT);
	int lit = o->variant & 3;

	if (o->variant & 4)
		rect_at(c, x - 0.85f * bw, y - 0.08f, x + 0.85f * bw, y + bh + 0.08f, o->z,
			&back);
	rect_at(c, x - 0.5f * bw, y, x + 0.5f * bw, y + bh, o->z, &box);
	for (int i = 0; i < 3; i++) {
		struct synth_paint lamp = synth_paint_make(i == 2 - lit ? on[2 - i] : off,
							   LBL_LIGHT, LBL_LIGHT, c->seed);

		ellipse_at(c, x, y + bh * (0.2f + 0.3f * (float)i), 0.3f * bw, 0.3f * bw, o->z,
			   &lamp);
	}
}

/* Lights: dim = pole height, pole width, box height, box width; dir 0 on top, 1 beside. */
static void draw_light(const struct obj_ctx *c, const struct synth_object *o)
{
	float ph = o->dim[0], pw = o->dim[1], bh = o->dim[2], bw = o->dim[3];
	struct synth_paint pole = paint(c, o->col[0], 1, LBL_POLE, LBL_POLE);
	float side = o->x < 0 ? 1.0f : -1.0f;

	if (o->dir == 0) {
		rect_at(c, o->x - 0.5f * pw, 0, o->x + 0.5f * pw, ph, o->z, &pole);
		light_box(c, o, o->x, ph, bh, bw);
		return;
	}
	rect_at(c, o->x - 0.5f * pw, 0, o->x + 0.5f * pw, ph + 0.4f, o->z, &pole);
	light_box(c, o, o->x + side * (0.5f * pw + 0.5f * bw), ph - bh, bh, bw);
}

/* Masts: dim = height, width, arm reach in X (boxes hang from it), box height and width. */
static void draw_mast(const struct obj_ctx *c, const struct synth_object *o)
{
	float ph = o->dim[0], pw = o->dim[1], arm = o->dim[2], bh = o->dim[3] * 0.9f;
	struct synth_paint pole = paint(c, o->col[0], 1, LBL_POLE, LBL_POLE);

	rect_at(c, o->x - 0.5f * pw, 0, o->x + 0.5f * pw, ph, o->z, &pole);
	rect_at(c, fminf(o->x, o->x + arm), ph - 0.35f, fmaxf(o->x, o->x + arm), ph - 0.15f,
		o->z, &pole);
	light_box(c, o, o->x + 0.55f * arm, ph - 0.35f - bh, bh, o->dim[3]);
	light_box(c, o, o->x + 0.95f * arm, ph - 0.35f - bh, bh, o->dim[3]);
}

static void draw_shadow(const struct obj_ctx *c, const struct synth_scene *sc,
			const struct synth_object *o)
{
	float reach = sc->sun == 0 ? 0 : -(float)sc->sun * sc->sun_reach;

	if (o->kind == OBJ_CAR) {
		float x0 = o->x - 0.5f * o->dim[0], x1 = o->x + 0.5f * o->dim[0];
		float cast = reach * o->dim[1];

		ground_shadow(c, x0 - 0.1f, o->z - 0.1f, x1 + 0.1f, o->z + o->dim[2], 0.55f);
		if (cast != 0)
			ground_shadow(c, fminf(x0, x0 + cast), o->z + 0.2f,
				      fmaxf(x1, x1 + cast), o->z + o->dim[2] - 0.2f, sc->shade);
	} else if (o->kind == OBJ_PERSON) {
		ground_shadow(c, o->x - 0.25f, o->z - 0.15f, o->x + 0.25f, o->z + 0.25f, 0.6f);
	} else if (o->kind == OBJ_TREE && reach != 0) {
		float cx = o->x + reach * (o->dim[0] + o->dim[2]), r = o->dim[2];

		ground_shadow(c, cx - r, o->z - 0.7f * r, cx + r, o->z + 0.7f * r, sc->shade);
	}
}

void synth_draw_objects(struct synth_canvas *cv, const struct synth_scene *sc)
{
	for (int pass = 0; pass < 2; pass++)
		for (int i = 0; i < sc->nobj; i++) {
			const struct synth_object *o = &sc->obj[i];
			struct obj_ctx c = {cv, &sc->cam, 1, o->seed};

			if (sc->sun == 0)
				c.light = 0.92f;
			else if (synth_in_shadow(sc, o->x, o->z))
				c.light = sc->shade;
			if (pass == 0) {
				draw_shadow(&c, sc, o);
				continue;
			}
			switch (o->kind) {
			case OBJ_CAR: draw_car(&c, o); break;
			case OBJ_PERSON: draw_person(&c, o); break;
			case OBJ_TREE: draw_tree(&c, o); break;
			case OBJ_LAMP: draw_lamp(&c, o); break;
			case OBJ_SIGN: draw_sign(&c, o); break;
			case OBJ_LIGHT: draw_light(&c, o); break;
			default: draw_mast(&c, o); break;
			}
		}
}
