/*
 * The public API (app/knseg.h): whole-image segmentation equals the model run by hand
 * (normalize, pad, forward, crop, argmax); probabilities sum to 1; a sliding window
 * covering the whole image equals the whole-image pass; flipping and scales average
 * passes; a stride larger than the window still covers every pixel; errors are
 * reported, and an image whose buffers cannot be allocated is an error, not an abort.
 */
#include "tests/testutil.h"

#include "app/knseg.h"
#include "io/error.h"
#include "io/safetensors.h"
#include "nets/checkpoint.h"
#include "nets/model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#define CKPT "tests/fixtures/models_knresnet18_fpn_weights.safetensors"
#define W 70
#define H 45
#define K 5

static uint8_t *random_rgb(uint64_t seed)
{
	float *f = malloc(3 * W * H * sizeof(float));
	uint8_t *rgb = malloc(3 * W * H);

	fill_uniform(f, 3 * W * H, 0, 256, seed);
	for (int i = 0; i < 3 * W * H; i++)
		rgb[i] = (uint8_t)f[i];
	free(f);
	return rgb;
}

/* The logits of the checkpoint's network on rgb, computed with the model directly. */
static float *manual_logits(const uint8_t *rgb)
{
	struct safetensors_file f;
	struct checkpoint_meta meta;
	struct model *m;
	float *img = malloc(3 * W * H * sizeof(float)), *logits = malloc(K * W * H * sizeof(float));

	assert_int_equal(safetensors_read(CKPT, &f), 0);
	assert_int_equal(checkpoint_read_meta(&f, &meta), 0);
	assert_int_equal(model_create(&m, &meta.cfg, 1, 64, 96, MODEL_EVAL), 0);
	assert_int_equal(checkpoint_load_params(&f, &m->g, m->params, ""), 0);
	for (int c = 0; c < 3; c++)
		for (int i = 0; i < W * H; i++)
			img[c * W * H + i] = (rgb[3 * i + c] / 255.0f - meta.mean[c]) / meta.std[c];
	model_set_input(m, 0, img, H, W);
	model_forward(m);
	model_crop_logits(m, 0, logits, H, W);
	model_destroy(m);
	safetensors_free(&f);
	free(img);
	return logits;
}

static void test_whole_image_matches_model(void **state)
{
	struct knseg *ks;
	uint8_t *rgb = random_rgb(1), labels[W * H], only[W * H];
	float *probs = malloc(K * W * H * sizeof(float)), *want = manual_logits(rgb);
	float *logits = malloc(K * W * H * sizeof(float));

	(void)state;
	assert_int_equal(knseg_open(&ks, CKPT), 0);
	assert_int_equal(knseg_num_classes(ks), K);
	assert_string_equal(knseg_class_name(ks, 2), "c");
	assert_int_equal(knseg_logits(ks, rgb, W, H, logits), 0);
	assert_memory_equal(logits, want, K * W * H * sizeof(float));
	assert_int_equal(knseg_segment(ks, rgb, W, H, NULL, labels, probs), 0);
	for (int i = 0; i < W * H; i++) {
		double sum = 0;
		int best = 0;

		for (int c = 0; c < K; c++) {
			sum += probs[c * W * H + i];
			if (want[c * W * H + i] > want[best * W * H + i])
				best = c;
		}
		assert_true(fabs(sum - 1) < 1e-5);
		assert_int_equal(labels[i], best);
	}
	/* Without probabilities the labels come from the logits directly: the same. */
	assert_int_equal(knseg_segment(ks, rgb, W, H, NULL, only, NULL), 0);
	assert_memory_equal(only, labels, sizeof(labels));
	knseg_close(ks);
	free(rgb), free(probs), free(want), free(logits);
}

