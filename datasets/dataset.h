/*
 * Datasets: where the images and labels of a split are, what the label values mean,
 * and reading one sample as an RGB image and a label map of class indices.
 *
 *     struct dataset d;
 *     if (dataset_open_cityscapes(&d, root, "train", false) < 0) ...   (kn_errmsg())
 *     for (int i = 0; i < d.count; i++) {
 *         struct image img; struct label_image lab;
 *         if (dataset_read(&d, i, &img, &lab) < 0) ...   (names the file and problem)
 *         ... lab.u8 holds classes 0..K-1 and 255 (ignore) ...
 *         image_free(&img); label_free(&lab);
 *     }
 *     dataset_free(&d);
 *
 * Layouts (datasets/README.md): Cityscapes (leftImg8bit/ and gtFine/ under a root) and
 * list files of "image label" lines relative to the list's folder, with a class table.
 * datasets/README.md describes both for users, with the class table file format.
 *
 * Who frees what: dataset_open_* fill a caller-owned struct dataset that dataset_free
 * releases (also on a zeroed or failed one: a failed open leaves nothing to free).
 * A struct class_table is a plain value: copy it, no freeing.
 *
 * Class tables map every raw label value 0..255 to a class 0..K-1, to CLASS_IGNORE, or
 * to CLASS_INVALID (an error when a label holds it). Presets:
 *   cityscapes  the 19 trainId classes; raw values are trainIds 0..18, 255 is ignore
 *               (or, class_table_cityscapes(t, true), labelIds 0..33 mapped through
 *               the official table, the untrained ones to ignore)
 *   camvid      Sky, Building, Pole, Road, Pavement, Tree, SignSymbol, Fence, Car,
 *               Pedestrian, Bicyclist = raw 0..10; 11 (void) is ignore
 *
 * Class table files (class_table_parse; datasets/README.md has the long form): ASCII
 * text (after a UTF-8 byte-order mark, if any; UTF-16 is an error), one entry a line, fields separated by blanks; a word starting with '#' starts a
 * comment; blank lines are skipped.
 *     NAME R G B [RAW...]     a class; classes are numbered 0, 1, ... in file order
 *     ignore RAW...           raw values that mean "not labelled"
 * NAME is one word, or "double quoted" to hold spaces or to be the word ignore; it may
 * not hold ',' or '"'. R G B are 0..255. RAW values are 0..255, each used once in the
 * whole file. Either every class line lists its raw values or none does (then class i
 * is raw value i). Unlisted raw values are invalid.
 */
#ifndef KNSEG_DATASETS_DATASET_H
#define KNSEG_DATASETS_DATASET_H

#include "io/image.h"
#include "io/label.h"

#include <stdbool.h>
#include <stdint.h>

#define CLASS_MAX 255          /* trained classes are 0..254; 255 is ignore */
#define CLASS_NAME_MAX 48
#define CLASS_IGNORE 255
#define CLASS_INVALID (-1)     /* a raw value outside the table: an error when read */

/* What the raw values of label files mean. */
struct class_table {
	int num_classes;                     /* K: classes 0..K-1 */
	char names[CLASS_MAX][CLASS_NAME_MAX];
	uint8_t colors[CLASS_MAX][3];
	int16_t map[256];                    /* raw value -> class, CLASS_IGNORE, CLASS_INVALID */
};

enum dataset_layout { DATASET_CITYSCAPES, DATASET_LIST };

struct dataset_sample {
	char *image;    /* path */
	char *label;    /* path, or NULL for unlabelled images */
	char *instance; /* Cityscapes instanceIds path, or NULL */
	char *name;     /* identifier for outputs, e.g. "frankfurt_000000_000294" */
};

struct dataset {
	enum dataset_layout layout;
	struct class_table classes;
	struct dataset_sample *samples;
	int count;
};

/* Files a lenient opening left out of a dataset, one message each (see dataset_scan_*). */
struct dataset_problems {
	char **msgs;
	int count;
};

/*
 * How commands name a dataset (the --dataset, --root, --split, --list, --classes,
 * --label-ids and --train-ids options); NULL or false fields take the defaults.
 */
struct dataset_spec {
	const char *layout;  /* "cityscapes" or "list" */
	const char *root;    /* Cityscapes root; for lists, the folder of SPLIT.txt */
	const char *split;   /* default "train" */
	const char *list;    /* list file (default ROOT/SPLIT.txt) */
	const char *classes; /* preset name or class table file (default cityscapes) */
	bool label_ids;      /* raw values are Cityscapes labelIds (Cityscapes default) */
	bool train_ids;      /* raw values are trainIds (labelTrainIds files) */
};

/* ---- class tables (datasets/classes.c) ---- */

/* An empty table: no classes, every raw value invalid. */
void class_table_init(struct class_table *t);

