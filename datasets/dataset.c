/*
 * Datasets: reading a sample (image, and label mapped through the class table) and
 * opening a dataset from a command's options. See dataset.h; the layouts are in
 * cityscapes.c and list.c, the building helpers they share in dataset_build.c.
 */
#include "datasets/dataset.h"
#include "datasets/dataset_build.h"
#include "io/alloc.h"
#include "io/error.h"
#include "io/file.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void dataset_problems_free(struct dataset_problems *p)
{
	for (int i = 0; i < p->count; i++)
		free(p->msgs[i]);
	free(p->msgs);
	p->msgs = NULL;
	p->count = 0;
}

void dataset_free(struct dataset *d)
{
	for (int i = 0; i < d->count; i++) {
		free(d->samples[i].image);
		free(d->samples[i].label);
		free(d->samples[i].instance);
		free(d->samples[i].name);
	}
	free(d->samples);
	d->samples = NULL;
	d->count = 0;
}

int dataset_labelled(const struct dataset *d)
{
	int n = 0;

	for (int i = 0; i < d->count; i++)
		n += d->samples[i].label != NULL;
	return n;
}

int dataset_read_label(const struct dataset *d, int i, struct label_image *lab)
{
	const char *path;
	int err;

	CHECK(i >= 0 && i < d->count);
	memset(lab, 0, sizeof(*lab));
	path = d->samples[i].label;
	if (!path)
		return 0;
	if ((err = label_read(path, lab)))
		return err;
	if ((err = class_table_apply(&d->classes, lab, path)))
		label_free(lab);
	return err;
}

int dataset_read(const struct dataset *d, int i, struct image *img, struct label_image *lab)
{
	int err;

	CHECK(i >= 0 && i < d->count);
	if ((err = image_read(d->samples[i].image, img)))
		return err;
	if (!lab)
		return 0;
	if ((err = dataset_read_label(d, i, lab))) {
		image_free(img);
		return err;
	}
	if (lab->u8 && (lab->w != img->w || lab->h != img->h)) {
		err = kn_error(KN_EMISMATCH, "label '%s' is %dx%d but its image '%s' is %dx%d",
			       d->samples[i].label, lab->w, lab->h, d->samples[i].image, img->w,
			       img->h);
		image_free(img);
		label_free(lab);
	}
	return err;
}

/* The class table a spec names, over the raw values its label files hold. */
static int spec_classes(const struct dataset_spec *spec, bool cityscapes_layout,
			struct class_table *t)
{
	const char *name = spec->classes ? spec->classes : "cityscapes";

	if (!strcmp(name, "cityscapes")) {
		class_table_cityscapes(t, cityscapes_layout ? !spec->train_ids : spec->label_ids);
		return 0;
	}
	if (!cityscapes_layout && (spec->label_ids || spec->train_ids))
		return kn_error(KN_EINVAL, "--label-ids and --train-ids choose Cityscapes label "
				"files or the cityscapes class table, not '%s'", name);
	return class_table_load(t, name);
}

static int open_list_spec(struct dataset *d, const struct dataset_spec *spec,
			  const struct class_table *t, struct dataset_problems *problems)
{
	const char *split = spec->split ? spec->split : "train";
	char *path;
	int err;

	if (spec->list)
		path = dataset_strdup(spec->list);
	else if (spec->root) {
		char *file = xmalloc(strlen(split) + 5);

		sprintf(file, "%s.txt", split);
		path = file_path_join(spec->root, file);
		free(file);
	} else {
		return kn_error(KN_EINVAL, "the list layout needs --list FILE (or --root DIR "
				"for DIR/SPLIT.txt)");
	}
	err = problems ? dataset_scan_list(d, path, t, problems) : dataset_open_list(d, path, t);
	free(path);
	return err;
}

int dataset_open_spec(struct dataset *d, const struct dataset_spec *spec,
		      struct dataset_problems *problems)
{
	const char *layout = spec->layout ? spec->layout : "cityscapes";
	bool cityscapes = !strcmp(layout, "cityscapes");
	struct class_table t;
	int err;

	memset(d, 0, sizeof(*d));
	if (!cityscapes && strcmp(layout, "list"))
		return kn_error(KN_EINVAL, "unknown dataset layout '%s' (cityscapes, list)", layout);
	if (spec->label_ids && spec->train_ids)
		return kn_error(KN_EINVAL, "--label-ids and --train-ids exclude each other");
	if ((err = spec_classes(spec, cityscapes, &t)))
		return err;
	if (!cityscapes)
		return open_list_spec(d, spec, &t, problems);
	if (!spec->root)
		return kn_error(KN_EINVAL, "the cityscapes layout needs --root DIR");
	if (problems)
		err = dataset_scan_cityscapes(d, spec->root, spec->split ? spec->split : "train",
					      spec->train_ids, problems);
	else
		err = dataset_open_cityscapes(d, spec->root, spec->split ? spec->split : "train",
					      spec->train_ids);
	if (!err)
		d->classes = t;
	return err;
}
