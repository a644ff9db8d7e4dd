/* The monotonic clock. See clock.h. */
#include "io/clock.h"

#include <time.h>

double kn_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