static void test_slide_flip_scales(void **state)
{
	struct knseg *ks;
	struct knseg_options o = knseg_default_options();
	uint8_t *rgb = random_rgb(2), a[W * H], b[W * H];
	float *pa = malloc(K * W * H * 4), *pb = malloc(K * W * H * 4), *pc = malloc(K * W * H * 4);

	(void)state;
	assert_int_equal(knseg_open(&ks, CKPT), 0);
	assert_int_equal(knseg_segment(ks, rgb, W, H, NULL, a, pa), 0);
	/* One window that covers the image is the whole-image pass. */
	o.mode = KNSEG_SLIDE;
	o.crop_w = 96;
	o.crop_h = 64;
	o.stride_w = o.stride_h = 32;
	assert_int_equal(knseg_segment(ks, rgb, W, H, &o, b, pb), 0);
	assert_memory_equal(pa, pb, K * W * H * 4);
	/* Overlapping windows still give probabilities. */
	o.crop_w = o.crop_h = 32;
	o.stride_w = o.stride_h = 16;
	assert_int_equal(knseg_segment(ks, rgb, W, H, &o, b, pb), 0);
	for (int i = 0; i < W * H; i++) {
		double sum = 0;

		for (int c = 0; c < K; c++)
			sum += pb[c * W * H + i];
		assert_true(fabs(sum - 1) < 1e-5);
	}
	/* Flip averages the plain pass and the mirrored one. */
	o = knseg_default_options();
	o.flip = true;
	assert_int_equal(knseg_segment(ks, rgb, W, H, &o, b, pb), 0);
	for (int i = 0; i < K * W * H; i++)
		pc[i] = 2 * pb[i] - pa[i]; /* the mirrored pass alone */
	for (int i = 0; i < K * W * H; i++)
		assert_true(pc[i] > -1e-5 && pc[i] < 1 + 1e-5);
	assert_memory_not_equal(pa, pb, K * W * H * 4);
	/* Scale 1 listed twice equals scale 1 once. */
	o = knseg_default_options();
	o.nscales = 2;
	o.scales[0] = o.scales[1] = 1.0f;
	assert_int_equal(knseg_segment(ks, rgb, W, H, &o, b, pb), 0);
	assert_allclose("two equal scales", pb, pa, K * W * H, 1e-6, 1e-7);
	o.scales[1] = 0.5f;
	assert_int_equal(knseg_segment(ks, rgb, W, H, &o, b, pb), 0);
	knseg_close(ks);
	free(rgb), free(pa), free(pb), free(pc);
}

/* Every pixel's K probabilities are finite and sum to 1. */
static void assert_distributions(const float *p)
{
	for (int i = 0; i < W * H; i++) {
		double sum = 0;

		for (int c = 0; c < K; c++) {
			if (!isfinite(p[c * W * H + i]))
				fail_msg("pixel (%d, %d): class %d probability %g", i % W, i / W, c,
					 (double)p[c * W * H + i]);
			sum += p[c * W * H + i];
		}
		if (fabs(sum - 1) > 1e-5)
			fail_msg("pixel (%d, %d): probabilities sum to %g", i % W, i / W, sum);
	}
}

/*
 * Windows of 32x32 every 64x48 pixels would leave gaps: the stride is taken as the
 * window's side, the same as asking for windows every 32x32.
 */
static void test_slide_stride_beyond_crop(void **state)
{
	struct knseg *ks;
	struct knseg_options o = knseg_default_options();
	uint8_t *rgb = random_rgb(3), a[W * H], b[W * H];
	float *pa = malloc(K * W * H * 4), *pb = malloc(K * W * H * 4);

	(void)state;
	assert_int_equal(knseg_open(&ks, CKPT), 0);
	o.mode = KNSEG_SLIDE;
	o.crop_w = o.crop_h = 32;
	o.stride_w = 64;
	o.stride_h = 48;
	assert_int_equal(knseg_segment(ks, rgb, W, H, &o, a, pa), 0);
	assert_distributions(pa);
	o.stride_w = o.stride_h = 32;
	assert_int_equal(knseg_segment(ks, rgb, W, H, &o, b, pb), 0);
	assert_memory_equal(pa, pb, K * W * H * 4);
	assert_memory_equal(a, b, sizeof(a));
	knseg_close(ks);
	free(rgb), free(pa), free(pb);
}

/* Bytes of address space the process holds now. */
static size_t address_space_bytes(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	unsigned long pages = 0;

	if (!f || fscanf(f, "%lu", &pages) != 1)
		pages = 0;
	if (f)
		fclose(f);
	return (size_t)pages * (size_t)sysconf(_SC_PAGESIZE);
}

/*
 * In a child under an address-space limit 256 MiB above what it holds: segmenting a
 * 16384x16384 image (whole, sliding, with probabilities, or its logits) fails with
 * KN_ENOMEM and a message giving the bytes, and a small image still segments after.
 * Returns the child's exit status: 0, or the number of the check that failed.
 */
