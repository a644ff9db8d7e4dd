/*
 * Tests of the photometric distortion of datasets/augment.c: closed-form results of
 * brightness, contrast, saturation and hue; the saturation shortcut against the HSV
 * round trip; values kept in [0, 255] under extreme draws; the draws' ranges and coins.
 */
#include "tests/testutil.h"

#include "datasets/augment.h"
#include "io/alloc.h"
#include "io/image.h"
#include "io/rng.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void test_photometric_closed_forms(void **state)
{
	struct augment_params p;
	float px[3];

	(void)state;
	memset(&p, 0, sizeof(p));
	p.brightness_on = true;
	p.brightness = 30.0f;
	memcpy(px, (float[3]){10.0f, 240.0f, 100.0f}, sizeof(px));
	augment_photometric(px, 1, &p);
	assert_true(px[0] == 40.0f && px[1] == 255.0f && px[2] == 130.0f);
	memset(&p, 0, sizeof(p));
	p.contrast_on = true;
	p.contrast = 1.5f;
	memcpy(px, (float[3]){10.0f, 200.0f, 100.0f}, sizeof(px));
	augment_photometric(px, 1, &p);
	assert_true(px[0] == 15.0f && px[1] == 255.0f && px[2] == 150.0f);
	/* A hue turn of 120 degrees moves red's value to green, green's to blue. */
	memset(&p, 0, sizeof(p));
	p.hue_on = true;
	p.hue = 120.0f;
	memcpy(px, (float[3]){200.0f, 50.0f, 10.0f}, sizeof(px));
	augment_photometric(px, 1, &p);
	assert_allclose("hue 120", px, ((float[3]){10.0f, 200.0f, 50.0f}), 3, 0, 1e-3);
	/* Saturation halved: the minimum moves half way to the maximum, hue kept. */
	memset(&p, 0, sizeof(p));
	p.saturation_on = true;
	p.saturation = 0.5f;
	memcpy(px, (float[3]){200.0f, 100.0f, 0.0f}, sizeof(px));
	augment_photometric(px, 1, &p);
	assert_allclose("saturation 0.5", px, ((float[3]){200.0f, 150.0f, 100.0f}), 3, 0, 1e-3);
	/* Raised: the minimum moves away from the maximum, up to full saturation. */
	p.saturation = 1.5f;
	memcpy(px, (float[3]){200.0f, 150.0f, 100.0f}, sizeof(px));
	augment_photometric(px, 1, &p);
	assert_allclose("saturation 1.5", px, ((float[3]){200.0f, 125.0f, 50.0f}), 3, 0, 1e-3);
	p.saturation = 3.0f;
	memcpy(px, (float[3]){200.0f, 150.0f, 100.0f}, sizeof(px));
	augment_photometric(px, 1, &p);
	assert_allclose("saturation 3", px, ((float[3]){200.0f, 100.0f, 0.0f}), 3, 0, 1e-3);
	/* Gray pixels have no saturation or hue to change. */
	p.hue_on = true;
	p.hue = 33.0f;
	memcpy(px, (float[3]){77.0f, 77.0f, 77.0f}, sizeof(px));
	augment_photometric(px, 1, &p);
	assert_true(px[0] == 77.0f && px[1] == 77.0f && px[2] == 77.0f);
}

static void test_saturation_shortcut_matches_hsv(void **state)
{
	float *x = xmalloc(3 * 1000 * sizeof(float)), *y = xmalloc(3 * 1000 * sizeof(float));
	struct augment_params p;

	(void)state;
	memset(&p, 0, sizeof(p));
	p.saturation_on = true;
	fill_uniform(x, 3 * 1000, 0.0f, 255.0f, 26);
	memcpy(y, x, 3 * 1000 * sizeof(float));
	/* Saturation alone takes a shortcut; a hue turn of 0 goes through HSV and back. */
	for (int k = 0; k < 4; k++) {
		p.saturation = 0.5f + 0.4f * k;
		p.hue_on = false;
		augment_photometric(x, 1000, &p);
		p.hue_on = true;
		p.hue = 0.0f;
		augment_photometric(y, 1000, &p);
		assert_allclose("saturation paths", x, y, 3 * 1000, 0, 2e-3);
	}
	free(x);
	free(y);
}

static void test_photometric_extremes_in_range(void **state)
{
	struct augment_params p;
	float *px = xmalloc(3 * 5000 * sizeof(float));

	(void)state;
	memset(&p, 0, sizeof(p));
	p.brightness_on = p.contrast_on = p.saturation_on = p.hue_on = true;
	/* Every combination of extreme draws keeps every value in [0, 255]. */
	for (int s = 0; s < 32; s++) {
		fill_uniform(px, 3 * 5000, 0.0f, 255.0f, (uint64_t)s);
		p.brightness = s & 1 ? 32.0f : -32.0f;
		p.contrast = s & 2 ? 1.5f : 0.5f;
		p.saturation = s & 4 ? 1.5f : 0.5f;
		p.hue = s & 8 ? 36.0f : -36.0f;
		p.contrast_last = s & 16;
		augment_photometric(px, 5000, &p);
		for (int i = 0; i < 3 * 5000; i++)
			assert_true(px[i] >= 0.0f && px[i] <= 255.0f);
	}
	free(px);
}

static void test_photometric_draws_follow_config(void **state)
{
	struct augment_config c;
	struct image img;
	int on[4] = {0}, last = 0;
	const int n = 2000;

	(void)state;
	image_init(&img, 8, 8);
	augment_config_default(&c, 8, 8);
	for (int s = 0; s < n; s++) {
		struct augment_params p;
		struct rng r;

		rng_init_stream(&r, 21, 0, (uint64_t)s);
		augment_draw(&c, &img, NULL, &r, &p);
		assert_true(fabsf(p.brightness) <= 32.0f);
		assert_true(p.contrast >= 0.5f && p.contrast <= 1.5f);
		assert_true(p.saturation >= 0.5f && p.saturation <= 1.5f);
		assert_true(fabsf(p.hue) <= 36.0f);
		on[0] += p.brightness_on;
		on[1] += p.contrast_on;
		on[2] += p.saturation_on;
		on[3] += p.hue_on;
		last += p.contrast_last;
	}
	/* Each op and the contrast position are fair coins (5 standard errors). */
	for (int k = 0; k < 4; k++)
		assert_true(fabs(on[k] - n / 2.0) < 5 * sqrt(n / 4.0));
	assert_true(fabs(last - n / 2.0) < 5 * sqrt(n / 4.0));
	c.photometric = false;
	for (int s = 0; s < 50; s++) {
		struct augment_params p;
		struct rng r;

		rng_init_stream(&r, 21, 1, (uint64_t)s);
		augment_draw(&c, &img, NULL, &r, &p);
		assert_false(p.brightness_on || p.contrast_on || p.saturation_on || p.hue_on);
	}
	image_free(&img);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_photometric_closed_forms),
		cmocka_unit_test(test_saturation_shortcut_matches_hsv),
		cmocka_unit_test(test_photometric_extremes_in_range),
		cmocka_unit_test(test_photometric_draws_follow_config),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
