/* Whole-file reading and path joining. See file.h. */
#include "io/file.h"
#include "io/alloc.h"
#include "io/error.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int file_read_all(const char *path, unsigned char **data, size_t *len)
{
	struct stat st;
	unsigned char *buf;
	size_t n;
	/* O_NONBLOCK: opening a FIFO would wait for a writer; regular files ignore it. */
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	FILE *f;

	if (fd < 0)
		return kn_error(KN_EIO, "cannot open '%s': %s", path, strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return kn_error(KN_EIO, "cannot read '%s': not a regular file", path);
	}
	f = fdopen(fd, "rb");
	if (!f) {
		int err = errno;

		close(fd);
		return kn_error(KN_EIO, "cannot open '%s': %s", path, strerror(err));
	}
	if ((unsigned long long)st.st_size >= KN_MAX_FILE_ALLOC) {
		fclose(f);
		return kn_error(KN_ENOMEM, "cannot read '%s': file too large (%lld bytes)", path,
				(long long)st.st_size);
	}
	n = (size_t)st.st_size;
	buf = malloc(n + 1);
	if (!buf) {
		fclose(f);
		return kn_error(KN_ENOMEM, "cannot read '%s': out of memory", path);
	}
	if (n && fread(buf, 1, n, f) != n) {
		int err = ferror(f) ? errno : 0;

		free(buf);
		fclose(f);
		return kn_error(KN_EIO, "cannot read '%s': %s", path,
				err ? strerror(err) : "file changed while reading");
	}
	fclose(f);
	buf[n] = 0;
	*data = buf;
	*len = n;
	return 0;
}

int file_text_start(const char *text, size_t len, const char *name, size_t *start)
{
	const unsigned char *t = (const unsigned char *)text;

	*start = 0;
	if (len >= 3 && t[0] == 0xef && t[1] == 0xbb && t[2] == 0xbf)
		*start = 3;
	else if (len >= 2 && ((t[0] == 0xff && t[1] == 0xfe) || (t[0] == 0xfe && t[1] == 0xff)))
		return kn_error(KN_EFORMAT, "'%s' is UTF-16 text (byte-order mark %02X %02X): "
				"save it as UTF-8 or ASCII", name, t[0], t[1]);
	if (!memchr(text, '\n', len) && memchr(text, '\r', len) &&
	    (const char *)memchr(text, '\r', len) < text + len - 1)
		return kn_error(KN_EFORMAT, "'%s' has lines ended by CR alone: save it with LF or "
				"CR LF line ends", name);
	return 0;
}

char *file_path_join(const char *dir, const char *name)
{
	size_t a = strlen(dir), b = strlen(name);
	char *out;

	if (name[0] == '/' || a == 0)
		return memcpy(xmalloc(b + 1), name, b + 1);
	out = xmalloc(a + b + 2);
	memcpy(out, dir, a);
	/* "/" joined with "x" is "/x", not "//x". */
	if (dir[a - 1] != '/')
		out[a++] = '/';
	memcpy(out + a, name, b + 1);
	return out;
}