static int segment_under_limit(void)
{
	const int big = 16384;
	struct knseg_options o = knseg_default_options();
	uint8_t *huge = calloc((size_t)big * big, 3), *rgb = random_rgb(4), lab[W * H];
	struct rlimit lim;
	struct knseg *ks;

	if (!huge || knseg_open(&ks, CKPT) < 0)
		return 1;
	lim.rlim_cur = lim.rlim_max = address_space_bytes() + ((size_t)256 << 20);
	if (setrlimit(RLIMIT_AS, &lim) < 0)
		return 2;
	if (knseg_segment(ks, huge, big, big, NULL, lab, NULL) != KN_ENOMEM)
		return 3;
	if (!strstr(knseg_errmsg(), "16384 x 16384") || !strstr(knseg_errmsg(), "bytes"))
		return 4;
	o.mode = KNSEG_SLIDE;
	o.crop_w = o.crop_h = o.stride_w = o.stride_h = 64;
	if (knseg_segment(ks, huge, big, big, &o, lab, NULL) != KN_ENOMEM)
		return 5;
	if (knseg_logits(ks, huge, big, big, NULL) != KN_ENOMEM)
		return 6;
	/* The normalized image alone fits; the class scores do not. */
	if (knseg_segment(ks, huge, 4096, 4096, NULL, lab, NULL) != KN_ENOMEM)
		return 7;
	if (knseg_segment(ks, rgb, W, H, NULL, lab, NULL) != 0)
		return 8;
	knseg_close(ks);
	free(huge);
	free(rgb);
	return 0;
}

static void test_segment_out_of_memory(void **state)
{
	pid_t pid;
	int status;

	(void)state;
	if (TEST_ASAN) {
		printf("skipped: AddressSanitizer cannot run under an address-space limit\n");
		skip();
	}
	fflush(stdout);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(segment_under_limit());
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (!WIFEXITED(status))
		fail_msg("the child died of signal %d", WTERMSIG(status));
	if (WEXITSTATUS(status))
		fail_msg("check %d failed in the child", WEXITSTATUS(status));
}

static void test_errors(void **state)
{
	struct knseg *ks;
	struct knseg_options o = knseg_default_options();
	uint8_t rgb[3 * 4 * 4] = {0}, lab[16];

	(void)state;
	assert_true(knseg_open(&ks, "tests/fixtures/no-such.safetensors") < 0);
	assert_non_null(strstr(knseg_errmsg(), "no-such"));
	assert_true(knseg_open(&ks, "tests/fixtures/models_knresnet18_backbone.safetensors") < 0);
	assert_non_null(strstr(knseg_errmsg(), "backbone"));
	assert_int_equal(knseg_open(&ks, CKPT), 0);
	assert_true(knseg_segment(ks, rgb, 0, 4, NULL, lab, NULL) < 0);
	o.nscales = 1;
	o.scales[0] = 100;
	assert_true(knseg_segment(ks, rgb, 4, 4, &o, lab, NULL) < 0);
	assert_true(knseg_set_kn_eval(ks, "random") < 0);
	assert_int_equal(knseg_set_kn_eval(ks, "none"), 0);
	/* A tiny image is padded to 32x32 and still segments. */
	assert_int_equal(knseg_segment(ks, rgb, 4, 4, NULL, lab, NULL), 0);
	knseg_close(ks);
}

/* knseg_version() is the header's three numbers. */
static void test_version(void **state)
{
	char want[32];

	(void)state;
	snprintf(want, sizeof(want), "%d.%d.%d", KNSEG_VERSION_MAJOR, KNSEG_VERSION_MINOR,
		 KNSEG_VERSION_PATCH);
	assert_string_equal(knseg_version(), want);
}

/* A mask written by knseg_write_labels_png reads back as grey RGB of the same values. */
static void test_image_files(void **state)
{
	char *dir = tmpdir_create(), path[512];
	uint8_t lab[W * H], *rgb;
	int w, h;

	(void)state;
	for (int i = 0; i < W * H; i++)
		lab[i] = (uint8_t)(i * 7);
	snprintf(path, sizeof(path), "%s/mask.png", dir);
	assert_int_equal(knseg_write_labels_png(path, lab, W, H), 0);
	assert_int_equal(knseg_read_image(path, &rgb, &w, &h), 0);
	assert_int_equal(w, W);
	assert_int_equal(h, H);
	for (int i = 0; i < W * H; i++)
		for (int c = 0; c < 3; c++)
			assert_int_equal(rgb[3 * i + c], lab[i]);
	free(rgb);
	assert_true(knseg_write_labels_png(path, lab, 0, H) < 0);
	snprintf(path, sizeof(path), "%s/none.png", dir);
	assert_true(knseg_read_image(path, &rgb, &w, &h) < 0);
	assert_null(rgb);
	assert_non_null(strstr(knseg_errmsg(), "none.png"));
	tmpdir_remove(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		/* First: its forked child must not inherit a running OpenMP thread pool. */
		cmocka_unit_test(test_segment_out_of_memory),
		cmocka_unit_test(test_whole_image_matches_model),
		cmocka_unit_test(test_slide_flip_scales),
		cmocka_unit_test(test_slide_stride_beyond_crop),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_version),
		cmocka_unit_test(test_image_files),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
