/* Helpers for the dataset tests. See dstest.h. */
#include "tests/testutil.h"

#include "io/error.h"
#include "io/image.h"
#include "io/label.h"
#include "tests/dstest.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

void dstest_assert_msg_has(const char *want)
{
	if (!strstr(kn_errmsg(), want))
		fail_msg("message '%s' does not contain '%s'", kn_errmsg(), want);
}

void dstest_make_parents(const char *path)
{
	char buf[1024];

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		mkdir(buf, 0755);
		*p = '/';
	}
}

void dstest_write_text(const char *path, const char *text, size_t len)
{
	FILE *f;

	dstest_make_parents(path);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

void dstest_write_str(const char *path, const char *text)
{
	dstest_write_text(path, text, strlen(text));
}

void dstest_write_image(const char *path, int w, int h, int seed)
{
	struct image img;

	dstest_make_parents(path);
	image_init(&img, w, h);
	for (int i = 0; i < 3 * w * h; i++)
		img.rgb[i] = (uint8_t)(i * 13 + seed);
	assert_int_equal(image_write_png(path, &img), 0);
	image_free(&img);
}

void dstest_write_values(const char *path, int w, int h, const uint8_t *v)
{
	struct label_image lab;

	dstest_make_parents(path);
	label_init(&lab, w, h, 8);
	memcpy(lab.u8, v, (size_t)w * h);
	assert_int_equal(label_write_png(path, &lab), 0);
	label_free(&lab);
}
