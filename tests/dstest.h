/*
 * Helpers for the dataset tests (test_dataset.c, test_dataset_list.c, test_classes.c,
 * test_data_cmd.c): small image, label and text files written into a temporary tree,
 * and message checks. Each helper fails the calling test when a write fails.
 */
#ifndef KNSEG_TESTS_DSTEST_H
#define KNSEG_TESTS_DSTEST_H

#include <stddef.h>
#include <stdint.h>

/* Fails the test unless kn_errmsg() contains want. */
void dstest_assert_msg_has(const char *want);

/* mkdir -p of the folder holding path. */
void dstest_make_parents(const char *path);

/* Writes len bytes of text (or the string text) to path, making its folders. */
void dstest_write_text(const char *path, const char *text, size_t len);
void dstest_write_str(const char *path, const char *text);

/* A w x h RGB PNG of a pattern that depends on seed. */
void dstest_write_image(const char *path, int w, int h, int seed);

/* An 8-bit gray label PNG of the w * h values v. */
void dstest_write_values(const char *path, int w, int h, const uint8_t *v);

#endif
