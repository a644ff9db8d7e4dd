/*
 * Tests of datasets/classes.c: the cityscapes presets against the official table
 * (every labelId), the camvid preset against the CamVid class table of the shared docs, when present, the class
 * table file format (valid files, every kind of error with its line number, round trips
 * through class_table_format) and the mapping of label values.
 */
#include "tests/testutil.h"

#include "datasets/cityscapes_labels.h"
#include "datasets/dataset.h"
#include "io/error.h"
#include "io/file.h"
#include "tests/dstest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int parse(struct class_table *t, const char *text)
{
	return class_table_parse(t, text, strlen(text), "t.classes");
}

/* A parse that must fail with KN_EFORMAT and a message holding each of want[]. */
static void assert_parse_error(const char *text, const char *want1, const char *want2)
{
	struct class_table t;

	assert_int_equal(parse(&t, text), KN_EFORMAT);
	dstest_assert_msg_has("'t.classes'");
	dstest_assert_msg_has(want1);
	if (want2)
		dstest_assert_msg_has(want2);
	assert_int_equal(t.num_classes, 0);
}

static void test_cityscapes_train_ids(void **state)
{
	struct class_table t;

	(void)state;
	class_table_cityscapes(&t, false);
	assert_int_equal(t.num_classes, 19);
	for (int v = 0; v < 256; v++) {
		int want = v < 19 ? v : v == 255 ? CLASS_IGNORE : CLASS_INVALID;

		assert_int_equal(t.map[v], want);
	}
	assert_string_equal(t.names[0], "road");
	assert_string_equal(t.names[6], "traffic light");
	assert_string_equal(t.names[18], "bicycle");
	assert_memory_equal(t.colors[10], ((uint8_t[]){70, 130, 180}), 3);
	for (int k = 0; k < 19; k++) {
		assert_string_equal(t.names[k], cityscapes_by_train_id(k)->name);
		assert_memory_equal(t.colors[k], cityscapes_by_train_id(k)->color, 3);
	}
}

/*
 * Every labelId 0..33 against the trainId column of cityscapes-labels.tsv, written out
 * here independently of the table in datasets/cityscapes_labels.c; 34..255 are invalid.
 */
static void test_cityscapes_label_ids_every_id(void **state)
{
	static const int train_of_id[34] = {
		255, 255, 255, 255, 255, 255, 255, 0,   1,   255, 255, 2,  3,  4,  255, 255, 255,
		5,   255, 6,   7,   8,   9,   10,  11,  12,  13,  14,  15, 255, 255, 16, 17, 18,
	};
	struct class_table t;

	(void)state;
	class_table_cityscapes(&t, true);
	assert_int_equal(t.num_classes, 19);
	for (int id = 0; id < 34; id++) {
		assert_int_equal(t.map[id], train_of_id[id]);
		assert_int_equal(t.map[id], cityscapes_by_id(id)->train_id);
	}
	for (int v = 34; v < 256; v++)
		assert_int_equal(t.map[v], CLASS_INVALID);
}

static void test_camvid_preset(void **state)
{
	static const char *const names[11] = {"Sky", "Building", "Pole", "Road", "Pavement",
		"Tree", "SignSymbol", "Fence", "Car", "Pedestrian", "Bicyclist"};
	struct class_table t;

	(void)state;
	class_table_camvid(&t);
	assert_int_equal(t.num_classes, 11);
	for (int k = 0; k < 11; k++) {
		assert_string_equal(t.names[k], names[k]);
		assert_int_equal(t.map[k], k);
	}
	assert_int_equal(t.map[11], CLASS_IGNORE);
	assert_int_equal(t.map[12], CLASS_INVALID);
	assert_int_equal(t.map[255], CLASS_INVALID);
	assert_memory_equal(t.colors[4], ((uint8_t[]){60, 40, 222}), 3);
	assert_memory_equal(t.colors[10], ((uint8_t[]){0, 128, 192}), 3);
}

