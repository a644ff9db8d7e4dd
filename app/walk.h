/*
 * Input files for the commands that take images: files named directly, and folders
 * searched recursively for *.png, *.jpg and *.jpeg (any case), in sorted order.
 * Each entry also carries the stem an output is named after: the base name without its
 * extension for a file named directly, the path below the folder without extension for
 * a file found in a folder.
 */
#ifndef KNSEG_APP_WALK_H
#define KNSEG_APP_WALK_H

#include <stddef.h>

struct walk_item {
	char *path;
	char *rel_stem;
};

struct walk_list {
	struct walk_item *items;
	size_t count, cap;
};

/* Fails naming a missing input or an unreadable folder. */
int walk_inputs(char **inputs, int n, struct walk_list *out);

void walk_list_free(struct walk_list *l);

/* Creates the folders above path (like mkdir -p of its dirname). */
int make_parent_dirs(const char *path);

#endif
