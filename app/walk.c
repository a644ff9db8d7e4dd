/* Collecting input images from files and folders. See walk.h. */
#include "app/walk.h"
#include "io/alloc.h"
#include "io/error.h"
#include "io/file.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

struct file_id {
	dev_t dev;
	ino_t ino;
};

/* One walk: the list it fills and the folders and files already taken, sorted by id. */
struct walk {
	struct walk_list *list;
	struct file_id *seen;
	size_t nseen, cap;
	size_t found;        /* image names met, taken or not */
	bool skipping;       /* whether skip (the output folder) is set */
	struct file_id skip;
};

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

static int cmp_id(const struct file_id *a, const struct file_id *b)
{
	if (a->dev != b->dev)
		return a->dev < b->dev ? -1 : 1;
	return a->ino < b->ino ? -1 : a->ino > b->ino;
}

static bool is_skipped(const struct walk *w, const struct stat *st)
{
	struct file_id id = {st->st_dev, st->st_ino};

	return w->skipping && !cmp_id(&w->skip, &id);
}

/* Records st's file as taken; false when it was already. */
static bool take(struct walk *w, const struct stat *st)
{
	struct file_id id = {st->st_dev, st->st_ino};
	size_t lo = 0, hi = w->nseen;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = cmp_id(&w->seen[mid], &id);

		if (!c)
			return false;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (w->nseen == w->cap) {
		w->cap = w->cap ? 2 * w->cap : 64;
		w->seen = xrealloc(w->seen, w->cap * sizeof(*w->seen));
	}
	memmove(w->seen + lo + 1, w->seen + lo, (w->nseen - lo) * sizeof(*w->seen));
	w->seen[lo] = id;
	w->nseen++;
	return true;
}

/* Appends an item that takes over path, rel and error. */
static void add(struct walk_list *l, char *path, char *rel, char *error, const struct stat *st)
{
	struct walk_item *it;

	if (l->count == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 64;
		l->items = xrealloc(l->items, l->cap * sizeof(*l->items));
	}
	it = &l->items[l->count++];
	memset(it, 0, sizeof(*it));
	it->path = path;
	it->rel = rel;
	it->error = error;
	if (st) {
		it->dev = st->st_dev;
		it->ino = st->st_ino;
	}
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The sorted names in folder path, without hidden ones; NULL with a message. */
static char **read_names(const char *path, size_t *count)
{
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *e;
	DIR *d = opendir(path);

	if (!d) {
		kn_error(KN_EIO, "cannot read folder '%s': %s", path, strerror(errno));
		return NULL;
	}
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		if (n + 1 >= cap) {
			cap = cap ? 2 * cap : 64;
			names = xrealloc(names, cap * sizeof(*names));
		}
		names[n++] = dup_str(e->d_name);
	}
	closedir(d);
	if (!names)
		names = xmalloc(sizeof(*names));
	qsort(names, n, sizeof(*names), cmp_str);
	*count = n;
	return names;
}

static int walk_dir(struct walk *w, const char *root, const char *rel);

/* One entry of a folder: a folder to walk, an image to take, or neither. */
static int walk_entry(struct walk *w, const char *root, const char *rel, const char *name)
{
	char *sub = file_path_join(rel, name), *path = file_path_join(root, sub);
	bool image = is_image_name(name);
	struct stat st;
	int err = 0;

	if (stat(path, &st) != 0) {
		/* A dangling link that does not look like an image is no input. */
		if (!image && errno == ENOENT)
			goto out;
		add(w->list, path, sub, xformat("cannot read '%s': %s", path, strerror(errno)), NULL);
		return 0;
	}
	if (S_ISDIR(st.st_mode)) {
		if (take(w, &st))
			err = walk_dir(w, root, sub);
		else if (!is_skipped(w, &st))
			w->found++; /* its images were found before */
		goto out;
	}
	if (!image)
		goto out;
	w->found++;
	if (!S_ISREG(st.st_mode))
		add(w->list, path, sub, xformat("'%s': not a regular file", path), &st);
	else if (take(w, &st))
		add(w->list, path, sub, NULL, &st);
	else
		goto out;
	return 0;
out:
	free(sub);
	free(path);
	return err;
}

/* Adds the images below root/rel (rel "" at the top), in sorted order. */
static int walk_dir(struct walk *w, const char *root, const char *rel)
{
	char *path = *rel ? file_path_join(root, rel) : dup_str(root), **names;
	size_t n = 0;
	int err = 0;

	names = read_names(path, &n);
	free(path);
	if (!names)
		return KN_EIO;
	for (size_t i = 0; i < n; i++) {
		if (!err)
			err = walk_entry(w, root, rel, names[i]);
		free(names[i]);
	}
	free(names);
	return err;
}