/* The camvid preset row by row against the shared docs' TSV, when it is there. */
static void test_camvid_preset_matches_tsv(void **state)
{
	const char *data = shared_data_dir();
	char path[600], name[64];
	unsigned char *text;
	size_t len;
	struct class_table t;
	int id, r, g, b, rows = 0;
	char *line;

	(void)state;
	if (!data)
		skip();
	snprintf(path, sizeof(path), "%s/../docs/camvid-labels.tsv", data);
	if (file_read_all(path, &text, &len) < 0) {
		printf("skipped: no %s\n", path);
		skip();
	}
	class_table_camvid(&t);
	line = strtok((char *)text, "\n");
	for (line = strtok(NULL, "\n"); line; line = strtok(NULL, "\n")) {
		assert_int_equal(sscanf(line, "%63s %d %d %d %d", name, &id, &r, &g, &b), 5);
		if (id == 11)
			continue; /* void: the ignore value, not a class */
		assert_string_equal(t.names[id], name);
		assert_memory_equal(t.colors[id], ((uint8_t[]){r, g, b}), 3);
		rows++;
	}
	assert_int_equal(rows, 11);
	free(text);
}

static void test_presets_by_name(void **state)
{
	struct class_table t, want;

	(void)state;
	assert_int_equal(class_table_preset(&t, "camvid"), 0);
	class_table_camvid(&want);
	assert_true(class_table_equal(&t, &want));
	assert_int_equal(class_table_load(&t, "cityscapes"), 0);
	class_table_cityscapes(&want, false);
	assert_true(class_table_equal(&t, &want));
	assert_int_equal(class_table_preset(&t, "pascal"), KN_EINVAL);
	dstest_assert_msg_has("'pascal'");
	assert_int_equal(class_table_load(&t, "no/such.classes"), KN_EIO);
	dstest_assert_msg_has("'no/such.classes'");
	dstest_assert_msg_has("does not exist");
}

static void test_parse_implicit_raw_values(void **state)
{
	struct class_table t;
	const char *text = "# road scenes\n"
			   "\n"
			   "sky 70 130 180   # the top\r\n"
			   "  \"traffic light\"\t250 170 30\n"
			   "\"ignore\" 1 2 3\n"
			   "ignore 255 254\n"
			   "ignore 100\n"
			   "car 0 0 142"; /* no final newline */

	(void)state;
	assert_int_equal(parse(&t, text), 0);
	assert_int_equal(t.num_classes, 4);
	assert_string_equal(t.names[0], "sky");
	assert_string_equal(t.names[1], "traffic light");
	assert_string_equal(t.names[2], "ignore");
	assert_string_equal(t.names[3], "car");
	assert_memory_equal(t.colors[1], ((uint8_t[]){250, 170, 30}), 3);
	for (int v = 0; v < 256; v++) {
		int want = v < 4 ? v : (v == 100 || v >= 254) ? CLASS_IGNORE : CLASS_INVALID;

		assert_int_equal(t.map[v], want);
	}
}

static void test_parse_listed_raw_values(void **state)
{
	struct class_table t;
	const char *text = "road 128 64 128 7\n"
			   "flat 244 35 232 8 9 10\n"
			   "ignore 0 1 2 3\n";

	(void)state;
	assert_int_equal(parse(&t, text), 0);
	assert_int_equal(t.num_classes, 2);
	for (int v = 0; v < 256; v++) {
		int want = v == 7 ? 0 : (v >= 8 && v <= 10) ? 1 : v <= 3 ? CLASS_IGNORE
									 : CLASS_INVALID;

		assert_int_equal(t.map[v], want);
	}
}

/* A UTF-8 byte-order mark is skipped; a UTF-16 file or CR line ends are named as such. */
static void test_parse_byte_order_marks(void **state)
{
	struct class_table t;

	(void)state;
	assert_int_equal(parse(&t, "\xef\xbb\xbfroad 1 2 3 7\r\nsky 4 5 6 9  \r\n"), 0);
	assert_int_equal(t.num_classes, 2);
	assert_string_equal(t.names[0], "road");
	assert_int_equal(t.map[9], 1);
	assert_parse_error("\xff\xfer\0", "UTF-16", "save it as UTF-8");
	assert_parse_error("\xfe\xff\0r", "UTF-16", "save it as UTF-8");
	assert_parse_error("a 1 2 3\rb 4 5 6\r", "CR alone", "CR LF");
	/* A mark elsewhere than at the start is no blank. */
	assert_parse_error("road 1 2 3\n\xef\xbb\xbfsky 4 5 6\n", "line 2:", "byte 0xef");
}

