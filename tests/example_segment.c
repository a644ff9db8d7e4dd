/*
 * Example of embedding knseg: segment one image with a trained checkpoint and write the
 * class of every pixel as an 8-bit PNG (values are class indices).
 *
 *     build/release/tests/example_segment run/best.safetensors street.jpg mask.png
 *
 * It uses the public API only, as an installed copy gives it (<knseg/knseg.h>), so the
 * same file builds against `make install`'s files with pkg-config (README, Installing;
 * tests/test_install.sh does). In the tree the Makefile links it with libknseg.a.
 */
#include <knseg/knseg.h>

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
	struct knseg *ks;
	uint8_t *rgb, *mask;
	int w, h, rc = 1;

	if (argc != 4) {
		fprintf(stderr, "usage: %s CHECKPOINT IMAGE OUT.png\n", argv[0]);
		return 2;
	}
	if (knseg_open(&ks, argv[1]) < 0) {
		fprintf(stderr, "example_segment: %s\n", knseg_errmsg());
		return 1;
	}
	if (knseg_read_image(argv[2], &rgb, &w, &h) < 0) {
		fprintf(stderr, "example_segment: %s\n", knseg_errmsg());
		goto out_close;
	}
	mask = malloc((size_t)w * (size_t)h);
	if (!mask) {
		fprintf(stderr, "example_segment: out of memory\n");
		goto out_free_rgb;
	}
	if (knseg_segment(ks, rgb, w, h, NULL, mask, NULL) < 0 ||
	    knseg_write_labels_png(argv[3], mask, w, h) < 0) {
		fprintf(stderr, "example_segment: %s\n", knseg_errmsg());
		goto out_free_mask;
	}
	printf("%s: %dx%d, %d classes, knseg %s -> %s\n", argv[2], w, h,
	       knseg_num_classes(ks), knseg_version(), argv[3]);
	rc = 0;
out_free_mask:
	free(mask);
out_free_rgb:
	free(rgb);
out_close:
	knseg_close(ks);
	return rc;
}
