/* The bilinear sampling tap. See bilinear.h. */
#include "io/bilinear.h"

struct bilinear_tap bilinear_tap_at(double scale, int dst, int in)
{
	struct bilinear_tap t;
	double src = scale * (dst + 0.5) - 0.5;

	/* Clamped at 0: the first half pixel reads the first sample alone. */
	if (src < 0)
		src = 0;
	t.i0 = (int)src;
	if (t.i0 > in - 1)
		t.i0 = in - 1;
	t.i1 = t.i0 < in - 1 ? t.i0 + 1 : t.i0;
	t.l1 = (float)(src - t.i0);
	t.l0 = 1.0f - t.l1;
	return t;
}