static void test_parse_errors(void **state)
{
	(void)state;
	assert_parse_error("", "no classes", NULL);
	assert_parse_error("# only a comment\n\n", "no classes", NULL);
	assert_parse_error("ignore 255\n", "no classes", NULL);
	assert_parse_error("a 1 2 3\nb 1 2 256\n", "line 2:", "blue '256'");
	assert_parse_error("a 1 2\n", "line 1:", "needs a colour");
	assert_parse_error("a 1 x 3\n", "line 1:", "green 'x'");
	assert_parse_error("a 1 2 3 -1\n", "line 1:", "raw value '-1'");
	assert_parse_error("a 1 2 3 0\nb 1 2 3 0\n", "line 2:", "already used on line 1");
	assert_parse_error("a 1 2 3\n\na 4 5 6\n", "line 3:", "'a' is already used on line 1");
	assert_parse_error("a 1 2 3 5\nb 1 2 3\n", "line 2:", "list them for every class");
	assert_parse_error("a 1 2 3\nb 1 2 3 5\n", "line 2:", "list them for every class");
	assert_parse_error("\"a b 1 2 3\n", "line 1:", "unterminated");
	assert_parse_error("\"a\"b 1 2 3\n", "line 1:", "no blank after");
	assert_parse_error("\"\" 1 2 3\n", "line 1:", "empty class name");
	assert_parse_error("a,b 1 2 3\n", "line 1:", "holds ','");
	assert_parse_error("a\"b 1 2 3\n", "line 1:", "holds '\"'");
	assert_parse_error("a\001b 1 2 3\n", "line 1:", "byte 0x01");
	assert_parse_error("a 1 2 3\nignore\n", "line 2:", "needs at least one raw value");
	assert_parse_error("a 1 2 3 4\nignore 4\n", "line 2:", "already used on line 1");
	assert_parse_error("a 1 2 3\nb 1 2 3\nignore 1\n", "line 3:", "raw value 1 is class 'b'");
	assert_parse_error("abcdefghijabcdefghijabcdefghijabcdefghijabcdefghij 1 2 3\n",
			   "line 1:", "longer than 47");
}

static void test_parse_nul_byte(void **state)
{
	static const char text[] = "a 1 2 3\nb\0 1 2 3\n";
	struct class_table t;

	(void)state;
	assert_int_equal(class_table_parse(&t, text, sizeof(text) - 1, "t.classes"), KN_EFORMAT);
	dstest_assert_msg_has("'t.classes': line 2: NUL byte");
}

static void test_too_many_classes(void **state)
{
	char *text = malloc(256 * 16 + 1);
	size_t n = 0;
	struct class_table t;

	(void)state;
	for (int k = 0; k < 256; k++)
		n += (size_t)sprintf(text + n, "c%d 0 0 0\n", k);
	assert_int_equal(class_table_parse(&t, text, n, "big"), KN_EFORMAT);
	dstest_assert_msg_has("line 256: more than 255 classes");
	/* 255 classes (0..254) are fine: indices never reach the ignore value. */
	assert_int_equal(class_table_parse(&t, text, n - strlen("c255 0 0 0\n"), "big"), 0);
	assert_int_equal(t.num_classes, 255);
	assert_int_equal(t.map[254], 254);
	free(text);
}

static void assert_roundtrip(const struct class_table *t)
{
	char *text = class_table_format(t);
	struct class_table back;

	if (class_table_parse(&back, text, strlen(text), "formatted") < 0)
		fail_msg("%s\n%s", kn_errmsg(), text);
	assert_true(class_table_equal(&back, t));
	free(text);
}

