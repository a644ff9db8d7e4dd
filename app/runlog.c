/* Run folder files: configuration echo, CSV log and SVG curves. See runlog.h. */
#include "app/runlog.h"
#include "app/walk.h"
#include "io/alloc.h"
#include "io/atomic.h"
#include "io/error.h"
#include "io/file.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define CSV_HEADER "step,epoch,loss,lr,images_per_s,val_miou,epsilon\n"

void runlog_path(const struct runlog *rl, const char *name, char *buf, size_t size)
{
	snprintf(buf, size, "%s/%s", rl->dir, name);
}

static bool holds_run(const char *dir)
{
	char path[4096];
	struct stat st;

	snprintf(path, sizeof(path), "%s/log.csv", dir);
	if (stat(path, &st) == 0)
		return true;
	snprintf(path, sizeof(path), "%s/last.safetensors", dir);
	return stat(path, &st) == 0;
}

/* The files a run writes; a new run in the folder (--force) removes the old run's, so that
 * none of them is left beside the new run's configuration as if it were the new run's. */
static const char *const run_files[] = {
	"last.safetensors", "best.safetensors", "val.json", "log.csv", "curve.svg",
};

static int remove_run_files(const struct runlog *rl)
{
	char path[4096];

	for (size_t i = 0; i < sizeof(run_files) / sizeof(run_files[0]); i++) {
		runlog_path(rl, run_files[i], path, sizeof(path));
		if (unlink(path) != 0 && errno != ENOENT)
			return kn_error(KN_EIO, "cannot remove '%s' of the previous run: %s", path,
					strerror(errno));
	}
	return 0;
}

/*
 * One run at a time in a folder: a second knseg train there would interleave its rows
 * and checkpoints with the first's. flock on the folder itself leaves no lock file
 * behind, and the kernel drops the lock when the process ends, however it ends.
 */
static int lock_dir(struct runlog *rl)
{
	rl->lock_fd = open(rl->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rl->lock_fd < 0)
		return kn_error(KN_EIO, "cannot open '%s': %s", rl->dir, strerror(errno));
	if (flock(rl->lock_fd, LOCK_EX | LOCK_NB) == 0)
		return 0;
	if (errno == EWOULDBLOCK)
		return kn_error(KN_EINVAL, "'%s' is in use by another knseg train; wait until it ends, "
				"or train into another --out", rl->dir);
	return kn_error(KN_EIO, "cannot lock '%s': %s", rl->dir, strerror(errno));
}

/* Removes what atomic writes of the run's files left when a run was killed (kill -9, a
 * crash, a power cut) in the middle of one; the lock makes sure no writer is busy. */
static void remove_temporaries(const struct runlog *rl)
{
	DIR *d = opendir(rl->dir);
	struct dirent *e;
	char path[4096];

	if (!d)
		return;
	while ((e = readdir(d))) {
		bool ours = atomic_is_temporary(e->d_name, "config.txt");

		for (size_t i = 0; !ours && i < sizeof(run_files) / sizeof(run_files[0]); i++)
			ours = atomic_is_temporary(e->d_name, run_files[i]);
		if (ours && snprintf(path, sizeof(path), "%s/%s", rl->dir, e->d_name) <
			    (int)sizeof(path))
			unlink(path);
	}
	closedir(d);
}

