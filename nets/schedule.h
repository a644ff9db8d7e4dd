/*
 * Learning-rate schedules, per iteration (0-based it of total iterations):
 *
 *   poly:    lr(it) = base * (1 - it / total)^power + min_lr  (power 0.9, the reference
 *            recipe; min_lr 0 unless set)
 *   warm-up: during the first warmup iterations the poly value is scaled by
 *            ratio + (1 - ratio) * it / warmup (linear from ratio to 1; ratio 1e-3)
 *
 * Pure functions of it, so a resumed run continues the schedule exactly.
 */
#ifndef KNSEG_NETS_SCHEDULE_H
#define KNSEG_NETS_SCHEDULE_H

#include <stdint.h>

struct lr_schedule {
	double base, power, min_lr;
	int64_t total, warmup;
	double warmup_ratio;
};

struct lr_schedule lr_poly(double base, int64_t total, int64_t warmup);

double lr_at(const struct lr_schedule *s, int64_t it);

#endif
