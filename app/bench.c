/*
 * knseg bench: times the forward pass (inference model) and the training step (forward,
 * loss, backward, SGD update) of a network on random data, after a warm-up, and prints
 * medians, GFLOP/s and peak memory. --json FILE writes one object for scripts (- for
 * standard output).
 *
 * GFLOP/s counts the forward FLOPs of graph_flops(); a training step is counted as three
 * forward passes (the backward pass computes two products per forward one: the input
 * and the weight gradients), the usual convention.
 */
#include "app/commands.h"
#include "app/dist.h"
#include "app/options.h"
#include "io/alloc.h"
#include "io/atomic.h"
#include "io/clock.h"
#include "io/error.h"
#include "io/rng.h"
#include "nets/gemm.h"
#include "nets/model.h"
#include "nets/optim.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

enum bench_only { BENCH_BOTH, BENCH_TRAIN, BENCH_EVAL };

struct bench_opts {
	struct net_config cfg;
	int batch, w, h, threads, iters, warmup;
	int ranks, local_batch; /* an MPI job: the batch is shared among the ranks */
	double bucket_mb;
	int only; /* enum bench_only */
	const char *json;
	bool skip_train, skip_eval, ops;
};

struct bench_result {
	double fwd_s, train_s, gflop;
	double sum_s, wait_s; /* several ranks: one sum of the gradients; its exposed wait */
	size_t grad_bytes;    /* the gradients a step sums over the ranks */
	size_t eval_bytes, train_bytes;
	long rss_eval_kb, rss_train_kb;
};

_Static_assert(BENCH_BOTH == 0 && BENCH_TRAIN == 1 && BENCH_EVAL == 2,
	       "--only's words are in enum bench_only's order");

#define F(m) offsetof(struct bench_opts, m)
static const struct opt bench_opts_table[] = {
	NET_OPTS(struct bench_opts, cfg, "fcn"),
	{"classes", OPT_INT, F(cfg.num_classes), .lo = 1, .hi = 255, .def = "19", .arg = "K",
	 .help = "classes"},
	{"batch", OPT_INT, F(batch), .lo = 1, .hi = OPT_BATCH_MAX, .def = "2", .arg = "N",
	 .help = "images per batch"},
	{"size", OPT_SIZE, F(w), F(h), .lo = 32, .hi = 8192, .def = "512x256", .arg = "WxH",
	 .help = "input size, multiples of 32"},
	THREADS_OPT(struct bench_opts, threads),
	{"iters", OPT_INT, F(iters), .lo = 1, .hi = 1000, .def = "5", .arg = "N",
	 .help = "timed repetitions of each"},
	{"warmup", OPT_INT, F(warmup), .lo = 0, .hi = 1000, .def = "1", .arg = "N",
	 .help = "untimed repetitions before them"},
	{"bucket-mb", OPT_DOUBLE, F(bucket_mb), .lo = 0, .hi = 4096, .def = "8", .arg = "M",
	 .help = "several processes: gradients sent in buckets of M MB during the\n"
		 "backward pass (0: in one sum after it)"},
	{"only", OPT_WORD, F(only), .words = "both|train|eval", .def = "both", .arg = "X",
	 .help = "time only the training step (train) or the forward pass (eval)"},
	{"ops", OPT_FLAG, F(ops), .help = "also print the time of each kind of op and of every layer"},
	{"json", OPT_STRING, F(json), .arg = "FILE",
	 .help = "also write the results as one JSON object (- for standard\n"
		 "output, in place of the text)"},
	{0},
};
#undef F

static const struct opt_command bench_command = {
	"bench",
	"usage: knseg bench [--arch A] [--head H] [--width W] [--batch N] [--size WxH]\n"
	"                   [--classes K] [--threads N] [--iters N] [--warmup N]\n"
	"                   [--only train|eval] [--ops] [--json FILE]\n\n"
	"Times the inference forward pass and the training step (forward, loss, backward,\n"
	"SGD update) on random data and prints the medians, GFLOP/s and peak memory.\n"
	"Under mpirun (knseg-mpi) the batch is shared among the processes and the step\n"
	"includes the sum of the gradients over them, as in knseg train.\n",
	bench_opts_table,
	false,
};

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

	if (model_create(&m, &o->cfg, o->local_batch, o->h, o->w, MODEL_EVAL) < 0)
		return -1;
	model_init_weights(m, 1);
	fill_random(m, 2);
	for (int i = 0; i < o->warmup + o->iters; i++) {
		double t0;

		if (o->ops && i == o->warmup)
			op_times_start(m, &ops);
		(void)dist_any(false); /* the ranks start together */
		t0 = kn_seconds();
		model_forward(m);
		(void)dist_any(false);
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
	double *w = xmalloc((size_t)o->iters * sizeof(double));
	struct dist_grads sync;
	const struct graph_value *out;
	uint8_t *labels;
	float *state;
	size_t npix;
	struct rng r;

	if (model_create(&m, &o->cfg, o->local_batch, o->h, o->w, MODEL_TRAIN) < 0)
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
	m->grads_ready = o->ranks > 1 ? dist_grads_ready : NULL;
	m->grads_ctx = &sync;
	for (int i = 0; i < o->warmup + o->iters; i++) {
		double t0, t1, wsum;

		if (o->ops && i == o->warmup)
			op_times_start(m, &ops);
		(void)dist_any(false); /* the ranks start together */
		t0 = kn_seconds();
		m->step = i;
		model_forward(m);
		wsum = model_label_weight(m, labels, NULL);
		dist_sum_doubles(&wsum, 1);
		dist_grads_begin(&sync, m->grads, m->g.param_count,
				 (size_t)(o->bucket_mb * 1048576 / sizeof(float)));
		model_backward_over(m, labels, NULL, wsum);
		t1 = kn_seconds();
		dist_grads_end(&sync);
		optim_step(&opt, m->params, m->grads);
		if (i >= o->warmup) {
			t[i - o->warmup] = kn_seconds() - t0;
			w[i - o->warmup] = kn_seconds() - t1;
		}
	}
	if (o->ranks > 1) {
		res->wait_s = median(w, o->iters);
		for (int i = 0; i < o->iters; i++) {
			(void)dist_any(false);
			w[i] = kn_seconds();
			dist_sum_floats(m->grads, m->g.param_count);
			w[i] = kn_seconds() - w[i];
		}
		res->sum_s = median(w, o->iters);
	}
	res->train_bytes = model_memory_bytes(m) + optim_state_floats(oc.kind, m->g.param_count) * 4;
	res->grad_bytes = m->g.param_count * sizeof(float);
	res->train_s = median(t, o->iters);
	if (o->ops)
		op_times_print(m, &ops, o->iters, mean(t, o->iters), "training step");
	res->rss_train_kb = peak_rss_kb();
	free(state);
	free(labels);
	model_destroy(m);
	free(t);
	free(w);
	return 0;
}

