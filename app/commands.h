/*
 * The knseg subcommands. Each lives in its own app/<name>.c and has the signature of
 * struct command's run: it parses its own options, prints its own --help, and returns
 * the process exit status (0 success, 1 failure with a one-line message already printed,
 * 2 bad usage).
 */
#ifndef KNSEG_APP_COMMANDS_H
#define KNSEG_APP_COMMANDS_H

#include <stdbool.h>
#include <stdio.h>

struct command {
	const char *name;
	const char *summary;
	int (*run)(int argc, char **argv);
	bool distributed; /* runs as the ranks of an MPI job too (app/dist.h) */
};

int cmd_info(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_predict(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_score(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_data(int argc, char **argv);
int cmd_synth(int argc, char **argv);
int cmd_export(int argc, char **argv);

/*
 * Writes s with a newline as the two characters \n and other control bytes as \xNN, so
 * a file name cannot break a message over lines.
 */
void put_escaped(FILE *out, const char *s);

/* Prints "knseg: <message>" (escaped as by put_escaped) to stderr and returns 1 (for
 * `return die(...)`). */
int die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Prints "knseg <cmd>: <message>" (escaped) and a hint to see --help; returns 2. */
int usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
