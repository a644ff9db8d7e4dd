/* Atomic file writing through a temporary file and rename. See atomic.h. */
#include "io/atomic.h"
#include "io/alloc.h"
#include "io/error.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/*
 * Creates path + ".tmp.XXXXXX" with a fresh suffix. Not mkstemp: it makes the file 0600,
 * and reading the umask to widen that needs umask(0) for a moment, which races with
 * files created by other threads. open(O_EXCL, 0666) applies the umask itself.
 */
static int create_temporary(char *tmp, size_t len)
{
	static _Atomic unsigned long counter;
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	for (int attempt = 0; attempt < 100; attempt++) {
		unsigned long x = (unsigned long)getpid() * 2654435761u ^
				  (unsigned long)ts.tv_nsec ^ (counter++ * 0x9e3779b9u);
		int fd;

		for (int i = 0; i < 6; i++, x /= 36)
			tmp[len + 5 + (size_t)i] = "0123456789abcdefghijklmnopqrstuvwxyz"[x % 36];
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
		if (fd >= 0 || errno != EEXIST)
			return fd;
	}
	return -1;
}

int atomic_open(struct atomic_file *af, const char *path)
{
	size_t len = strlen(path);
	int fd;

	af->f = NULL;
	af->path = xmalloc(len + 1);
	memcpy(af->path, path, len + 1);
	af->tmp_path = xmalloc(len + sizeof(".tmp.XXXXXX"));
	memcpy(af->tmp_path, path, len);
	memcpy(af->tmp_path + len, ".tmp.XXXXXX", sizeof(".tmp.XXXXXX"));
	fd = create_temporary(af->tmp_path, len);
	if (fd < 0) {
		int err = errno;

		free(af->path);
		free(af->tmp_path);
		return kn_error(KN_EIO, "cannot create '%s': %s", path, strerror(err));
	}
	af->f = fdopen(fd, "wb");
	if (!af->f) {
		int err = errno;

		close(fd);
		unlink(af->tmp_path);
		free(af->path);
		free(af->tmp_path);
		return kn_error(KN_EIO, "cannot open '%s': %s", path, strerror(err));
	}
	return 0;
}

static void release(struct atomic_file *af)
{
	free(af->path);
	free(af->tmp_path);
	af->path = af->tmp_path = NULL;
	af->f = NULL;
}

static void sync_parent_dir(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir;
	int fd;

	if (!slash) {
		dir = xmalloc(2);
		strcpy(dir, ".");
	} else {
		size_t n = (size_t)(slash - path);

		dir = xmalloc(n + 2);
		memcpy(dir, path, n ? n : 1);
		dir[n ? n : 1] = '\0';
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY);
	if (fd >= 0) {
		fsync(fd); /* best effort: some file systems refuse fsync on folders */
		close(fd);
	}
	free(dir);
}

int atomic_commit(struct atomic_file *af)
{
	int err = 0;

	if (fflush(af->f) != 0 || ferror(af->f))
		err = errno ? errno : EIO;
	else if (fsync(fileno(af->f)) != 0)
		err = errno;
	if (fclose(af->f) != 0 && !err)
		err = errno ? errno : EIO;
	af->f = NULL;
	if (!err && rename(af->tmp_path, af->path) != 0)
		err = errno;
	if (err) {
		unlink(af->tmp_path);
		kn_error(KN_EIO, "cannot write '%s': %s", af->path, strerror(err));
		release(af);
		return KN_EIO;
	}
	sync_parent_dir(af->path);
	release(af);
	return 0;
}

void atomic_abort(struct atomic_file *af)
{
	if (af->f)
		fclose(af->f);
	unlink(af->tmp_path);
	release(af);
}

int atomic_write_file(const char *path, const void *data, size_t len)
{
	struct atomic_file af;

	if (atomic_open(&af, path) < 0)
		return KN_EIO;
	if (len && fwrite(data, 1, len, af.f) != len) {
		int err = errno;

		atomic_abort(&af);
		return kn_error(KN_EIO, "cannot write '%s': %s", path, strerror(err));
	}
	return atomic_commit(&af);
}

int atomic_write_encoded(const char *path, int err, unsigned char *buf, size_t len)
{
	if (err)
		return kn_error_prefix(err, "'%s'", path);
	err = atomic_write_file(path, buf, len);
	free(buf);
	return err;
}

bool atomic_is_temporary(const char *name, const char *file)
{
	size_t n = strlen(file);

	return !strncmp(name, file, n) && !strncmp(name + n, ".tmp.", 5) &&
	       strlen(name + n + 5) == sizeof(".tmp.XXXXXX") - sizeof(".tmp.");
}
