/*
 * The helpers the layout readers share to build a struct dataset (see dataset_build.h):
 * owned strings, file checks, the growing sample array, and the problems a lenient
 * opening collects.
 */
#include "datasets/dataset_build.h"
#include "io/alloc.h"
#include "io/error.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>

char *dataset_strdup(const char *s)
{
	size_t n = strlen(s) + 1;

	return memcpy(xmalloc(n), s, n);
}

const char *dataset_file_problem(const char *path)
{
	struct stat st;

	if (stat(path, &st) != 0)
		return errno == ENOENT || errno == ENOTDIR ? "does not exist" : strerror(errno);
	return S_ISREG(st.st_mode) ? NULL : "is not a regular file";
}

void dataset_add_sample(struct dataset *d, int *cap, char *image, char *label,
			char *instance, char *name)
{
	struct dataset_sample *s;

	if (d->count == *cap) {
		*cap = *cap ? 2 * *cap : 64;
		d->samples = xrealloc(d->samples, (size_t)*cap * sizeof(*d->samples));
	}
	s = &d->samples[d->count++];
	s->image = image;
	s->label = label;
	s->instance = instance;
	s->name = name;
}

void dataset_problem_add(struct dataset_problems *p, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	msg = xvformat(fmt, ap);
	va_end(ap);
	p->msgs = xrealloc(p->msgs, (size_t)(p->count + 1) * sizeof(*p->msgs));
	p->msgs[p->count++] = msg;
}

int dataset_problems_fail(struct dataset *d, struct dataset_problems *p)
{
	int err = 0;

	if (p->count == 1)
		err = kn_error(KN_EMISMATCH, "%s", p->msgs[0]);
	else if (p->count > 1)
		err = kn_error(KN_EMISMATCH, "%s (and %d more missing or unmatched files; "
			       "'knseg data' lists them all)", p->msgs[0], p->count - 1);
	if (err) {
		dataset_free(d);
		dataset_problems_free(p);
	}
	return err;
}