static void test_format_roundtrip(void **state)
{
	struct class_table t;
	char *text;

	(void)state;
	class_table_cityscapes(&t, false);
	assert_roundtrip(&t);
	class_table_cityscapes(&t, true);
	assert_roundtrip(&t);
	class_table_camvid(&t);
	assert_roundtrip(&t);
	text = class_table_format(&t);
	assert_non_null(strstr(text, "\nSky 128 128 128 0\n"));
	assert_non_null(strstr(text, "\nignore 11\n"));
	free(text);
	assert_int_equal(parse(&t, "\"ignore\" 1 2 3\n\"#x\" 4 5 6\n\"a b\" 7 8 9\nz 0 0 0\n"),
			 0);
	assert_roundtrip(&t);
}

static void test_file_read_names_path(void **state)
{
	char *dir = tmpdir_create();
	char path[600];
	struct class_table t;

	(void)state;
	snprintf(path, sizeof(path), "%s/my.classes", dir);
	dstest_write_str(path, "bg 0 0 0\nfg 255 255 255\nfg 1 1 1\n");
	assert_int_equal(class_table_load(&t, path), KN_EFORMAT);
	dstest_assert_msg_has(path);
	dstest_assert_msg_has("line 3:");
	dstest_write_str(path, "bg 0 0 0\nfg 255 255 255\nignore 255\n");
	assert_int_equal(class_table_read(&t, path), 0);
	assert_int_equal(t.num_classes, 2);
	assert_int_equal(t.map[1], 1);
	assert_int_equal(t.map[255], CLASS_IGNORE);
	tmpdir_remove(dir);
}

static void test_apply_maps_and_rejects(void **state)
{
	struct class_table t;
	struct label_image lab;
	const uint8_t raw[6] = {7, 8, 0, 33, 26, 7};
	const uint8_t want[6] = {0, 1, CLASS_IGNORE, 18, 13, 0};

	(void)state;
	class_table_cityscapes(&t, true);
	label_init(&lab, 3, 2, 8);
	memcpy(lab.u8, raw, 6);
	assert_int_equal(class_table_apply(&t, &lab, "a.png"), 0);
	assert_memory_equal(lab.u8, want, 6);
	/* 40 at (1, 1): the message names file, value and pixel; the label is untouched. */
	memcpy(lab.u8, raw, 6);
	lab.u8[4] = 40;
	assert_int_equal(class_table_apply(&t, &lab, "dir/b.png"), KN_EMISMATCH);
	dstest_assert_msg_has("'dir/b.png'");
	dstest_assert_msg_has("value 40 at (1, 1)");
	assert_int_equal(lab.u8[0], 7);
	assert_int_equal(lab.u8[4], 40);
	label_free(&lab);
}

static void test_apply_16bit(void **state)
{
	struct class_table t;
	struct label_image lab;

	(void)state;
	class_table_camvid(&t);
	label_init(&lab, 2, 2, 16);
	lab.u16[0] = 3;
	lab.u16[1] = 11;
	lab.u16[2] = 0;
	lab.u16[3] = 256 + 3; /* would alias 3 if narrowed carelessly */
	assert_int_equal(class_table_apply(&t, &lab, "c.png"), KN_EMISMATCH);
	dstest_assert_msg_has("value 259 at (1, 1)");
	assert_int_equal(lab.bits, 16);
	lab.u16[3] = 10;
	assert_int_equal(class_table_apply(&t, &lab, "c.png"), 0);
	assert_int_equal(lab.bits, 8);
	assert_null(lab.u16);
	assert_memory_equal(lab.u8, ((uint8_t[]){3, CLASS_IGNORE, 0, 10}), 4);
	label_free(&lab);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cityscapes_train_ids),
		cmocka_unit_test(test_cityscapes_label_ids_every_id),
		cmocka_unit_test(test_camvid_preset),
		cmocka_unit_test(test_camvid_preset_matches_tsv),
		cmocka_unit_test(test_presets_by_name),
		cmocka_unit_test(test_parse_implicit_raw_values),
		cmocka_unit_test(test_parse_listed_raw_values),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_parse_byte_order_marks),
		cmocka_unit_test(test_parse_nul_byte),
		cmocka_unit_test(test_too_many_classes),
		cmocka_unit_test(test_format_roundtrip),
		cmocka_unit_test(test_file_read_names_path),
		cmocka_unit_test(test_apply_maps_and_rejects),
		cmocka_unit_test(test_apply_16bit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