/* Rewrites log.csv with its rows up to step (atomically). */
static int cut_log(const struct runlog *rl, int64_t step)
{
	char path[4096], *line, *save = NULL;
	unsigned char *buf;
	size_t len, out_len = 0;
	char *out;
	int err;

	runlog_path(rl, "log.csv", path, sizeof(path));
	if (file_read_all(path, &buf, &len) < 0)
		return 0; /* no log yet: nothing to cut */
	out = xmalloc(len + sizeof(CSV_HEADER));
	memcpy(out, CSV_HEADER, sizeof(CSV_HEADER) - 1);
	out_len = sizeof(CSV_HEADER) - 1;
	for (line = strtok_r((char *)buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *end;
		long long s = strtoll(line, &end, 10);

		if (end == line || *end != ',' || s > step)
			continue;
		out_len += (size_t)sprintf(out + out_len, "%s\n", line);
	}
	err = atomic_write_file(path, out, out_len);
	free(out);
	free(buf);
	return err;
}

/*
 * Appends text to log.csv. A failed write (a full disk) is an error, not a warning: the
 * log is the record of the run, and a run that went on without it would lose rows
 * without anyone noticing. The part of a row that did reach the file is cut off again,
 * so that the log never holds half a row. A plain descriptor, not stdio: no buffer is
 * left over to be flushed later behind the cut.
 */
static int append(struct runlog *rl, const char *text)
{
	off_t start = lseek(rl->fd, 0, SEEK_END);
	size_t len = strlen(text), done = 0;
	char path[4096];
	int e = 0;

	while (done < len) {
		ssize_t n = write(rl->fd, text + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			e = n < 0 ? errno : ENOSPC;
			break;
		}
		done += (size_t)n;
	}
	if (!e)
		return 0;
	if (start >= 0 && done)
		(void)!ftruncate(rl->fd, start);
	runlog_path(rl, "log.csv", path, sizeof(path));
	return kn_error(KN_EIO, "cannot write '%s': %s", path, strerror(e));
}

int runlog_open(struct runlog *rl, const char *dir, bool resume, int64_t resume_step,
		bool force)
{
	char path[4096];
	bool existed;

	memset(rl, 0, sizeof(*rl));
	rl->fd = rl->lock_fd = -1;
	if (strlen(dir) >= sizeof(rl->dir))
		return kn_error(KN_EINVAL, "run folder name '%s' is too long", dir);
	strcpy(rl->dir, dir);
	snprintf(path, sizeof(path), "%s/x", dir);
	if (make_parent_dirs(path) < 0)
		return KN_EIO;
	if (lock_dir(rl) < 0)
		return KN_EINVAL;
	remove_temporaries(rl);
	existed = holds_run(dir);
	if (existed && !resume && !force)
		return kn_error(KN_EINVAL, "'%s' already holds a run (use --resume %s/last.safetensors, "
				"--force, or another --out)", dir, dir);
	if (resume && existed && cut_log(rl, resume_step) < 0)
		return KN_EIO;
	if (!resume && existed && remove_run_files(rl) < 0)
		return KN_EIO;
	runlog_path(rl, "log.csv", path, sizeof(path));
	rl->fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | (resume ? O_APPEND : O_TRUNC), 0666);
	if (rl->fd < 0)
		return kn_error(KN_EIO, "cannot open '%s': %s", path, strerror(errno));
	if (lseek(rl->fd, 0, SEEK_END) <= 0)
		return append(rl, CSV_HEADER);
	return 0;
}

void runlog_close(struct runlog *rl)
{
	if (rl->fd >= 0)
		close(rl->fd);
	if (rl->lock_fd >= 0)
		close(rl->lock_fd);
	rl->fd = rl->lock_fd = -1;
}

int runlog_write_config(const struct runlog *rl, const char *text, bool resume)
{
	char path[4096];
	unsigned char *old;
	size_t len, n = strlen(text);
	char *all;
	int err;

	runlog_path(rl, "config.txt", path, sizeof(path));
	if (!resume || file_read_all(path, &old, &len) < 0)
		return atomic_write_file(path, text, n);
	all = xmalloc(len + 1 + n);
	memcpy(all, old, len);
	all[len] = '\n';
	memcpy(all + len + 1, text, n);
	err = atomic_write_file(path, all, len + 1 + n);
	free(all);
	free(old);
	return err;
}

