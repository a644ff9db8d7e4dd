/* Poly learning-rate schedule with linear warm-up. See schedule.h. */
#include "nets/schedule.h"
#include "io/error.h"

#include <math.h>

struct lr_schedule lr_poly(double base, int64_t total, int64_t warmup)
{
	struct lr_schedule s = {base, 0.9, 0.0, total, warmup, 1e-3};

	CHECK(total >= 1 && warmup >= 0);
	return s;
}

double lr_at(const struct lr_schedule *s, int64_t it)
{
	double progress = it >= s->total ? 1.0 : (double)it / (double)s->total;
	double lr = (s->base - s->min_lr) * pow(1.0 - progress, s->power) + s->min_lr;

	if (it < s->warmup)
		lr *= s->warmup_ratio + (1.0 - s->warmup_ratio) * (double)it / (double)s->warmup;
	return lr;
}
