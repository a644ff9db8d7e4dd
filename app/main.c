/*
 * knseg: the program entry point and its table of subcommands (git style:
 * `knseg <command> [options]`). Each command is in app/<command>.c.
 */
#include "app/commands.h"
#include "app/dist.h"
#include "app/knseg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int cmd_version(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	printf("knseg %s\n", knseg_version());
	return 0;
}

static const struct command commands[] = {
	{"train", "train a network on a dataset", cmd_train, true},
	{"info", "print the layer table of a network", cmd_info, false},
	{"bench", "time the forward pass and the training step", cmd_bench, true},
	{"predict", "segment images and write masks", cmd_predict, false},
	{"eval", "score a checkpoint on a dataset split", cmd_eval, true},
	{"score", "score existing prediction masks on a dataset split", cmd_score, false},
	{"data", "inspect a dataset: sizes, class pixel shares, bad files", cmd_data, false},
	{"synth", "write a synthetic street-scene dataset", cmd_synth, false},
	{"export", "write a checkpoint as an ONNX model", cmd_export, false},
	{"version", "print the version", cmd_version, false},
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

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

/* Runs command c in the job (one process, or the ranks of mpirun). */
static int run(const struct command *c, int argc, char **argv)
{
	int rc = dist_init(&argc, &argv);

	if (rc)
		return rc;
	if (dist_size() > 1 && !c->distributed) {
		if (dist_rank() == 0)
			fprintf(stderr, "knseg %s runs as one process: start it without mpirun (train, "
				"eval and bench run on several)\n", c->name);
		rc = 2;
	} else {
		rc = c->run(argc - 1, argv + 1);
	}
	dist_finalize();
	return rc;
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
			return run(&commands[i], argc, argv);
	fprintf(stderr, "knseg: '%s' is not a command (see 'knseg --help')\n", argv[1]);
	return 2;
}
