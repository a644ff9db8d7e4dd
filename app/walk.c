/* Collecting input images from files and folders. See walk.h. */
#include "app/walk.h"
#include "io/alloc.h"
#include "io/error.h"

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

static char *dup_str(const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = xmalloc(n);

	memcpy(d, s, n);
	return d;
}

static bool is_image_name(const char *name)
{
	const char *dot = strrchr(name, '.');

	return dot && (!strcasecmp(dot, ".png") || !strcasecmp(dot, ".jpg") ||
		       !strcasecmp(dot, ".jpeg"));
}

/* s without its extension (the last dot after the last slash). */
static char *strip_ext(const char *s)
{
	char *d = dup_str(s), *dot = strrchr(d, '.'), *slash = strrchr(d, '/');

	if (dot && (!slash || dot > slash))
		*dot = '\0';
	return d;
}

static void add(struct walk_list *l, const char *path, const char *rel)
{
	if (l->count == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 64;
		l->items = xrealloc(l->items, l->cap * sizeof(*l->items));
	}
	l->items[l->count].path = dup_str(path);
	l->items[l->count].rel_stem = strip_ext(rel);
	l->count++;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Adds the images below dir/rel (rel "" at the top), in sorted order. */
static int walk_dir(const char *root, const char *rel, struct walk_list *l, int depth)
{
	char path[8192], sub[4096];
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *e;
	DIR *d;
	int err = 0;

	snprintf(path, sizeof(path), "%s%s%s", root, *rel ? "/" : "", rel);
	if (depth > 64)
		return kn_error(KN_EINVAL, "'%s': folders nested too deeply", path);
	d = opendir(path);
	if (!d)
		return kn_error(KN_EIO, "cannot read folder '%s': %s", path, strerror(errno));
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 64;
			names = xrealloc(names, cap * sizeof(*names));
		}
		names[n++] = dup_str(e->d_name);
	}
	closedir(d);
	if (n > 1)
		qsort(names, n, sizeof(*names), cmp_str);
	for (size_t i = 0; i < n; i++) {
		struct stat st;
		int a = snprintf(sub, sizeof(sub), "%s%s%s", rel, *rel ? "/" : "", names[i]);
		int b = snprintf(path, sizeof(path), "%s/%s", root, sub);

		if (!err && ((size_t)a >= sizeof(sub) || (size_t)b >= sizeof(path)))
			err = kn_error(KN_EINVAL, "path below '%s' is too long", root);
		if (!err && stat(path, &st) == 0) {
			if (S_ISDIR(st.st_mode))
				err = walk_dir(root, sub, l, depth + 1);
			else if (S_ISREG(st.st_mode) && is_image_name(names[i]))
				add(l, path, sub);
		}
		free(names[i]);
	}
	free(names);
	return err;
}

int walk_inputs(char **inputs, int n, struct walk_list *out)
{
	memset(out, 0, sizeof(*out));
	for (int i = 0; i < n; i++) {
		struct stat st;
		const char *base;
		int err;

		if (stat(inputs[i], &st) != 0) {
			walk_list_free(out);
			return kn_error(KN_EIO, "cannot open '%s': %s", inputs[i], strerror(errno));
		}
		if (S_ISDIR(st.st_mode)) {
			if ((err = walk_dir(inputs[i], "", out, 0)) < 0) {
				walk_list_free(out);
				return err;
			}
			continue;
		}
		base = strrchr(inputs[i], '/');
		add(out, inputs[i], base ? base + 1 : inputs[i]);
	}
	return 0;
}

void walk_list_free(struct walk_list *l)
{
	for (size_t i = 0; i < l->count; i++) {
		free(l->items[i].path);
		free(l->items[i].rel_stem);
	}
	free(l->items);
	memset(l, 0, sizeof(*l));
}

int make_parent_dirs(const char *path)
{
	char *d = dup_str(path);

	for (char *p = d + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(d, 0777) != 0 && errno != EEXIST) {
			int err = errno;

			kn_error(KN_EIO, "cannot create folder '%s': %s", d, strerror(err));
			free(d);
			return KN_EIO;
		}
		*p = '/';
	}
	free(d);
	return 0;
}
