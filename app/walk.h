/*
 * Input files for the commands that take images: files named directly, and folders
 * searched recursively for *.png, *.jpg and *.jpeg (any case), in sorted order.
 *
 * Symbolic links are followed, but each real folder and file is taken once, the first
 * time it is reached (a link cycle, a hard link, an input given twice): folders and files
 * are told apart by device and inode, not by name. The output folder, when it exists, is
 * left out of the walk the same way, so outputs are never read back as inputs.
 *
 * An entry that names an image but cannot be one (a FIFO, socket or device named *.png,
 * a dangling link) is kept with an error message, so a command reports it by name and
 * still does the others.
 *
 *     struct walk_list l;
 *     if (walk_inputs(inputs, n, out_dir, &l) < 0)
 *         return die("%s", kn_errmsg());
 *     walk_name_outputs(&l);                   (only for commands that write outputs)
 *     ... l.items[i].path, .stem, .error ...
 *     walk_list_free(&l);
 */
#ifndef KNSEG_APP_WALK_H
#define KNSEG_APP_WALK_H

#include <stddef.h>
#include <sys/types.h>

struct walk_item {
	char *path;  /* as given, or FOLDER/rel for a file found in a folder */
	char *rel;   /* base name of a file given directly, the path below its folder else */
	char *stem;  /* what outputs are named after; set by walk_name_outputs */
	char *error; /* NULL, or why this input cannot be used (a one-line message) */
	dev_t dev;
	ino_t ino;
};

struct walk_list {
	struct walk_item *items;
	size_t count, cap;
};

/*
 * Collects the inputs; skip_dir (may be NULL or missing) is left out of the walk.
 * Fails (KN_EIO) naming a missing input, an unreadable folder or a folder without
 * images, and (KN_EINVAL) when an input folder is skip_dir itself.
 */
int walk_inputs(char **inputs, int n, const char *skip_dir, struct walk_list *out);

/*
 * Sets each usable item's stem: rel without its extension. When several items share a
 * stem but differ in extension (x.png and x.jpg), all of them keep the extension
 * ("x.png", "x.jpg"). An item whose stem is still taken by an earlier one gets an error
 * naming both.
 */
void walk_name_outputs(struct walk_list *l);

/* The item whose file is (dev, ino), or NULL. */
const struct walk_item *walk_find_file(const struct walk_list *l, dev_t dev, ino_t ino);

void walk_list_free(struct walk_list *l);

/* Creates the folders above path (like mkdir -p of its dirname). */
int make_parent_dirs(const char *path);

#endif
