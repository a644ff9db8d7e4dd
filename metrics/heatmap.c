/*
 * The confusion matrix as a heat map image (see report_heatmap in report.h).
 *
 * Each row is normalized by its ground truth pixels, so a cell shows the share v in
 * [0, 1] of the row's pixels predicted as the column:
 *   - diagonal cells (correct) go from white (v = 0) to green (0, 160, 0) (v = 1);
 *   - other cells, void column included, go from white (v = 0) to red (255, 0, 0);
 *   - a row without ground truth pixels is grey (128, 128, 128);
 *   - one-pixel grid lines between and around the cells are light grey (200, 200, 200).
 * No text is drawn: class order along both axes is the report's class order, with the
 * void column (predictions of ignored or unknown values) last.
 */
#include "metrics/report.h"

#include "io/error.h"

#include <stdint.h>

static const uint8_t grid_rgb[3] = {200, 200, 200};
static const uint8_t empty_rgb[3] = {128, 128, 128};

static void cell_colour(double v, bool diagonal, uint8_t rgb[3])
{
	uint8_t fade = (uint8_t)(255.0 * (1.0 - v) + 0.5);

	if (diagonal) {
		rgb[0] = fade;
		rgb[1] = (uint8_t)(255.0 - 95.0 * v + 0.5);
		rgb[2] = fade;
	} else {
		rgb[0] = 255;
		rgb[1] = fade;
		rgb[2] = fade;
	}
}

static void fill(struct image *img, int x0, int y0, int w, int h, const uint8_t rgb[3])
{
	for (int y = y0; y < y0 + h; y++)
		for (int x = x0; x < x0 + w; x++) {
			uint8_t *p = img->rgb + 3 * ((size_t)y * (size_t)img->w + (size_t)x);

			p[0] = rgb[0];
			p[1] = rgb[1];
			p[2] = rgb[2];
		}
}

void report_heatmap(const struct confusion *c, int cell, struct image *out)
{
	const int cols = c->k + 1, rows = c->k;

	CHECK(cell >= 2 && cols <= IMAGE_MAX_SIDE / cell);
	image_init(out, cols * cell + 1, rows * cell + 1);
	fill(out, 0, 0, out->w, out->h, grid_rgb);
	for (int i = 0; i < rows; i++) {
		uint64_t total = confusion_row_sum(c, i);

		for (int j = 0; j < cols; j++) {
			uint8_t rgb[3] = {empty_rgb[0], empty_rgb[1], empty_rgb[2]};

			if (total)
				cell_colour((double)confusion_at(c, i, j) / (double)total, i == j,
					    rgb);
			fill(out, j * cell + 1, i * cell + 1, cell - 1, cell - 1, rgb);
		}
	}
}

int report_write_heatmap(const char *path, const struct report *r)
{
	struct image img;
	int rc;

	report_heatmap(&r->conf, REPORT_HEATMAP_CELL, &img);
	rc = image_write_png(path, &img);
	image_free(&img);
	return rc;
}
