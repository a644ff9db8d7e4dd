/*
 * The floors of the source tree, read from its #include lines (the tests run from the
 * repository root):
 *
 *     io/                 the base: files, images, errors, allocation, random numbers
 *     nets/  datasets/    side by side above it; neither includes the other
 *     metrics/            above both
 *     app/                the program and the embedding API (knseg.h), on top
 *
 * A file may include files of its own folder and of lower floors only. A module is a .c
 * file and its .h; module A depends on B when A's .c or .h includes B's .h. No chain of
 * dependencies leads back to where it started, except the pairs below, each a module and
 * the private header it shares with its neighbours.
 */
#include "tests/testutil.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_MODULES 512
#define MAX_DEPS 64

static const struct {
	const char *folder;
	int floor;
} floors[] = {{"io", 0}, {"nets", 1}, {"datasets", 1}, {"metrics", 2}, {"app", 3}};

#define NFOLDERS (int)(sizeof(floors) / sizeof(floors[0]))

/* Pairs that include each other, and why that is the clearest shape. */
static const char *const allowed_pairs[][3] = {
	{"io/json", "io/json_internal", "the reader's and the writer's shared private header"},
	{"nets/conv", "nets/conv_internal", "conv.c's helpers shared with conv_shift.c"},
	{"app/knseg", "app/knseg_internal", "the parts of the embedding API for the commands"},
	{"datasets/dataset", "datasets/dataset_build",
	 "the builders the layout readers share, private to datasets/"},
};

struct module {
	char name[128]; /* folder/stem */
	int folder;
	int deps[MAX_DEPS], ndeps;
};

static struct module mods[MAX_MODULES];
static int nmods;

static int module_index(const char *name, int folder)
{
	for (int i = 0; i < nmods; i++)
		if (!strcmp(mods[i].name, name))
			return i;
	assert_true(nmods < MAX_MODULES);
	snprintf(mods[nmods].name, sizeof(mods[nmods].name), "%s", name);
	mods[nmods].folder = folder;
	return nmods++;
}

static int folder_of(const char *path)
{
	for (int f = 0; f < NFOLDERS; f++) {
		size_t n = strlen(floors[f].folder);

		if (!strncmp(path, floors[f].folder, n) && path[n] == '/')
			return f;
	}
	return -1;
}

/* "nets/conv.h" -> "nets/conv". */
static void stem(const char *path, char *out, size_t size)
{
	const char *dot = strrchr(path, '.');

	snprintf(out, size, "%.*s", (int)(dot ? dot - path : (long)strlen(path)), path);
}

static void add_dep(int from, int to)
{
	struct module *m = &mods[from];

	if (from == to)
		return;
	for (int i = 0; i < m->ndeps; i++)
		if (m->deps[i] == to)
			return;
	assert_true(m->ndeps < MAX_DEPS);
	m->deps[m->ndeps++] = to;
}

/* Reads path's #include "..." lines into its module's dependencies. */
static void read_includes(const char *path, int folder)
{
	FILE *f = fopen(path, "r");
	char line[512], name[128];
	int from;

	assert_non_null(f);
	stem(path, name, sizeof(name));
	from = module_index(name, folder);
	while (fgets(line, sizeof(line), f)) {
		char inc[256];
		int to_folder;

		if (sscanf(line, " # include \"%255[^\"]\"", inc) != 1)
			continue;
		to_folder = folder_of(inc);
		if (to_folder < 0)
			continue; /* not a file of the library or the program */
		stem(inc, name, sizeof(name));
		add_dep(from, module_index(name, to_folder));
	}
	fclose(f);
}

static void read_tree(void)
{
	nmods = 0;
	for (int f = 0; f < NFOLDERS; f++) {
		DIR *d = opendir(floors[f].folder);
		struct dirent *e;

		assert_non_null(d);
		while ((e = readdir(d))) {
			size_t n = strlen(e->d_name);
			char path[512];

			if (n < 3 || (strcmp(e->d_name + n - 2, ".c") && strcmp(e->d_name + n - 2, ".h")))
				continue;
			snprintf(path, sizeof(path), "%s/%s", floors[f].folder, e->d_name);
			read_includes(path, f);
		}
		closedir(d);
	}
}

static void test_no_arrow_runs_up(void **state)
{
	int bad = 0, files[NFOLDERS] = {0};

	(void)state;
	read_tree();
	for (int i = 0; i < nmods; i++) {
		const struct module *m = &mods[i];

		files[m->folder]++;
		for (int k = 0; k < m->ndeps; k++) {
			const struct module *d = &mods[m->deps[k]];
			int a = floors[m->folder].floor, b = floors[d->folder].floor;

			if (m->folder != d->folder && b >= a) {
				print_error("%s includes %s, on the same floor or above\n", m->name,
					    d->name);
				bad++;
			}
		}
	}
	for (int f = 0; f < NFOLDERS; f++)
		print_message("floor %d: %-9s %3d modules\n", floors[f].floor, floors[f].folder,
			      files[f]);
	assert_int_equal(bad, 0);
}

/* Whether to can be reached from from (depth-first over the dependencies). */
static bool reaches(int from, int to, bool *seen)
{
	if (from == to)
		return true;
	if (seen[from])
		return false;
	seen[from] = true;
	for (int k = 0; k < mods[from].ndeps; k++)
		if (reaches(mods[from].deps[k], to, seen))
			return true;
	return false;
}

static bool allowed(const char *a, const char *b)
{
	for (size_t i = 0; i < sizeof(allowed_pairs) / sizeof(allowed_pairs[0]); i++)
		if ((!strcmp(a, allowed_pairs[i][0]) && !strcmp(b, allowed_pairs[i][1])) ||
		    (!strcmp(b, allowed_pairs[i][0]) && !strcmp(a, allowed_pairs[i][1])))
			return true;
	return false;
}

static void test_no_loops_but_private_pairs(void **state)
{
	bool seen[MAX_MODULES];
	int bad = 0, pairs = 0;

	(void)state;
	read_tree();
	for (int i = 0; i < nmods; i++)
		for (int k = 0; k < mods[i].ndeps; k++) {
			int j = mods[i].deps[k];

			memset(seen, 0, sizeof(seen));
			if (!reaches(j, i, seen))
				continue;
			if (allowed(mods[i].name, mods[j].name)) {
				pairs++;
				continue;
			}
			print_error("loop: %s includes %s, which leads back to it\n", mods[i].name,
				    mods[j].name);
			bad++;
		}
	print_message("%d modules, %d private pairs including each other\n", nmods, pairs / 2);
	assert_int_equal(bad, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_arrow_runs_up),
		cmocka_unit_test(test_no_loops_but_private_pairs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