/* The results as one JSON line. */
static void json_text(const struct bench_opts *o, const struct bench_result *r, char *buf,
		      size_t size)
{
	snprintf(buf, size,
		 "{\"tool\": \"knseg\", \"arch\": \"%s\", \"head\": \"%s\", "
		 "\"width\": %g, \"batch\": %d, \"width_px\": %d, \"height_px\": %d, "
		 "\"threads\": %d, \"gflop_forward\": %.4f, \"forward_s\": %.6f, "
		 "\"train_step_s\": %.6f, \"forward_gflops\": %.2f, \"train_gflops\": %.2f, "
		 "\"eval_bytes\": %zu, \"train_bytes\": %zu, \"peak_rss_eval_kb\": %ld, "
		 "\"peak_rss_kb\": %ld, \"ranks\": %d, \"bucket_mb\": %g, "
		 "\"grad_bytes\": %zu, \"grad_sum_s\": %.6f, \"grad_wait_s\": %.6f}\n",
		 net_arch_name(o->cfg.arch), net_head_name(o->cfg.head), (double)o->cfg.width,
		 o->batch, o->w, o->h, o->threads, r->gflop, r->fwd_s, r->train_s,
		 r->fwd_s > 0 ? r->gflop / r->fwd_s : 0, r->train_s > 0 ? 3 * r->gflop / r->train_s : 0,
		 r->eval_bytes, r->train_bytes, r->rss_eval_kb, r->rss_train_kb, o->ranks,
		 o->bucket_mb, r->grad_bytes, r->sum_s, r->wait_s);
}

static void print_text(const struct bench_opts *o, const struct bench_result *r)
{
	printf("%s + %s, width %g, batch %d, %dx%d, %d thread%s, %.2f GFLOP per forward\n",
	       net_arch_name(o->cfg.arch), net_head_name(o->cfg.head), (double)o->cfg.width,
	       o->batch, o->w, o->h, o->threads, o->threads == 1 ? "" : "s", r->gflop);
	if (o->ranks > 1)
		printf("%d processes of %d images, %d thread%s each\n", o->ranks, o->local_batch,
		       o->threads, o->threads == 1 ? "" : "s");
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
	if (!o->skip_train && o->ranks > 1)
		printf("gradient sum:        %8.4f s median for one sum of all gradients; the step "
		       "waited %.4f s for it (buckets of %g MB)\n", r->sum_s, r->wait_s, o->bucket_mb);
}

/* The text unless the JSON goes to standard output; the JSON where --json says. */
static int print_result(const struct bench_opts *o, const struct bench_result *r)
{
	char json[1024];

	if (dist_rank() != 0)
		return 0;
	if (!opt_is_stdout(o->json))
		print_text(o, r);
	if (!o->json)
		return 0;
	json_text(o, r, json, sizeof(json));
	if (opt_is_stdout(o->json))
		return fputs(json, stdout) == EOF ? kn_error(KN_EIO, "cannot write to standard output")
						   : 0;
	return atomic_write_file(o->json, json, strlen(json));
}

static int parse(int argc, char **argv, struct bench_opts *o)
{
	int rc = opt_parse(&bench_command, argc, argv, o, NULL);

	if (rc)
		return rc;
	if (o->w % 32 || o->h % 32)
		return usage_error("bench", "--size %dx%d: sides must be multiples of 32", o->w, o->h);
	if (opt_is_stdout(o->json) && o->ops)
		return usage_error("bench", "--ops prints tables: write the JSON to a file");
	o->ranks = dist_size();
	if (o->batch % o->ranks)
		return usage_error("bench", "--batch %d cannot be split among %d processes",
				   o->batch, o->ranks);
	if (o->ops && o->ranks > 1)
		return usage_error("bench", "--ops times one process: start it without mpirun");
	o->local_batch = o->batch / o->ranks;
	o->skip_eval = o->only == BENCH_TRAIN;
	o->skip_train = o->only == BENCH_EVAL;
	return 0;
}

int cmd_bench(int argc, char **argv)
{
	struct bench_opts o = {.cfg = net_config_default(NET_KNRESNET18, NET_HEAD_FCN, 19)};
	struct bench_result r = {0};
	struct graph g;
	int rc = dist_same_command("bench", argc, argv);

	if (!rc)
		rc = parse(argc, argv, &o);
	if (rc)
		return rc < 0 ? 0 : rc;
	if (!o.threads)
		o.threads = dist_default_threads();
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
	return print_result(&o, &r) < 0 ? die("%s", kn_errmsg()) : 0;
}
