/*
 * The embedding API's image files (app/knseg.h): knseg_read_image and
 * knseg_write_labels_png, so that a program of its own reads its input and writes its
 * mask with the library's PNG and JPEG code and needs no header beyond <knseg/knseg.h>.
 */
#include "app/knseg.h"
#include "io/error.h"
#include "io/image.h"
#include "io/label.h"

int knseg_read_image(const char *path, uint8_t **rgb, int *w, int *h)
{
	struct image img;
	int rc;

	*rgb = NULL;
	rc = image_read(path, &img);
	if (rc < 0)
		return rc;
	*rgb = img.rgb;
	*w = img.w;
	*h = img.h;
	return 0;
}

int knseg_write_labels_png(const char *path, const uint8_t *labels, int w, int h)
{
	struct label_image lab = {.w = w, .h = h, .bits = 8, .u8 = (uint8_t *)labels};

	if (w <= 0 || h <= 0)
		return kn_error(KN_EINVAL, "cannot write '%s': size %dx%d", path, w, h);
	return label_write_png(path, &lab);
}
