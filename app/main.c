/*
 * knseg: the program entry point and its table of subcommands (git style:
 * `knseg <command> [options]`). Each command is in app/<command>.c.
 */
#include "app/commands.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define KNSEG_VERSION "0.1.0"

static int cmd_version(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	printf("knseg %s\n", KNSEG_VERSION);
	return 0;
}

static const struct command commands[] = {
	{"train", "train a network on a dataset", cmd_train},
	{"info", "print the layer table of a network", cmd_info},
	{"bench", "time the forward pass and the training step", cmd_bench},
	{"predict", "segment images and write masks", cmd_predict},
	{"eval", "score a checkpoint on a dataset split", cmd_eval},
	{"score", "score existing prediction masks on a dataset split", cmd_score},
	{"data", "inspect a dataset: sizes, class pixel shares, bad files", cmd_data},
	{"synth", "write a synthetic street-scene dataset", cmd_synth},
	{"version", "print the version", cmd_version},
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

void put_escaped(FILE *out, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '\n')
			fputs("\\n", out);
		else if (c < 0x20 || c == 0x7f)
			fprintf(out, "\\x%02x", c);
		else
			fputc(c, out);
	}
}

/* prefix, the message from fmt with control characters escaped, then suffix. */
static void put_message(const char *prefix, const char *suffix, const char *fmt, va_list ap)
{
	va_list ap2;
	int n;
	char *msg;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	msg = malloc(n < 0 ? 1 : (size_t)n + 1);
	if (!msg || n < 0) {
		fprintf(stderr, "%sout of memory%s", prefix, suffix);
		free(msg);
		return;
	}
	vsnprintf(msg, (size_t)n + 1, fmt, ap);
	fputs(prefix, stderr);
	put_escaped(stderr, msg);
	fputs(suffix, stderr);
	free(msg);
}

int die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	put_message("knseg: ", "\n", fmt, ap);
	va_end(ap);
	return 1;
}

int usage_error(const char *cmd, const char *fmt, ...)
{
	char prefix[64], suffix[64];
	va_list ap;

	snprintf(prefix, sizeof(prefix), "knseg %s: ", cmd);
	snprintf(suffix, sizeof(suffix), " (see 'knseg %s --help')\n", cmd);
	va_start(ap, fmt);
	put_message(prefix, suffix, fmt, ap);
	va_end(ap);
	return 2;
}

static void print_usage(FILE *out)
{
	fprintf(out, "usage: knseg <command> [options]\n\n"
		     "Semantic segmentation with kernel-normalized networks.\n\ncommands:\n");
	for (size_t i = 0; i < NCOMMANDS; i++)
		fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fprintf(out, "\n'knseg <command> --help' describes a command's options.\n");
}

/*
 * How OpenMP threads wait for work. Spinning without end (the runtime's active policy,
 * and its default of 300000 spins is close to that) stalls badly when the machine is
 * shared: with two other busy processes on the 2 cores, a training step of a small
 * network (knseg bench --width 0.125 --size 256x128 --batch 4 --head fpn) took 4.8 s
 * active and 5.4 s with 300000 spins. Sleeping at once (passive) is robust but pays a
 * wake-up at every parallel region: 2.3 s there, and on the idle machine 0.058 s where
 * spinning takes 0.035 s. A short spin before sleeping is best in both cases: 30000
 * spins gave 1.0 s loaded and 0.035 s idle, and 2-3 % off the reference workload's step.
 * The runtime reads its settings when it loads, before main, so knseg sets
 * GOMP_SPINCOUNT and runs itself again; a setting of the user's own (GOMP_SPINCOUNT, or
 * OMP_WAIT_POLICY, e.g. active on a dedicated machine) is left alone.
 */
static void prefer_short_spinning(char **argv)
{
	if (getenv("GOMP_SPINCOUNT") || getenv("OMP_WAIT_POLICY"))
		return;
	if (setenv("GOMP_SPINCOUNT", "30000", 1) == 0)
		execv("/proc/self/exe", argv);
	/* execv failed: go on with the runtime's default. */
}

int main(int argc, char **argv)
{
	prefer_short_spinning(argv);
	if (argc < 2) {
		print_usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		print_usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version"))
		return cmd_version(0, NULL);
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "knseg: '%s' is not a command (see 'knseg --help')\n", argv[1]);
	return 2;
}
