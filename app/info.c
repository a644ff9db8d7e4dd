/*
 * knseg info: the layer table of a network (output shapes, parameters, forward GFLOPs)
 * and its totals, for an architecture given on the command line or a checkpoint's. A
 * checkpoint is loaded in full first, so that a file the other commands would refuse is
 * not described as sound.
 */
#include "app/commands.h"
#include "app/options.h"
#include "io/error.h"
#include "io/safetensors.h"
#include "nets/checkpoint.h"
#include "nets/graph.h"
#include "nets/knresnet.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

struct info_cmd {
	struct net_config net;
	const char *checkpoint;
	int w, h, batch;
};

#define F(m) offsetof(struct info_cmd, m)
static const struct opt info_opts[] = {
	NET_OPTS(struct info_cmd, net, "fpn"),
	{"classes", OPT_INT, F(net.num_classes), .lo = 1, .hi = 255, .def = "19", .arg = "K",
	 .help = "number of classes"},
	{"size", OPT_SIZE, F(w), F(h), .lo = 1, .hi = 16384, .def = "1024x512", .arg = "WxH",
	 .help = "input size; sides are padded to multiples of 32"},
	{"batch", OPT_INT, F(batch), .lo = 1, .hi = OPT_BATCH_MAX, .def = "1", .arg = "N",
	 .help = "images per batch"},
	{"checkpoint", OPT_STRING, F(checkpoint), .arg = "FILE",
	 .help = "take the network from a knseg checkpoint and also print its\n"
		 "metadata, after checking that every tensor loads"},
	{0},
};
#undef F

static const struct opt_command info_command = {
	"info",
	"usage: knseg info --arch A --head H [--width W] [--size WxH] [--classes K]\n"
	"                  [--batch N]\n"
	"       knseg info --checkpoint FILE [--size WxH] [--batch N]\n\n"
	"Prints every layer of the network with its output shape, parameters and forward\n"
	"GFLOPs (2 per multiply-add, for the whole batch), then the totals.\n",
	info_opts,
	false,
};

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
	struct info_cmd o;
	struct net_config cfg;
	struct graph g;
	int w, h, rc;

	memset(&o, 0, sizeof(o));
	o.net = net_config_default(NET_KNRESNET18, NET_HEAD_FPN, 19);
	if ((rc = opt_parse(&info_command, argc, argv, &o, NULL)))
		return rc < 0 ? 0 : rc;
	/* Other fields (the statistics dropout) keep the network's defaults. */
	cfg = o.net;
	if (o.checkpoint && (rc = describe_checkpoint(o.checkpoint, &cfg)) != 0)
		return rc < 0 ? 0 : rc;
	w = (o.w + 31) / 32 * 32;
	h = (o.h + 31) / 32 * 32;
	if (w != o.w || h != o.h)
		printf("note: input %dx%d is padded to %dx%d\n", o.w, o.h, w, h);
	if (net_build(&g, &cfg, o.batch, h, w) < 0)
		return die("%s", kn_errmsg());
	printf("%s + %s, width %g, %d classes\n\n", net_arch_name(cfg.arch),
	       net_head_name(cfg.head), (double)cfg.width, cfg.num_classes);
	print_table(&g);
	graph_free(&g);
	return 0;
}
