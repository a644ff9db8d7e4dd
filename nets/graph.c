/* The network tape: values, parameters, ops and their FLOP counts. See graph.h. */
#include "nets/graph.h"
#include "io/alloc.h"
#include "io/arena.h"
#include "io/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void graph_init(struct graph *g, int n)
{
	CHECK(n >= 1);
	memset(g, 0, sizeof(*g));
	g->n = n;
	g->input = g->output = -1;
	for (int i = 0; i < 4; i++)
		g->taps[i] = -1;
}

void graph_free(struct graph *g)
{
	free(g->values);
	free(g->ops);
	free(g->params);
	memset(g, 0, sizeof(*g));
}

/* Grows *arr (of *cap elements of size elem) so that it holds at least need elements. */
static void *grow(void *arr, int *cap, int need, size_t elem)
{
	if (need <= *cap)
		return arr;
	*cap = *cap ? 2 * *cap : 64;
	if (*cap < need)
		*cap = need;
	return xrealloc(arr, (size_t)*cap * elem);
}

int graph_value(struct graph *g, int c, int h, int w)
{
	CHECK(c >= 1 && h >= 1 && w >= 1);
	g->values = grow(g->values, &g->cap_values, g->nvalues + 1, sizeof(*g->values));
	g->values[g->nvalues] = (struct graph_value){c, h, w};
	return g->nvalues++;
}

int graph_param(struct graph *g, const char *name, int ndim, const int *dims, float init_std)
{
	struct graph_param *p;

	CHECK(ndim >= 1 && ndim <= 4 && strlen(name) < GRAPH_NAME_MAX);
	CHECK(graph_find_param(g, name) < 0);
	g->params = grow(g->params, &g->cap_params, g->nparams + 1, sizeof(*g->params));
	p = &g->params[g->nparams];
	memset(p, 0, sizeof(*p));
	strcpy(p->name, name);
	p->ndim = ndim;
	p->count = 1;
	for (int i = 0; i < ndim; i++) {
		CHECK(dims[i] >= 1);
		p->dims[i] = dims[i];
		p->count *= (size_t)dims[i];
	}
	p->init_std = init_std;
	/* Every parameter tensor starts 64-byte aligned, as arena pieces do. */
	p->offset = arena_round(g->param_count);
	g->param_count = p->offset + p->count;
	return g->nparams++;
}

int graph_op(struct graph *g, const struct graph_op *op)
{
	CHECK(op->in0 >= 0 && op->in0 < g->nvalues && op->out >= 0 && op->out < g->nvalues);
	CHECK(op->in1 < g->nvalues);
	g->ops = grow(g->ops, &g->cap_ops, g->nops + 1, sizeof(*g->ops));
	g->ops[g->nops] = *op;
	return g->nops++;
}

static double value_size(const struct graph_value *v)
{
	return (double)v->c * v->h * v->w;
}

const char *graph_op_kind_name(enum op_kind kind)
{
	static const char *const names[] = {
		[OP_KNCONV] = "knconv", [OP_CONV] = "conv",       [OP_KN1X1] = "kernelnorm1x1",
		[OP_RELU] = "relu",     [OP_MAXPOOL] = "maxpool", [OP_ADD] = "add",
		[OP_RESIZE] = "resize",
	};
	_Static_assert(sizeof(names) / sizeof(names[0]) == OP_KIND_COUNT, "a name per op kind");

	CHECK((unsigned)kind < sizeof(names) / sizeof(names[0]));
	return names[kind];
}

/*
 * Convolutions count 2 flops per multiply-add. KNConv adds its statistics (a square and
 * two sums per padded input element, a handful per output element); the elementwise ops
 * count one to a few per element. These small terms keep GFLOP/s honest, they do not
 * change the totals much: the convolutions dominate.
 */
double graph_op_flops(const struct graph *g, const struct graph_op *op)
{
	const struct graph_value *in = &g->values[op->in0], *out = &g->values[op->out];
	double per_image = 0;

	switch (op->kind) {
	case OP_KNCONV:
	case OP_CONV:
		per_image = 2.0 * in->c * op->kh * op->kw * value_size(out);
		per_image += 4.0 * value_size(out);
		if (op->kind == OP_KNCONV)
			per_image += 3.0 * in->c * (in->h + op->pad[2] + op->pad[3]) *
				     (in->w + op->pad[0] + op->pad[1]);
		break;
	case OP_KN1X1:
		per_image = 6.0 * value_size(out);
		break;
	case OP_RELU:
	case OP_ADD:
		per_image = value_size(out);
		break;
	case OP_MAXPOOL:
		per_image = (double)op->kh * op->kw * value_size(out);
		break;
	case OP_RESIZE:
		per_image = 8.0 * value_size(out);
		break;
	}
	return per_image * g->n;
}

double graph_flops(const struct graph *g)
{
	double sum = 0;

	for (int i = 0; i < g->nops; i++)
		sum += graph_op_flops(g, &g->ops[i]);
	return sum;
}

int graph_find_param(const struct graph *g, const char *name)
{
	for (int i = 0; i < g->nparams; i++)
		if (!strcmp(g->params[i].name, name))
			return i;
	return -1;
}
