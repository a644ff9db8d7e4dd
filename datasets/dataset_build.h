/*
 * Helpers the layout readers (cityscapes.c, list.c) share to build a struct dataset:
 * owned strings, file checks, the growing sample array, and the list of problems a
 * lenient opening collects. Internal to datasets/.
 */
#ifndef KNSEG_DATASETS_DATASET_BUILD_H
#define KNSEG_DATASETS_DATASET_BUILD_H

#include "datasets/dataset.h"

/* A malloc'd copy of s (aborts on exhaustion, like xmalloc). */
char *dataset_strdup(const char *s);

/* NULL when path is an existing regular file, else why not ("does not exist", ...). */
const char *dataset_file_problem(const char *path);

/* Appends a sample, taking ownership of the strings (label and instance may be NULL). */
void dataset_add_sample(struct dataset *d, int *cap, char *image, char *label,
			char *instance, char *name);

/* Appends a printf-style message to p. */
void dataset_problem_add(struct dataset_problems *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * Ends a strict opening: with no problems returns 0; otherwise frees d and p and
 * returns KN_EMISMATCH with the first message and how many others there were.
 */
int dataset_problems_fail(struct dataset *d, struct dataset_problems *p);

#endif
