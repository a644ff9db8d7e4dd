/*
 * knseg data: inspects a dataset by reading every sample: image count, distinct image
 * sizes, class pixel shares (the ignore value as its own row, "void") and every bad
 * file. Bad files do not stop the inspection; they are all listed and the exit status
 * is 1 at the end. --json prints the same content as one JSON object. The dataset
 * options are the shared ones of app/args.h.
 */
#include "app/commands.h"
#include "app/options.h"
#include "datasets/dataset.h"
#include "datasets/stats.h"
#include "io/atomic.h"
#include "io/error.h"
#include "io/json.h"
#include "nets/gemm.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#define IGNORE_ROW_NAME "void"

struct data_cmd {
	struct dataset_spec spec;
	const char *json;
	int threads;
};

#define F(m) offsetof(struct data_cmd, m)
static const struct opt data_opts[] = {
	DATASET_OPTS(struct data_cmd, spec, "train"),
	{"json", OPT_STRING, F(json), .arg = "FILE",
	 .help = "also write the content as one JSON object (- for standard output,\n"
		 "in place of the tables)"},
	THREADS_OPT(struct data_cmd, threads),
	{0},
};
#undef F

static const struct opt_command data_command = {
	"data",
	"usage: knseg data --dataset cityscapes --root DIR [--split S]\n"
	"                  [--label-ids | --train-ids] [--classes PRESET|FILE]\n"
	"       knseg data --dataset list (--list FILE | --root DIR [--split S])\n"
	"                  [--classes PRESET|FILE] [--label-ids]\n"
	"                  [--json FILE] [--threads N]\n\n"
	"Reads every image and label of a dataset split and prints the image count, the\n"
	"image sizes, the share of each class in the labelled pixels (ignored pixels as\n"
	"the row 'void') and every bad file. Exits 1 when any file is bad.\n"
	"Layouts: cityscapes reads ROOT/leftImg8bit/SPLIT/CITY/*_leftImg8bit.png with\n"
	"ROOT/gtFine/SPLIT/CITY/*_gtFine_labelIds.png; list reads lines 'IMAGE [LABEL]'\n"
	"relative to the list's folder.\n",
	data_opts,
	false,
};

static double share(uint64_t pixels, uint64_t total)
{
	return total ? 100.0 * (double)pixels / (double)total : 0.0;
}

static void print_text(const struct dataset *d, const struct dataset_stats *st,
		       const struct dataset_problems *skipped)
{
	const struct class_table *t = &d->classes;
	int nbad = skipped->count + st->bad.count;

	printf("images: %d (%d labelled, %d unlabelled)\n", st->images, dataset_labelled(d),
	       st->images - dataset_labelled(d));
	printf("\nimage sizes:\n");
	for (int i = 0; i < st->num_sizes; i++)
		printf("  %5dx%-5d %8d\n", st->sizes[i].w, st->sizes[i].h, st->sizes[i].count);
	if (st->label_pixels) {
		printf("\nclass pixel shares (%% of %llu pixels in %d label%s):\n",
		       (unsigned long long)st->label_pixels, st->labelled,
		       st->labelled == 1 ? "" : "s");
		printf("  %5s  %-24s %7s %14s\n", "class", "name", "share", "pixels");
		for (int k = 0; k < t->num_classes; k++)
			printf("  %5d  %-24s %7.2f %14llu\n", k, t->names[k],
			       share(st->class_pixels[k], st->label_pixels),
			       (unsigned long long)st->class_pixels[k]);
		printf("  %5s  %-24s %7.2f %14llu\n", "-", IGNORE_ROW_NAME,
		       share(st->ignore_pixels, st->label_pixels),
		       (unsigned long long)st->ignore_pixels);
	} else {
		printf("\nno label was read: no class shares\n");
	}
	printf("\nbad files: %d\n", nbad);
	for (int i = 0; i < skipped->count; i++)
		printf("  %s\n", skipped->msgs[i]);
	for (int i = 0; i < st->bad.count; i++)
		printf("  %s\n", st->bad.msgs[i]);
}

