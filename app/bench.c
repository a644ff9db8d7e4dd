/*
 * knseg bench: times the forward pass (inference model) and the training step (forward,
 * loss, backward, SGD update) of a network on random data, after a warm-up, and prints
 * medians, GFLOP/s and peak memory. --json prints one object for scripts.
 *
 * GFLOP/s counts the forward FLOPs of graph_flops(); a training step is counted as three
 * forward passes (the backward pass computes two products per forward one: the input
 * and the weight gradients), the usual convention.
 */
#include "app/args.h"
#include "app/commands.h"
#include "io/alloc.h"
#include "io/clock.h"
#include "io/error.h"
#include "nets/gemm.h"
#include "nets/model.h"
#include "nets/optim.h"
#include "io/rng.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

struct bench_opts {
	struct net_config cfg;
	int batch, w, h, threads, iters, warmup;
	bool json, skip_train, skip_eval, ops;
};

struct bench_result {
	double fwd_s, train_s, gflop;
	size_t eval_bytes, train_bytes;
	long rss_eval_kb, rss_train_kb;
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: knseg bench [--arch A] [--head H] [--width W] [--batch N] [--size WxH]\n"
		"                   [--classes K] [--threads N] [--iters N] [--warmup N]\n"
		"                   [--only train|eval] [--ops] [--json]\n\n"
		"Times the inference forward pass and the training step (forward, loss, backward,\n"
		"SGD update) on random data and prints the medians, GFLOP/s and peak memory.\n\n"
		"  --arch A      knresnet18 | knresnet34 | knresnet50 (default knresnet18)\n"
		"  --head H      fcn | fpn (default fcn)\n"
		"  --width W     channel multiplier (default 1.0)\n"
		"  --batch N     images per batch (default 2)\n"
		"  --size WxH    input size, multiples of 32 (default 512x256)\n"
		"  --classes K   classes (default 19)\n"
		"  --threads N   threads (default: all cores)\n"
		"  --iters N     timed repetitions of each (default 5), after --warmup N (default 1)\n"
		"  --only X      time only the training step or only the forward pass\n"
		"  --ops         also print the time of each kind of op and of every layer\n"
		"  --json        print one JSON object\n");
}

