/*
 * Elapsed time for measurements (timings, throughput, benchmarks): seconds on the
 * monotonic clock, from an arbitrary origin, so only differences mean anything.
 */
#ifndef KNSEG_IO_CLOCK_H
#define KNSEG_IO_CLOCK_H

double kn_seconds(void);

#endif