static void json_class(struct json_writer *w, int id, const char *name, uint64_t pixels,
		       uint64_t total)
{
	json_object_begin(w);
	json_key(w, "id");
	json_i64(w, id);
	json_key(w, "name");
	json_string(w, name);
	json_key(w, "pixels");
	json_u64(w, pixels);
	json_key(w, "percent");
	json_double(w, share(pixels, total));
	json_object_end(w);
}

static void json_body(struct json_writer *w, const struct dataset *d,
		      const struct dataset_stats *st, const struct dataset_problems *skipped)
{
	json_key(w, "images");
	json_u64(w, (uint64_t)st->images);
	json_key(w, "labelled");
	json_u64(w, (uint64_t)dataset_labelled(d));
	json_key(w, "sizes");
	json_array_begin(w);
	for (int i = 0; i < st->num_sizes; i++) {
		json_object_begin(w);
		json_key(w, "width");
		json_u64(w, (uint64_t)st->sizes[i].w);
		json_key(w, "height");
		json_u64(w, (uint64_t)st->sizes[i].h);
		json_key(w, "count");
		json_u64(w, (uint64_t)st->sizes[i].count);
		json_object_end(w);
	}
	json_array_end(w);
	json_key(w, "label_pixels");
	json_u64(w, st->label_pixels);
	json_key(w, "classes");
	json_array_begin(w);
	for (int k = 0; k < d->classes.num_classes; k++)
		json_class(w, k, d->classes.names[k], st->class_pixels[k], st->label_pixels);
	json_class(w, CLASS_IGNORE, IGNORE_ROW_NAME, st->ignore_pixels, st->label_pixels);
	json_array_end(w);
	json_key(w, "bad");
	json_array_begin(w);
	for (int i = 0; i < skipped->count; i++)
		json_string(w, skipped->msgs[i]);
	for (int i = 0; i < st->bad.count; i++)
		json_string(w, st->bad.msgs[i]);
	json_array_end(w);
}

/* The JSON object to path, or to standard output for "-". */
static int write_json(const char *path, const struct dataset_spec *spec,
		      const struct dataset *d, const struct dataset_stats *st,
		      const struct dataset_problems *skipped)
{
	struct json_writer w;
	int err = 0;

	json_writer_init(&w);
	json_object_begin(&w);
	json_key(&w, "layout");
	json_string(&w, d->layout == DATASET_CITYSCAPES ? "cityscapes" : "list");
	json_key(&w, "source");
	if (spec->list && d->layout == DATASET_LIST)
		json_string(&w, spec->list);
	else
		json_string(&w, spec->root);
	json_key(&w, "split");
	json_string(&w, spec->split ? spec->split : "train");
	json_body(&w, d, st, skipped);
	json_object_end(&w);
	json_append_raw(&w, "\n", 1);
	if (opt_is_stdout(path))
		fwrite(w.data, 1, w.len, stdout);
	else
		err = atomic_write_file(path, w.data, w.len);
	json_writer_free(&w);
	return err;
}

int cmd_data(int argc, char **argv)
{
	struct data_cmd o = {0};
	struct dataset_problems skipped;
	struct dataset_stats st;
	struct dataset d;
	int rc = opt_parse(&data_command, argc, argv, &o, NULL), err, nbad;

	if (rc)
		return rc < 0 ? 0 : rc;
	if (o.threads)
		kn_set_threads(o.threads);
	err = dataset_open_spec(&d, &o.spec, &skipped);
	if (err == KN_EINVAL)
		return usage_error("data", "%s", kn_errmsg());
	if (err)
		return die("%s", kn_errmsg());
	dataset_stats_compute(&d, &st);
	if (!opt_is_stdout(o.json))
		print_text(&d, &st, &skipped);
	err = o.json ? write_json(o.json, &o.spec, &d, &st, &skipped) : 0;
	nbad = skipped.count + st.bad.count;
	dataset_stats_free(&st);
	dataset_problems_free(&skipped);
	dataset_free(&d);
	if (err)
		return die("%s", kn_errmsg());
	if (nbad)
		return die("%d bad file%s (listed above)", nbad, nbad == 1 ? "" : "s");
	return 0;
}
