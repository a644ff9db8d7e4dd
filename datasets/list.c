/*
 * The list layout (datasets/README.md): a text file of "IMAGE [LABEL]" lines, paths
 * relative to the list's folder. See dataset.h for the syntax. Malformed lines fail
 * the opening with the list's name and line number; missing files are problems (a
 * lenient opening goes on without them).
 */
#include "datasets/dataset.h"
#include "datasets/dataset_build.h"
#include "io/alloc.h"
#include "io/error.h"
#include "io/file.h"

#include <stdlib.h>
#include <string.h>

/* Paths past this length are a malformed line, not something to allocate for. */
#define LIST_PATH_MAX 4096

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* The folder of a file path ("" for a bare name, "/" for a file at the root). */
static char *folder_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	size_t n = slash ? (size_t)(slash - path) : 0;
	char *dir;

	if (slash == path)
		n = 1;
	dir = xmalloc(n + 1);
	memcpy(dir, path, n);
	dir[n] = '\0';
	return dir;
}

/* The file name of path without its extension. */
static char *sample_name(const char *path)
{
	const char *base = strrchr(path, '/');
	const char *dot;
	char *name;

	base = base ? base + 1 : path;
	dot = strrchr(base, '.');
	name = dataset_strdup(base);
	if (dot && dot != base)
		name[dot - base] = '\0';
	return name;
}

struct line_fields {
	const char *s[2];
	size_t n[2];
	int count;
};

/* Splits one line into its paths; KN_EFORMAT for a malformed line. */
static int split_line(const char *p, const char *end, const char *list, int line,
		      struct line_fields *f)
{
	f->count = 0;
	if (memchr(p, '\0', (size_t)(end - p)))
		return kn_error(KN_EFORMAT, "'%s': line %d: NUL byte (not a text file)", list,
				line);
	for (;;) {
		const char *start;

		while (p < end && is_blank(*p))
			p++;
		if (p == end || *p == '#')
			return 0;
		start = p;
		while (p < end && !is_blank(*p))
			p++;
		if (f->count == 2)
			return kn_error(KN_EFORMAT, "'%s': line %d: more than two paths (the form "
					"is 'IMAGE [LABEL]'; paths cannot hold blanks)", list, line);
		if ((size_t)(p - start) > LIST_PATH_MAX)
			return kn_error(KN_EFORMAT, "'%s': line %d: a path longer than %d bytes",
					list, line, LIST_PATH_MAX);
		f->s[f->count] = start;
		f->n[f->count++] = (size_t)(p - start);
	}
}

/* The listed path as a path from the working folder. */
static char *listed_path(const char *dir, const char *s, size_t n)
{
	char *rel = xmalloc(n + 1), *path;

	memcpy(rel, s, n);
	rel[n] = '\0';
	path = file_path_join(dir, rel);
	free(rel);
	return path;
}

struct list_scan {
	struct dataset *d;
	int cap;
	struct dataset_problems *problems;
	const char *list;
	char *dir;
};

/* Adds the sample of one well-formed line, or the problems of its missing files. */
static void add_line(struct list_scan *ls, const struct line_fields *f, int line)
{
	char *img = listed_path(ls->dir, f->s[0], f->n[0]);
	char *lab = f->count == 2 ? listed_path(ls->dir, f->s[1], f->n[1]) : NULL;
	const char *why_img = dataset_file_problem(img);
	const char *why_lab = lab ? dataset_file_problem(lab) : NULL;

	if (why_img)
		dataset_problem_add(ls->problems, "'%s': line %d: image '%s' %s", ls->list, line,
				    img, why_img);
	if (why_lab)
		dataset_problem_add(ls->problems, "'%s': line %d: label '%s' %s", ls->list, line,
				    lab, why_lab);
	if (why_img || why_lab) {
		free(img);
		free(lab);
		return;
	}
	dataset_add_sample(ls->d, &ls->cap, img, lab, NULL, sample_name(img));
}

static int scan_text(struct list_scan *ls, const char *text, size_t len)
{
	const char *p = text, *end = text + len;
	struct line_fields f;
	size_t start;
	int err = file_text_start(text, len, ls->list, &start);

	if (err)
		return err;
	p += start;
	for (int line = 1; p < end; line++) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end;

		if ((err = split_line(p, eol, ls->list, line, &f)))
			return err;
		if (f.count)
			add_line(ls, &f, line);
		p = nl ? nl + 1 : end;
	}
	if (ls->d->count == 0 && ls->problems->count == 0)
		return kn_error(KN_EFORMAT, "'%s' lists no images (lines 'IMAGE [LABEL]')",
				ls->list);
	return 0;
}

int dataset_scan_list(struct dataset *d, const char *list, const struct class_table *classes,
		      struct dataset_problems *problems)
{
	struct list_scan ls = {.d = d, .problems = problems, .list = list};
	unsigned char *text;
	size_t len;
	int err;

	memset(d, 0, sizeof(*d));
	memset(problems, 0, sizeof(*problems));
	if ((err = file_read_all(list, &text, &len)))
		return err;
	d->layout = DATASET_LIST;
	d->classes = *classes;
	ls.dir = folder_of(list);
	err = scan_text(&ls, (const char *)text, len);
	free(ls.dir);
	free(text);
	if (err) {
		dataset_free(d);
		dataset_problems_free(problems);
	}
	return err;
}

int dataset_open_list(struct dataset *d, const char *list, const struct class_table *classes)
{
	struct dataset_problems problems;
	int err = dataset_scan_list(d, list, classes, &problems);

	if (err)
		return err;
	err = dataset_problems_fail(d, &problems);
	dataset_problems_free(&problems);
	return err;
}