int runlog_row(struct runlog *rl, int64_t step, int64_t epoch, double loss, double lr,
	       double images_per_s, double miou, double epsilon)
{
	char row[256];
	int len = snprintf(row, sizeof(row), "%lld,%lld,%.6g,%.6g,%.4g,", (long long)step,
			   (long long)epoch, loss, lr, images_per_s);

	if (miou >= 0)
		len += snprintf(row + len, sizeof(row) - (size_t)len, "%.6f", miou);
	len += snprintf(row + len, sizeof(row) - (size_t)len, ",");
	if (epsilon >= 0)
		snprintf(row + len, sizeof(row) - (size_t)len, "%.6g", epsilon);
	strcat(row, "\n");
	return append(rl, row);
}

struct series {
	double *x, *y;
	int n, cap;
};

static void push(struct series *s, double x, double y)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 256;
		s->x = xrealloc(s->x, (size_t)s->cap * sizeof(double));
		s->y = xrealloc(s->y, (size_t)s->cap * sizeof(double));
	}
	s->x[s->n] = x;
	s->y[s->n] = y;
	s->n++;
}

/* Loss and mIoU points from the CSV text. */
static void read_series(char *text, struct series *loss, struct series *miou)
{
	char *line, *save = NULL;

	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		double step, epoch, l, lr, ips, m;
		int got = sscanf(line, "%lf,%lf,%lf,%lf,%lf,%lf", &step, &epoch, &l, &lr, &ips, &m);

		if (got >= 3 && isfinite(l))
			push(loss, step, l);
		if (got == 6)
			push(miou, step, m);
	}
}

#define SVG_W 720
#define SVG_H 360
#define PAD 50

static void polyline(FILE *f, const struct series *s, double xmax, double ymax,
		     const char *color)
{
	fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" points=\"", color);
	for (int i = 0; i < s->n; i++)
		fprintf(f, "%.1f,%.1f ", PAD + (SVG_W - 2 * PAD) * s->x[i] / xmax,
			SVG_H - PAD - (SVG_H - 2 * PAD) * fmin(s->y[i] / ymax, 1.0));
	fprintf(f, "\"/>\n");
}

static void draw(FILE *f, const struct series *loss, const struct series *miou)
{
	double xmax = 1, lmax = 1e-9;

	for (int i = 0; i < loss->n; i++) {
		xmax = fmax(xmax, loss->x[i]);
		lmax = fmax(lmax, loss->y[i]);
	}
	for (int i = 0; i < miou->n; i++)
		xmax = fmax(xmax, miou->x[i]);
	fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
		   "font-family=\"sans-serif\" font-size=\"12\">\n", SVG_W, SVG_H);
	fprintf(f, "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
	fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" "
		   "stroke=\"#888\"/>\n", PAD, PAD, SVG_W - 2 * PAD, SVG_H - 2 * PAD);
	polyline(f, loss, xmax, lmax, "#1f77b4");
	polyline(f, miou, xmax, 1.0, "#d62728");
	fprintf(f, "<text x=\"%d\" y=\"%d\" fill=\"#1f77b4\">loss (0 .. %.3g)</text>\n", PAD,
		PAD - 10, lmax);
	fprintf(f, "<text x=\"%d\" y=\"%d\" fill=\"#d62728\" text-anchor=\"end\">val mIoU "
		   "(0 .. 1)</text>\n", SVG_W - PAD, PAD - 10);
	fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">iteration (0 .. %.0f)</text>\n",
		SVG_W / 2, SVG_H - PAD / 3, xmax);
	fprintf(f, "</svg>\n");
}

int runlog_plot(const struct runlog *rl)
{
	struct series loss = {0}, miou = {0};
	struct atomic_file af;
	char path[4096];
	unsigned char *text;
	size_t len;
	int err;

	runlog_path(rl, "log.csv", path, sizeof(path));
	if ((err = file_read_all(path, &text, &len)) < 0)
		return err;
	read_series((char *)text, &loss, &miou);
	free(text);
	runlog_path(rl, "curve.svg", path, sizeof(path));
	if ((err = atomic_open(&af, path)) == 0) {
		draw(af.f, &loss, &miou);
		err = atomic_commit(&af);
	}
	free(loss.x), free(loss.y), free(miou.x), free(miou.y);
	return err;
}
