/*
 * knseg info: the layer table of a network (output shapes, parameters, forward GFLOPs)
 * and its totals, for an architecture given on the command line or a checkpoint's. A
 * checkpoint is loaded in full first, so that a file the other commands would refuse is
 * not described as sound.
 */
#include "app/args.h"
#include "app/commands.h"
#include "io/error.h"
#include "io/safetensors.h"
#include "nets/checkpoint.h"
#include "nets/graph.h"
#include "nets/knresnet.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

static void usage(FILE *out)
{
	fprintf(out,
		"usage: knseg info --arch A --head H [--width W] [--size WxH] [--classes K]\n"
		"                  [--batch N]\n"
		"       knseg info --checkpoint FILE [--size WxH] [--batch N]\n\n"
		"Prints every layer of the network with its output shape, parameters and forward\n"
		"GFLOPs (2 per multiply-add, for the whole batch), then the totals.\n\n"
		"  --arch A      knresnet18 | knresnet34 | knresnet50 (default knresnet18)\n"
		"  --head H      fcn | fpn (default fpn)\n"
		"  --width W     channel multiplier (default 1.0)\n"
		"  --size WxH    input size (default 1024x512); sides are padded to multiples of 32\n"
		"  --classes K   number of classes (default 19)\n"
		"  --batch N     images per batch (default 1)\n"
		"  --checkpoint FILE  take the network from a knseg checkpoint and also print\n"
		"                its metadata, after checking that every tensor loads\n");
}

static void kernel_desc(const struct graph_op *op, char *buf, size_t size)
{
	buf[0] = '\0';
	if (op->kind == OP_KNCONV || op->kind == OP_CONV || op->kind == OP_MAXPOOL)
		snprintf(buf, size, "%dx%d/%d pad %d,%d,%d,%d", op->kh, op->kw, op->sh,
			 op->pad[0], op->pad[1], op->pad[2], op->pad[3]);
}

static void print_table(const struct graph *g)
{
	double total_flops = graph_flops(g);
	size_t total_params = 0;

	printf("%-36s %-13s %-20s %-14s %10s %9s\n", "layer", "op", "kernel", "output", "params",
	       "GFLOPs");
	for (int i = 0; i < g->nops; i++) {
		const struct graph_op *op = &g->ops[i];
		const struct graph_value *v = &g->values[op->out];
		size_t params = 0;
		char kernel[40], shape[32];

		if (op->weight >= 0)
			params += g->params[op->weight].count;
		if (op->bias >= 0)
			params += g->params[op->bias].count;
		total_params += params;
		kernel_desc(op, kernel, sizeof(kernel));
		snprintf(shape, sizeof(shape), "%dx%dx%d", v->c, v->h, v->w);
		printf("%-36s %-13s %-20s %-14s %10zu %9.3f\n", op->name,
		       graph_op_kind_name(op->kind), kernel,
		       shape, params, graph_op_flops(g, op) / 1e9);
	}
	printf("\nparameters: %zu (%.2f M, %.1f MB as float32)\n", total_params,
	       total_params / 1e6, total_params * 4.0 / (1 << 20));
	printf("forward: %.3f GFLOPs for %d image%s of %dx%d\n", total_flops / 1e9, g->n,
	       g->n == 1 ? "" : "s", g->values[g->input].w, g->values[g->input].h);
}

/*
 * Prints a checkpoint's metadata and takes its network into cfg. Returns 0 to go on
 * with the layer table, -1 when done (a backbone file has no head to tabulate), or an
 * exit status.
 */
static int describe_checkpoint(const char *path, struct net_config *cfg)
{
	struct safetensors_file f;
	struct checkpoint_meta meta;
	size_t floats = 0;

	if (safetensors_read(path, &f) < 0)
		return die("%s", kn_errmsg());
	if (checkpoint_read_meta(&f, &meta) < 0 || checkpoint_verify(&f, &meta) < 0) {
		safetensors_free(&f);
		return die("%s", kn_errmsg());
	}
	for (size_t i = 0; i < f.n_tensors; i++)
		floats += f.tensors[i].count;
	printf("checkpoint %s: kind %s, %zu tensors, %zu values\n", path, meta.kind,
	       f.n_tensors, floats);
	safetensors_free(&f);
	if (!strcmp(meta.kind, "backbone")) {
		printf("backbone weights of %s at width %g\n", net_arch_name(meta.cfg.arch),
		       (double)meta.cfg.width);
		return -1;
	}
	printf("classes: %s\nmean %g,%g,%g  std %g,%g,%g  kn_eval %s  kn_p %g\n",
	       meta.classes, (double)meta.mean[0], (double)meta.mean[1], (double)meta.mean[2],
	       (double)meta.std[0], (double)meta.std[1], (double)meta.std[2],
	       knorm_mode_name(meta.kn_eval), (double)meta.cfg.p);
	*cfg = meta.cfg;
	return 0;
}

int cmd_info(int argc, char **argv)
{
	static const struct option opts[] = {
		{"arch", required_argument, 0, 'a'},    {"head", required_argument, 0, 'H'},
		{"width", required_argument, 0, 'w'},   {"size", required_argument, 0, 's'},
		{"classes", required_argument, 0, 'k'}, {"batch", required_argument, 0, 'b'},
		{"checkpoint", required_argument, 0, 'c'}, {"help", no_argument, 0, 'h'},
		{0, 0, 0, 0},
	};
	struct net_config cfg = net_config_default(NET_KNRESNET18, NET_HEAD_FPN, 19);
	const char *checkpoint = NULL;
	int w = 1024, h = 512, batch = 1, c, rc;
	double width = 1.0;
	struct graph g;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		rc = 0;
		switch (c) {
		case 'a':
			if (net_arch_parse(optarg, &cfg.arch) < 0)
				return usage_error("info", "%s", kn_errmsg());
			break;
		case 'H':
			if (net_head_parse(optarg, &cfg.head) < 0)
				return usage_error("info", "%s", kn_errmsg());
			break;
		case 'w':
			rc = arg_float("info", "--width", optarg, 0.01, 8, &width);
			break;
		case 's':
			rc = arg_size("info", "--size", optarg, 1, 16384, &w, &h);
			break;
		case 'k':
			rc = arg_int("info", "--classes", optarg, 1, 255, &cfg.num_classes);
			break;
		case 'b':
			rc = arg_int("info", "--batch", optarg, 1, 4096, &batch);
			break;
		case 'c':
			checkpoint = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			return usage_error("info", "unknown option");
		}
		if (rc)
			return rc;
	}
	if (optind < argc)
		return usage_error("info", "unexpected argument '%s'", argv[optind]);
	cfg.width = (float)width;
	if (checkpoint && (rc = describe_checkpoint(checkpoint, &cfg)) != 0)
		return rc < 0 ? 0 : rc;
	if (w % 32 || h % 32)
		printf("note: input %dx%d is padded to %dx%d\n", w, h, (w + 31) / 32 * 32,
		       (h + 31) / 32 * 32);
	if (net_build(&g, &cfg, batch, (h + 31) / 32 * 32, (w + 31) / 32 * 32) < 0)
		return die("%s", kn_errmsg());
	printf("%s + %s, width %g, %d classes\n\n", net_arch_name(cfg.arch),
	       net_head_name(cfg.head), (double)cfg.width, cfg.num_classes);
	print_table(&g);
	graph_free(&g);
	return 0;
}