/* One input named on the command line. */
static int walk_input(struct walk *w, const char *input)
{
	const char *base = strrchr(input, '/');
	struct stat st;
	size_t found = w->found;
	int err;

	if (stat(input, &st) != 0)
		return kn_error(KN_EIO, "cannot open '%s': %s", input, strerror(errno));
	if (!S_ISDIR(st.st_mode)) {
		if (!S_ISREG(st.st_mode))
			add(w->list, dup_str(input), dup_str(input),
			    xformat("'%s': not a regular file", input), &st);
		else if (take(w, &st))
			add(w->list, dup_str(input), dup_str(base ? base + 1 : input), NULL, &st);
		return 0;
	}
	if (is_skipped(w, &st))
		return kn_error(KN_EINVAL, "the output folder is the input folder '%s'; "
				"give another --out", input);
	if (!take(w, &st))
		return 0;
	if ((err = walk_dir(w, input, "")) < 0)
		return err;
	if (w->found == found)
		return kn_error(KN_EIO, "no images in folder '%s' (.png, .jpg or .jpeg)", input);
	return 0;
}

int walk_inputs(char **inputs, int n, const char *skip_dir, struct walk_list *out)
{
	struct walk w = {.list = out};
	struct stat skip;
	int err = 0;

	memset(out, 0, sizeof(*out));
	if (skip_dir && stat(skip_dir, &skip) == 0 && S_ISDIR(skip.st_mode)) {
		w.skipping = true;
		w.skip = (struct file_id){skip.st_dev, skip.st_ino};
		take(&w, &skip);
	}
	for (int i = 0; i < n && !err; i++)
		err = walk_input(&w, inputs[i]);
	free(w.seen);
	if (err)
		walk_list_free(out);
	return err;
}

/* By stem, then by place in the list, so the first of equal stems comes first. */
static int cmp_stem(const void *a, const void *b)
{
	const struct walk_item *x = *(struct walk_item *const *)a;
	const struct walk_item *y = *(struct walk_item *const *)b;
	int c = strcmp(x->stem, y->stem);

	return c ? c : (x > y) - (x < y);
}

/* The usable items sorted by stem; *n of them. */
static struct walk_item **sorted_by_stem(struct walk_list *l, size_t *n)
{
	struct walk_item **order = xmalloc((l->count + 1) * sizeof(*order));

	*n = 0;
	for (size_t i = 0; i < l->count; i++)
		if (!l->items[i].error)
			order[(*n)++] = &l->items[i];
	qsort(order, *n, sizeof(*order), cmp_stem);
	return order;
}

/* In each run of equal stems whose names differ, every name keeps its extension. */
static void keep_extensions(struct walk_item **order, size_t n)
{
	for (size_t a = 0, b; a < n; a = b) {
		bool differ = false;

		for (b = a + 1; b < n && !strcmp(order[a]->stem, order[b]->stem); b++)
			differ |= strcmp(order[a]->rel, order[b]->rel) != 0;
		for (size_t k = a; differ && k < b; k++) {
			free(order[k]->stem);
			order[k]->stem = dup_str(order[k]->rel);
		}
	}
}

void walk_name_outputs(struct walk_list *l)
{
	struct walk_item **order;
	size_t n;

	for (size_t i = 0; i < l->count; i++)
		if (!l->items[i].error)
			l->items[i].stem = strip_ext(l->items[i].rel);
	order = sorted_by_stem(l, &n);
	keep_extensions(order, n);
	free(order);
	order = sorted_by_stem(l, &n);
	for (size_t k = 1; k < n; k++) {
		struct walk_item *first = order[k - 1], *it = order[k];

		if (strcmp(first->stem, it->stem))
			continue;
		it->error = xformat("'%s' and '%s' would have the same output names ('%s_*'); "
				   "rename one or predict them into separate folders",
				   it->path, first->path, it->stem);
		order[k] = first; /* a third one names the first too */
	}
	free(order);
}

const struct walk_item *walk_find_file(const struct walk_list *l, dev_t dev, ino_t ino)
{
	for (size_t i = 0; i < l->count; i++)
		if (!l->items[i].error && l->items[i].dev == dev && l->items[i].ino == ino)
			return &l->items[i];
	return NULL;
}

void walk_list_free(struct walk_list *l)
{
	for (size_t i = 0; i < l->count; i++) {
		free(l->items[i].path);
		free(l->items[i].rel);
		free(l->items[i].stem);
		free(l->items[i].error);
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
