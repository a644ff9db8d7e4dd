/*
 * The Cityscapes layout (datasets/README.md): images ROOT/leftImg8bit/SPLIT/CITY/
 * BASE_leftImg8bit.png matched by BASE with labels ROOT/gtFine/SPLIT/CITY/
 * BASE_gtFine_labelIds.png (or _labelTrainIds.png) and instances
 * BASE_gtFine_instanceIds.png. See dataset.h.
 *
 * Cities are the union of the folders of both trees, so a city with labels but no
 * images is reported file by file. Folder entries are sorted before matching and the
 * samples by name at the end, so the order never depends on the file system.
 */
#include "datasets/dataset.h"
#include "datasets/dataset_build.h"
#include "io/alloc.h"
#include "io/error.h"
#include "io/file.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define IMAGE_SUFFIX "_leftImg8bit.png"
#define INSTANCE_SUFFIX "_gtFine_instanceIds.png"

struct names {
	char **v;
	int n;
};

static void names_free(struct names *s)
{
	for (int i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	s->v = NULL;
	s->n = 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static void names_add(struct names *s, const char *name, size_t len)
{
	char *copy = xmalloc(len + 1);

	memcpy(copy, name, len);
	copy[len] = '\0';
	s->v = xrealloc(s->v, (size_t)(s->n + 1) * sizeof(*s->v));
	s->v[s->n++] = copy;
}

/*
 * The sorted entries of dir: sub-folders when suffix is NULL, else the names ending
 * in suffix, without it. A missing dir is empty; hidden entries are skipped.
 */
static int list_dir(const char *dir, const char *suffix, struct names *out)
{
	size_t slen = suffix ? strlen(suffix) : 0;
	struct dirent *e;
	DIR *dp;

	out->v = NULL;
	out->n = 0;
	if (!is_dir(dir))
		return 0;
	dp = opendir(dir);
	if (!dp)
		return kn_error(KN_EIO, "cannot open folder '%s': %s", dir, strerror(errno));
	while ((e = readdir(dp))) {
		size_t len = strlen(e->d_name);

		if (e->d_name[0] == '.')
			continue;
		if (suffix && len > slen && !strcmp(e->d_name + len - slen, suffix)) {
			names_add(out, e->d_name, len - slen);
		} else if (!suffix) {
			char *path = file_path_join(dir, e->d_name);

			if (is_dir(path))
				names_add(out, e->d_name, len);
			free(path);
		}
	}
	closedir(dp);
	if (out->n > 1)
		qsort(out->v, (size_t)out->n, sizeof(*out->v), cmp_str);
	return 0;
}

/* dir/base suffix as a new string. */
static char *file_path(const char *dir, const char *base, const char *suffix)
{
	size_t a = strlen(base), b = strlen(suffix);
	char *name = xmalloc(a + b + 1), *path;

	memcpy(name, base, a);
	memcpy(name + a, suffix, b + 1);
	path = file_path_join(dir, name);
	free(name);
	return path;
}

struct scan {
	struct dataset *d;
	int cap;
	struct dataset_problems *problems;
	const char *label_suffix;
	bool labelled;    /* the split has a gtFine folder */
	int labels_found; /* label files of the chosen kind, over all cities */
};

/* A BASE with an image, and a label unless the split is unlabelled. */
static void add_matched(struct scan *sc, const char *img_dir, const char *gt_dir,
			const char *base, bool has_label)
{
	char *instance = NULL;

	if (has_label) {
		instance = file_path(gt_dir, base, INSTANCE_SUFFIX);
		if (dataset_file_problem(instance)) {
			free(instance);
			instance = NULL;
		}
	}
	dataset_add_sample(sc->d, &sc->cap, file_path(img_dir, base, IMAGE_SUFFIX),
			   has_label ? file_path(gt_dir, base, sc->label_suffix) : NULL, instance,
			   dataset_strdup(base));
}

/* Reports a file of one tree whose partner in the other tree is missing. */
static void add_unmatched(struct scan *sc, const char *img_dir, const char *gt_dir,
			  const char *base, bool has_image)
{
	char *img = file_path(img_dir, base, IMAGE_SUFFIX);
	char *lab = file_path(gt_dir, base, sc->label_suffix);

	if (has_image)
		dataset_problem_add(sc->problems, "image '%s' has no label '%s'", img, lab);
	else
		dataset_problem_add(sc->problems, "label '%s' has no image '%s'", lab, img);
	free(img);
	free(lab);
}

/* Matches the images and labels of one city by BASE (both lists sorted). */
static int scan_city(struct scan *sc, const char *img_root, const char *gt_root,
		     const char *city)
{
	char *img_dir = file_path_join(img_root, city);
	char *gt_dir = file_path_join(gt_root, city);
	struct names imgs = {0}, labs = {0};
	int i = 0, j = 0, err;

	if ((err = list_dir(img_dir, IMAGE_SUFFIX, &imgs)) ||
	    (sc->labelled && (err = list_dir(gt_dir, sc->label_suffix, &labs))))
		goto out;
	sc->labels_found += labs.n;
	while (i < imgs.n || j < labs.n) {
		int c = i == imgs.n ? 1 : j == labs.n ? -1 : strcmp(imgs.v[i], labs.v[j]);

		if (c == 0)
			add_matched(sc, img_dir, gt_dir, imgs.v[i], true);
		else if (c < 0 && !sc->labelled)
			add_matched(sc, img_dir, gt_dir, imgs.v[i], false);
		else
			add_unmatched(sc, img_dir, gt_dir, c < 0 ? imgs.v[i] : labs.v[j], c < 0);
		i += c <= 0;
		j += c >= 0;
	}
out:
	names_free(&imgs);
	names_free(&labs);
	free(img_dir);
	free(gt_dir);
	return err;
}

/* The sorted union of the city folders of both trees. */
static int list_cities(const char *img_root, const char *gt_root, bool labelled,
		       struct names *cities)
{
	struct names a, b = {0};
	int err, i = 0, j = 0;

	if ((err = list_dir(img_root, NULL, &a)) ||
	    (labelled && (err = list_dir(gt_root, NULL, &b)))) {
		names_free(&a);
		return err;
	}
	memset(cities, 0, sizeof(*cities));
	while (i < a.n || j < b.n) {
		int c = i == a.n ? 1 : j == b.n ? -1 : strcmp(a.v[i], b.v[j]);
		const char *name = c <= 0 ? a.v[i] : b.v[j];

		names_add(cities, name, strlen(name));
		i += c <= 0;
		j += c >= 0;
	}
	names_free(&a);
	names_free(&b);
	return 0;
}

static int cmp_sample(const void *a, const void *b)
{
	return strcmp(((const struct dataset_sample *)a)->name,
		      ((const struct dataset_sample *)b)->name);
}

/* After matching: errors that make the whole split unusable. */
static int check_found(const struct scan *sc, const char *img_root, const char *gt_root)
{
	if (sc->d->count == 0 && sc->problems->count == 0)
		return kn_error(KN_EFORMAT, "no *%s images under '%s'", IMAGE_SUFFIX, img_root);
	if (sc->labelled && sc->labels_found == 0)
		return kn_error(KN_EFORMAT, "no *%s labels under '%s'%s", sc->label_suffix,
				gt_root, strstr(sc->label_suffix, "Train") ?
				" (cityscapesScripts' createTrainIdLabelImgs.py makes them; "
				"or read labelIds)" : "");
	return 0;
}

int dataset_scan_cityscapes(struct dataset *d, const char *root, const char *split,
			    bool train_ids, struct dataset_problems *problems)
{
	struct scan sc = {.d = d, .problems = problems};
	char *img_root, *gt_root, *tmp;
	struct names cities = {0};
	int err = 0;

	memset(d, 0, sizeof(*d));
	memset(problems, 0, sizeof(*problems));
	sc.label_suffix = train_ids ? "_gtFine_labelTrainIds.png" : "_gtFine_labelIds.png";
	tmp = file_path_join(root, "leftImg8bit");
	img_root = file_path_join(tmp, split);
	free(tmp);
	tmp = file_path_join(root, "gtFine");
	gt_root = file_path_join(tmp, split);
	free(tmp);
	if (!is_dir(img_root)) {
		err = kn_error(KN_EIO, "'%s' is not a folder (the Cityscapes layout is "
			       "ROOT/leftImg8bit/SPLIT/CITY/*%s)", img_root, IMAGE_SUFFIX);
		goto out;
	}
	sc.labelled = is_dir(gt_root);
	if ((err = list_cities(img_root, gt_root, sc.labelled, &cities)))
		goto out;
	for (int c = 0; c < cities.n && !err; c++)
		err = scan_city(&sc, img_root, gt_root, cities.v[c]);
	if (!err)
		err = check_found(&sc, img_root, gt_root);
	d->layout = DATASET_CITYSCAPES;
	class_table_cityscapes(&d->classes, !train_ids);
	if (d->count > 1)
		qsort(d->samples, (size_t)d->count, sizeof(*d->samples), cmp_sample);
out:
	names_free(&cities);
	free(img_root);
	free(gt_root);
	if (err) {
		dataset_free(d);
		dataset_problems_free(problems);
	}
	return err;
}

int dataset_open_cityscapes(struct dataset *d, const char *root, const char *split,
			    bool train_ids)
{
	struct dataset_problems problems;
	int err = dataset_scan_cityscapes(d, root, split, train_ids, &problems);

	if (err)
		return err;
	err = dataset_problems_fail(d, &problems);
	dataset_problems_free(&problems);
	return err;
}
