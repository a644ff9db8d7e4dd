/*
 * Tests of atomic file writing (io/atomic.h): the content is replaced wholly, no
 * temporary file is left after a commit or an abort, a reader holding the old file keeps
 * seeing it whole, errors name the path, and new files get the usual permissions.
 */
#include "tests/testutil.h"

#include "io/atomic.h"
#include "io/error.h"
#include "io/file.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The number of entries in dir (besides . and ..); the first one's name in first. */
static int count_entries(const char *dir, char *first, size_t size)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (n++ == 0 && first)
			snprintf(first, size, "%s", e->d_name);
	}
	closedir(d);
	return n;
}

static void expect_content(const char *path, const char *want, size_t n)
{
	unsigned char *buf;
	size_t len;

	if (file_read_all(path, &buf, &len) != 0)
		fail_msg("%s", kn_errmsg());
	assert_int_equal(len, n);
	if (n)
		assert_memory_equal(buf, want, n);
	free(buf);
}

static void test_replaces_content_wholly(void **state)
{
	char *dir = tmpdir_create(), path[600], name[256];
	char big[10000];

	(void)state;
	memset(big, 'x', sizeof(big));
	snprintf(path, sizeof(path), "%s/out.bin", dir);
	assert_int_equal(atomic_write_file(path, big, sizeof(big)), 0);
	expect_content(path, big, sizeof(big));
	/* A shorter file leaves nothing of the longer one behind. */
	assert_int_equal(atomic_write_file(path, "short", 5), 0);
	expect_content(path, "short", 5);
	assert_int_equal(atomic_write_file(path, NULL, 0), 0);
	expect_content(path, "", 0);
	assert_int_equal(count_entries(dir, name, sizeof(name)), 1);
	assert_string_equal(name, "out.bin");
	tmpdir_remove(dir);
}

static void test_commit_and_abort_leave_no_temporary(void **state)
{
	char *dir = tmpdir_create(), path[600], name[256];
	struct atomic_file af;

	(void)state;
	snprintf(path, sizeof(path), "%s/model.safetensors", dir);
	assert_int_equal(atomic_open(&af, path), 0);
	fputs("new content", af.f);
	/* Before the commit the destination does not exist; the temporary sits beside it. */
	assert_int_equal(count_entries(dir, name, sizeof(name)), 1);
	assert_non_null(strstr(name, "model.safetensors.tmp."));
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(atomic_commit(&af), 0);
	assert_null(af.path);
	assert_int_equal(count_entries(dir, name, sizeof(name)), 1);
	assert_string_equal(name, "model.safetensors");
	expect_content(path, "new content", 11);

	/* An aborted write leaves the old file untouched and removes the temporary. */
	assert_int_equal(atomic_open(&af, path), 0);
	fputs("half of a replacement", af.f);
	fflush(af.f);
	atomic_abort(&af);
	assert_int_equal(count_entries(dir, name, sizeof(name)), 1);
	assert_string_equal(name, "model.safetensors");
	expect_content(path, "new content", 11);

	/* An abort of a first write leaves nothing at all. */
	snprintf(path, sizeof(path), "%s/never.bin", dir);
	assert_int_equal(atomic_open(&af, path), 0);
	atomic_abort(&af);
	assert_int_equal(count_entries(dir, NULL, 0), 1);
	tmpdir_remove(dir);
}

/* A reader that opened the old file keeps reading the old content in full. */
static void test_open_reader_sees_old_file(void **state)
{
	char *dir = tmpdir_create(), path[600], got[16] = {0};
	FILE *reader;

	(void)state;
	snprintf(path, sizeof(path), "%s/f.txt", dir);
	assert_int_equal(atomic_write_file(path, "old content", 11), 0);
	reader = fopen(path, "rb");
	assert_non_null(reader);
	assert_int_equal(atomic_write_file(path, "NEW", 3), 0);
	assert_int_equal(fread(got, 1, sizeof(got), reader), 11);
	assert_string_equal(got, "old content");
	fclose(reader);
	expect_content(path, "NEW", 3);
	tmpdir_remove(dir);
}

static void test_errors_name_the_path(void **state)
{
	char *dir = tmpdir_create(), path[600];
	struct atomic_file af;

	(void)state;
	snprintf(path, sizeof(path), "%s/no/such/folder/x.bin", dir);
	assert_int_equal(atomic_write_file(path, "x", 1), KN_EIO);
	assert_non_null(strstr(kn_errmsg(), path));
	assert_non_null(strstr(kn_errmsg(), "No such file or directory"));
	assert_int_equal(atomic_open(&af, path), KN_EIO);
	assert_non_null(strstr(kn_errmsg(), path));

	/* A folder in the way of the destination: the rename fails, nothing is left. */
	snprintf(path, sizeof(path), "%s/sub", dir);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/sub/inner", dir);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/sub", dir);
	assert_int_equal(atomic_write_file(path, "x", 1), KN_EIO);
	assert_non_null(strstr(kn_errmsg(), path));
	assert_int_equal(count_entries(dir, NULL, 0), 1);
	tmpdir_remove(dir);
}

static void test_new_file_permissions(void **state)
{
	char *dir = tmpdir_create(), path[600];
	mode_t old = umask(022);
	struct stat st;

	(void)state;
	snprintf(path, sizeof(path), "%s/a.bin", dir);
	assert_int_equal(atomic_write_file(path, "a", 1), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0644);
	umask(077);
	snprintf(path, sizeof(path), "%s/b.bin", dir);
	assert_int_equal(atomic_write_file(path, "b", 1), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	umask(old);
	tmpdir_remove(dir);
}

/* Many writers of one path at once get distinct temporaries; the last commit wins. */
static void test_concurrent_writers(void **state)
{
	char *dir = tmpdir_create(), path[600], name[256];
	struct atomic_file af[50];

	(void)state;
	snprintf(path, sizeof(path), "%s/shared.bin", dir);
	for (int i = 0; i < 50; i++) {
		assert_int_equal(atomic_open(&af[i], path), 0);
		fprintf(af[i].f, "writer %02d", i);
	}
	assert_int_equal(count_entries(dir, NULL, 0), 50);
	for (int i = 0; i < 50; i++)
		assert_int_equal(atomic_commit(&af[i]), 0);
	assert_int_equal(count_entries(dir, name, sizeof(name)), 1);
	expect_content(path, "writer 49", 9);
	tmpdir_remove(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_replaces_content_wholly),
		cmocka_unit_test(test_commit_and_abort_leave_no_temporary),
		cmocka_unit_test(test_open_reader_sees_old_file),
		cmocka_unit_test(test_errors_name_the_path),
		cmocka_unit_test(test_new_file_permissions),
		cmocka_unit_test(test_concurrent_writers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