/* The Cityscapes preset over trainIds, or over labelIds when label_ids. */
void class_table_cityscapes(struct class_table *t, bool label_ids);

/* The CamVid preset. */
void class_table_camvid(struct class_table *t);

/* A preset by name ("cityscapes" over trainIds, "camvid"); KN_EINVAL otherwise. */
int class_table_preset(struct class_table *t, const char *name);

/*
 * Parses a class table from len bytes of text; name (the file) is used in messages,
 * "'name': line N: problem". On failure *t is left empty.
 */
int class_table_parse(struct class_table *t, const char *text, size_t len, const char *name);

/* Reads a class table file. */
int class_table_read(struct class_table *t, const char *path);

/* A preset when spec names one, else the file at spec ("./camvid" for a file so named). */
int class_table_load(struct class_table *t, const char *spec);

/*
 * The table as class table text that parses back to an equal table (raw values
 * listed). Freed by the caller with free().
 */
char *class_table_format(const struct class_table *t);

/* True when both tables have the same classes, names, colours and mapping. */
bool class_table_equal(const struct class_table *a, const struct class_table *b);

/*
 * Maps the raw values of lab (8 or 16 bits) through t into 8-bit class indices and
 * CLASS_IGNORE, in place (a 16-bit label becomes 8-bit). A value outside the table is
 * KN_EMISMATCH naming path, the value and its pixel; lab is then unchanged.
 */
int class_table_apply(const struct class_table *t, struct label_image *lab, const char *path);

/* ---- opening and reading (datasets/cityscapes.c, list.c, dataset.c) ---- */

/*
 * The Cityscapes split ROOT/leftImg8bit/SPLIT/CITY/CITY_SEQ_FRAME_leftImg8bit.png with
 * labels ROOT/gtFine/SPLIT/CITY/CITY_SEQ_FRAME_gtFine_labelIds.png (or, train_ids,
 * _labelTrainIds.png) and instanceIds paths when those exist; samples sorted by name.
 * The class table is the Cityscapes preset over the label files read; the caller may
 * replace d->classes by any table over the same raw values. Without ROOT/gtFine/SPLIT
 * the split is unlabelled (every label NULL). An image without its label, or a label
 * without its image, is an error naming the file (and counting the others).
 */
int dataset_open_cityscapes(struct dataset *d, const char *root, const char *split,
			    bool train_ids);

/*
 * The samples of a list file: lines "IMAGE [LABEL]" of paths relative to the list's
 * folder (absolute paths are kept), separated by blanks, so paths hold no blanks; a
 * field starting with '#' starts a comment; blank lines are skipped; a line with one
 * path is an unlabelled image. A leading UTF-8 byte-order mark is skipped; a UTF-16
 * file is KN_EFORMAT. A malformed line is KN_EFORMAT "'list': line N: ...";
 * a listed file that does not exist is an error naming it and its line. Samples keep
 * the list's order and are named by the image's file name without its extension.
 */
int dataset_open_list(struct dataset *d, const char *list, const struct class_table *classes);

/*
 * Lenient openings for inspection: like dataset_open_*, but unmatched or missing files
 * do not fail the opening; each is left out of the samples and described in
 * problems (the caller frees it with dataset_problems_free). Layout errors (no such
 * root, malformed list line, no image at all) still fail.
 */
int dataset_scan_cityscapes(struct dataset *d, const char *root, const char *split,
			    bool train_ids, struct dataset_problems *problems);
int dataset_scan_list(struct dataset *d, const char *list, const struct class_table *classes,
		      struct dataset_problems *problems);

void dataset_problems_free(struct dataset_problems *p);

/*
 * Opens the dataset a command's options name (strict, or lenient when problems is not
 * NULL). KN_EINVAL with a message for inconsistent options (an unknown layout, a list
 * without --list or --root, --label-ids with a table other than cityscapes, both
 * --label-ids and --train-ids).
 */
int dataset_open_spec(struct dataset *d, const struct dataset_spec *spec,
		      struct dataset_problems *problems);

void dataset_free(struct dataset *d);

/* Number of samples with a label. */
int dataset_labelled(const struct dataset *d);

/*
 * Reads sample i: its image into *img, and when lab is not NULL its label mapped
 * through d->classes into *lab (8-bit class indices and CLASS_IGNORE; zeroed when the
 * sample is unlabelled). Errors name the file: unreadable files, a label value outside
 * the class table (with its pixel), a label whose size differs from the image's (both
 * sizes). On failure nothing is left to free.
 */
int dataset_read(const struct dataset *d, int i, struct image *img, struct label_image *lab);

/* Reads only the mapped label of sample i (zeroed when unlabelled). */
int dataset_read_label(const struct dataset *d, int i, struct label_image *lab);

#endif
