/*
 * Example of embedding knseg: segment one image with a trained checkpoint and write the
 * class of every pixel as an 8-bit PNG (values are class indices).
 *
 *     build/release/tests/example_segment run/best.safetensors street.jpg mask.png
 *
 * Built with the tests (`make`); link line: libknseg.a plus OpenBLAS, libpng,
 * libturbojpeg, OpenMP and libm, as the Makefile does.
 */
#include "app/knseg.h"
#include "io/image.h"
#include "io/label.h"

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
	struct knseg *ks;
	struct image img;
	struct label_image mask;

	if (argc != 4) {
		fprintf(stderr, "usage: %s CHECKPOINT IMAGE OUT.png\n", argv[0]);
		return 2;
	}
	if (knseg_open(&ks, argv[1]) < 0) {
		fprintf(stderr, "example_segment: %s\n", knseg_errmsg());
		return 1;
	}
	if (image_read(argv[2], &img) < 0) {
		fprintf(stderr, "example_segment: %s\n", knseg_errmsg());
		knseg_close(ks);
		return 1;
	}
	label_init(&mask, img.w, img.h, 8);
	if (knseg_segment(ks, img.rgb, img.w, img.h, NULL, mask.u8, NULL) < 0 ||
	    label_write_png(argv[3], &mask) < 0) {
		fprintf(stderr, "example_segment: %s\n", knseg_errmsg());
		label_free(&mask);
		image_free(&img);
		knseg_close(ks);
		return 1;
	}
	printf("%s: %dx%d, %d classes -> %s\n", argv[2], img.w, img.h, knseg_num_classes(ks),
	       argv[3]);
	label_free(&mask);
	image_free(&img);
	knseg_close(ks);
	return 0;
}
