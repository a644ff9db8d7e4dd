/*
 * The files of a training run folder other than checkpoints:
 *   config.txt  the command line and the resolved configuration of the start, then of
 *               each resume
 *   log.csv     one row per logged iteration: step,epoch,loss,lr,images_per_s,val_miou
 *               (val_miou empty except on validation rows)
 *   curve.svg   the training loss and the validation mIoU against the iteration,
 *               drawn from log.csv whenever it is regenerated
 * config.txt and curve.svg are written atomically; log.csv is appended row by row (a row
 * that cannot be written in full is an error and leaves no part of it), and cut back to
 * the resumed step when a run resumes.
 */
#ifndef KNSEG_APP_RUNLOG_H
#define KNSEG_APP_RUNLOG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct runlog {
	char dir[3584];
	int fd;      /* log.csv, or -1 */
	int lock_fd; /* the folder, locked while the run lasts, or -1 */
};

/*
 * Prepares the run folder: creates it and locks it for this process (a folder another
 * run holds locked is refused); removes temporaries that a killed run's atomic writes
 * left; a folder that already holds a run is refused unless resuming or force. On resume, log.csv keeps its rows up to resume_step; with
 * force, the previous run's checkpoints, val.json, log.csv and curve.svg are removed
 * (other files in the folder are left alone).
 */
int runlog_open(struct runlog *rl, const char *dir, bool resume, int64_t resume_step,
		bool force);

/* Closes log.csv and releases the folder, when open (both -1 before runlog_open). */
void runlog_close(struct runlog *rl);

/* DIR/name into buf. */
void runlog_path(const struct runlog *rl, const char *name, char *buf, size_t size);

/* Writes config.txt; a resumed run adds text after the earlier runs' (a blank line
 * between), so the file keeps every command the run was started and resumed with. */
int runlog_write_config(const struct runlog *rl, const char *text, bool resume);

/* Appends a row; miou < 0 leaves val_miou empty, epsilon < 0 (a run without privacy)
 * the privacy spent. Fails (naming the file) when the row cannot be written in full; the
 * log then ends with the previous row. */
int runlog_row(struct runlog *rl, int64_t step, int64_t epoch, double loss, double lr,
	       double images_per_s, double miou, double epsilon);

/* Redraws curve.svg from log.csv. */
int runlog_plot(const struct runlog *rl);

#endif