static long peak_rss_kb(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double mean(const double *t, int n)
{
	double sum = 0;

	for (int i = 0; i < n; i++)
		sum += t[i];
	return sum / n;
}

static double median(double *t, int n)
{
	qsort(t, (size_t)n, sizeof(double), cmp_double);
	return n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
}

static void fill_random(struct model *m, uint64_t seed)
{
	const struct graph_value *in = &m->g.values[m->g.input];
	size_t count = (size_t)m->n * in->c * in->h * in->w;
	float *x = model_input(m);
	struct rng r;

	rng_init(&r, seed);
	for (size_t i = 0; i < count; i++)
		x[i] = (float)rng_normal(&r);
}

struct op_times {
	double *fwd, *bwd; /* per op, summed over the timed iterations */
};

static void op_times_start(struct model *m, struct op_times *t)
{
	t->fwd = xcalloc((size_t)m->g.nops, sizeof(double));
	t->bwd = xcalloc((size_t)m->g.nops, sizeof(double));
	m->fwd_seconds = t->fwd;
	m->bwd_seconds = m->mode == MODEL_TRAIN ? t->bwd : NULL;
}

/*
 * Mean milliseconds per iteration of each kind of op; the rest of the step (loss,
 * optimizer, zeroing) is what the ops do not account for. step_s is the mean time of the
 * timed iterations.
 */
static void op_kinds_print(const struct model *m, const struct op_times *t, int iters,
			   double step_s, const char *what)
{
	double kind_f[OP_KIND_COUNT] = {0}, kind_b[OP_KIND_COUNT] = {0}, sum = 0;
	int count[OP_KIND_COUNT] = {0};

	for (int i = 0; i < m->g.nops; i++) {
		enum op_kind k = m->g.ops[i].kind;

		kind_f[k] += t->fwd[i];
		kind_b[k] += t->bwd[i];
		count[k]++;
		sum += t->fwd[i] + t->bwd[i];
	}
	printf("\n%s, mean ms per iteration:\n%-14s %5s %9s %9s %6s\n", what, "op", "count",
	       "forward", "backward", "share");
	for (int k = 0; k < OP_KIND_COUNT; k++) {
		if (count[k])
			printf("%-14s %5d %9.2f %9.2f %5.1f%%\n", graph_op_kind_name(k), count[k],
			       1e3 * kind_f[k] / iters, 1e3 * kind_b[k] / iters,
			       100 * (kind_f[k] + kind_b[k]) / iters / step_s);
	}
	printf("%-14s %5s %9s %9s %5.1f%%\n", "rest", "", "", "",
	       100 * (1 - sum / iters / step_s));
}

/* Every layer, slowest first: mean ms and GFLOP/s of forward and backward. */
static void op_layers_print(const struct model *m, const struct op_times *t, int iters)
{
	int *order = xmalloc((size_t)m->g.nops * sizeof(int));

	for (int i = 0; i < m->g.nops; i++)
		order[i] = i;
	/* Insertion sort by total time. */
	for (int i = 1; i < m->g.nops; i++) {
		for (int j = i; j > 0; j--) {
			int a = order[j - 1], b = order[j];

			if (t->fwd[a] + t->bwd[a] >= t->fwd[b] + t->bwd[b])
				break;
			order[j - 1] = b;
			order[j] = a;
		}
	}
	printf("layers, slowest first (ms forward, backward; GFLOP/s forward, backward):\n");
	for (int i = 0; i < m->g.nops; i++) {
		const struct graph_op *op = &m->g.ops[order[i]];
		double f = t->fwd[order[i]] / iters, b = t->bwd[order[i]] / iters;
		double gflop = graph_op_flops(&m->g, op) / 1e9;

		printf("  %-34s %-13s %9.2f %9.2f %7.1f", op->name, graph_op_kind_name(op->kind),
		       1e3 * f, 1e3 * b, f > 0 ? gflop / f : 0.0);
		if (b > 0)
			printf(" %7.1f", 2 * gflop / b);
		printf("\n");
	}
	free(order);
}

/* Prints both tables and stops the timing. */
static void op_times_print(struct model *m, struct op_times *t, int iters, double step_s,
			   const char *what)
{
	op_kinds_print(m, t, iters, step_s, what);
	op_layers_print(m, t, iters);
	m->fwd_seconds = m->bwd_seconds = NULL;
	free(t->fwd);
	free(t->bwd);
}

static int time_eval(const struct bench_opts *o, struct bench_result *res)
{
	struct model *m;
	struct op_times ops;
	double *t = xmalloc((size_t)o->iters * sizeof(double));

	if (model_create(&m, &o->cfg, o->batch, o->h, o->w, MODEL_EVAL) < 0)
		return -1;
	model_init_weights(m, 1);
	fill_random(m, 2);
	for (int i = 0; i < o->warmup + o->iters; i++) {
		double t0;

		if (o->ops && i == o->warmup)
			op_times_start(m, &ops);
		t0 = kn_seconds();
		model_forward(m);
		if (i >= o->warmup)
			t[i - o->warmup] = kn_seconds() - t0;
	}
	res->eval_bytes = model_memory_bytes(m);
	res->fwd_s = median(t, o->iters);
	if (o->ops)
		op_times_print(m, &ops, o->iters, mean(t, o->iters), "forward (inference)");
	res->rss_eval_kb = peak_rss_kb();
	model_destroy(m);
	free(t);
	return 0;
}

static int time_train(const struct bench_opts *o, struct bench_result *res)
{
	struct model *m;
	struct optim opt;
	struct optim_config oc = optim_sgd_config(0.01, 0.9, 5e-4, false);
	struct op_times ops;
	double *t = xmalloc((size_t)o->iters * sizeof(double));
	const struct graph_value *out;
	uint8_t *labels;
	float *state;
	size_t npix;
	struct rng r;

	if (model_create(&m, &o->cfg, o->batch, o->h, o->w, MODEL_TRAIN) < 0)
		return -1;
	model_init_weights(m, 1);
	fill_random(m, 2);
	out = &m->g.values[m->g.output];
	npix = (size_t)m->n * out->h * out->w;
	labels = xmalloc(npix);
	rng_init(&r, 3);
	for (size_t i = 0; i < npix; i++)
		labels[i] = (uint8_t)rng_below(&r, (uint64_t)out->c);
	state = xmalloc_aligned(optim_state_floats(oc.kind, m->g.param_count) * sizeof(float));
	optim_init(&opt, &oc, m->g.param_count, state, NULL);
	for (int i = 0; i < o->warmup + o->iters; i++) {
		double t0;

		if (o->ops && i == o->warmup)
			op_times_start(m, &ops);
		t0 = kn_seconds();
		m->step = i;
		model_forward(m);
		model_backward(m, labels, NULL);
		optim_step(&opt, m->params, m->grads);
		if (i >= o->warmup)
			t[i - o->warmup] = kn_seconds() - t0;
	}
	res->train_bytes = model_memory_bytes(m) + optim_state_floats(oc.kind, m->g.param_count) * 4;
	res->train_s = median(t, o->iters);
	if (o->ops)
		op_times_print(m, &ops, o->iters, mean(t, o->iters), "training step");
	res->rss_train_kb = peak_rss_kb();
	free(state);
	free(labels);
	model_destroy(m);
	free(t);
	return 0;
}

static void print_result(const struct bench_opts *o, const struct bench_result *r)
{
	const char *arch = net_arch_name(o->cfg.arch), *head = net_head_name(o->cfg.head);

	if (o->json) {
		printf("{\"tool\": \"knseg\", \"arch\": \"%s\", \"head\": \"%s\", "
		       "\"width\": %g, \"batch\": %d, \"width_px\": %d, \"height_px\": %d, "
		       "\"threads\": %d, \"gflop_forward\": %.4f, \"forward_s\": %.6f, "
		       "\"train_step_s\": %.6f, \"forward_gflops\": %.2f, \"train_gflops\": %.2f, "
		       "\"eval_bytes\": %zu, \"train_bytes\": %zu, \"peak_rss_eval_kb\": %ld, "
		       "\"peak_rss_kb\": %ld}\n",
		       arch, head, (double)o->cfg.width, o->batch, o->w, o->h, o->threads, r->gflop,
		       r->fwd_s, r->train_s, r->fwd_s > 0 ? r->gflop / r->fwd_s : 0,
		       r->train_s > 0 ? 3 * r->gflop / r->train_s : 0, r->eval_bytes,
		       r->train_bytes, r->rss_eval_kb, r->rss_train_kb);
		return;
	}
	printf("%s + %s, width %g, batch %d, %dx%d, %d thread%s, %.2f GFLOP per forward\n", arch,
	       head, (double)o->cfg.width, o->batch, o->w, o->h, o->threads,
	       o->threads == 1 ? "" : "s", r->gflop);
	if (!o->skip_eval)
		printf("forward (inference): %8.4f s median, %6.1f GFLOP/s, model memory %.0f MB, "
		       "peak RSS %.0f MB\n",
		       r->fwd_s, r->gflop / r->fwd_s, r->eval_bytes / 1048576.0,
		       r->rss_eval_kb / 1024.0);
	if (!o->skip_train)
		printf("training step:       %8.4f s median, %6.1f GFLOP/s, model memory %.0f MB, "
		       "peak RSS %.0f MB\n",
		       r->train_s, 3 * r->gflop / r->train_s, r->train_bytes / 1048576.0,
		       r->rss_train_kb / 1024.0);
}

static int parse(int argc, char **argv, struct bench_opts *o)
{
	static const struct option opts[] = {
		{"arch", required_argument, 0, 'a'},   {"head", required_argument, 0, 'H'},
		{"width", required_argument, 0, 'w'},  {"batch", required_argument, 0, 'b'},
		{"size", required_argument, 0, 's'},   {"classes", required_argument, 0, 'k'},
		{"threads", required_argument, 0, 't'}, {"iters", required_argument, 0, 'i'},
		{"warmup", required_argument, 0, 'u'}, {"only", required_argument, 0, 'o'},
		{"json", no_argument, 0, 'j'},         {"ops", no_argument, 0, 'O'},
		{"help", no_argument, 0, 'h'},
		{0, 0, 0, 0},
	};
	double width = 1.0;
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		rc = 0;
		switch (c) {
		case 'a':
			if (net_arch_parse(optarg, &o->cfg.arch) < 0)
				return usage_error("bench", "%s", kn_errmsg());
			break;
		case 'H':
			if (net_head_parse(optarg, &o->cfg.head) < 0)
				return usage_error("bench", "%s", kn_errmsg());
			break;
		case 'w':
			rc = arg_float("bench", "--width", optarg, 0.01, 8, &width);
			break;
		case 'b':
			rc = arg_int("bench", "--batch", optarg, 1, 1024, &o->batch);
			break;
		case 's':
			rc = arg_size("bench", "--size", optarg, 32, 8192, &o->w, &o->h);
			if (!rc && (o->w % 32 || o->h % 32))
				rc = usage_error("bench", "--size %s: sides must be multiples of 32", optarg);
			break;
		case 'k':
			rc = arg_int("bench", "--classes", optarg, 1, 255, &o->cfg.num_classes);
			break;
		case 't':
			rc = arg_int("bench", "--threads", optarg, 1, 1024, &o->threads);
			break;
		case 'i':
			rc = arg_int("bench", "--iters", optarg, 1, 1000, &o->iters);
			break;
		case 'u':
			rc = arg_int("bench", "--warmup", optarg, 0, 1000, &o->warmup);
			break;
		case 'o':
			if (!strcmp(optarg, "train"))
				o->skip_eval = true;
			else if (!strcmp(optarg, "eval"))
				o->skip_train = true;
			else
				rc = usage_error("bench", "--only '%s' is not train or eval", optarg);
			break;
		case 'j':
			o->json = true;
			break;
		case 'O':
			o->ops = true;
			break;
		case 'h':
			usage(stdout);
			return -1;
		default:
			return usage_error("bench", "unknown option");
		}
		if (rc)
			return rc;
	}
	if (optind < argc)
		return usage_error("bench", "unexpected argument '%s'", argv[optind]);
	if (o->json && o->ops)
		return usage_error("bench", "--ops prints tables: leave out --json");
	o->cfg.width = (float)width;
	return 0;
}

int cmd_bench(int argc, char **argv)
{
	struct bench_opts o = {net_config_default(NET_KNRESNET18, NET_HEAD_FCN, 19),
			       2, 512, 256, 0, 5, 1, false, false, false, false};
	struct bench_result r = {0};
	struct graph g;
	int rc = parse(argc, argv, &o);

	if (rc)
		return rc < 0 ? 0 : rc;
	if (o.threads)
		kn_set_threads(o.threads);
	o.threads = kn_get_threads();
	if (net_build(&g, &o.cfg, o.batch, o.h, o.w) < 0)
		return die("%s", kn_errmsg());
	r.gflop = graph_flops(&g) / 1e9;
	graph_free(&g);
	if (!o.skip_eval && time_eval(&o, &r) < 0)
		return die("%s", kn_errmsg());
	if (!o.skip_train && time_train(&o, &r) < 0)
		return die("%s", kn_errmsg());
	print_result(&o, &r);
	return 0;
}
