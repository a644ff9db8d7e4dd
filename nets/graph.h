/*
 * A network as a static list of operations (a tape) over numbered values.
 *
 * The builders in nets/knresnet.c describe a KNResNet backbone and a segmentation head as
 * a graph: parameters (with their checkpoint names and shapes), values (activation
 * shapes per image; the batch size is the graph's n) and operations in execution order.
 * Running the model is a loop over the ops; the backward pass is the same loop reversed.
 * The graph itself holds no floats: memory is planned from it (nets/model.c), and the
 * layer table of `knseg info` is printed from it.
 *
 * Ownership: graph_init/graph_free; every array belongs to the graph.
 */
#ifndef KNSEG_NETS_GRAPH_H
#define KNSEG_NETS_GRAPH_H

#include <stdbool.h>
#include <stddef.h>

enum op_kind {
	OP_KNCONV,   /* kernel normalized convolution (KNConv2d, or KNConv2d1x1 when 1x1) */
	OP_CONV,     /* plain convolution with bias */
	OP_KN1X1,    /* standalone KernelNorm 1x1 (no parameters) */
	OP_RELU,
	OP_MAXPOOL,
	OP_ADD,      /* out = in0 + in1 */
	OP_RESIZE,   /* bilinear, align_corners = false, to the output value's size */
};

/* The number of kinds: the last one + 1 (graph.c asserts that every kind has a name). */
#define OP_KIND_COUNT (OP_RESIZE + 1)

#define GRAPH_NAME_MAX 64

struct graph_value {
	int c, h, w;
};

struct graph_param {
	char name[GRAPH_NAME_MAX]; /* checkpoint name, e.g. "backbone.res_block1.conv1.weight" */
	int ndim;
	int dims[4];
	size_t count;  /* product of dims */
	size_t offset; /* position in the flat parameter array */
	float init_std; /* Kaiming-normal std for weights; 0 for biases (zero init) */
};

struct graph_op {
	enum op_kind kind;
	char name[GRAPH_NAME_MAX]; /* module name, e.g. "res_block1.conv1" */
	int in0, in1, out;         /* value ids; in1 = -1 unless OP_ADD */
	int weight, bias;          /* parameter ids, or -1 */
	int kh, kw, sh, sw;        /* conv, knconv, maxpool */
	int pad[4];                /* (left, right, top, bottom) */
	float p;                   /* KN statistics dropout probability while training */
};

struct graph {
	int n; /* images per batch */
	struct graph_value *values;
	int nvalues, cap_values;
	struct graph_op *ops;
	int nops, cap_ops;
	struct graph_param *params;
	int nparams, cap_params;
	size_t param_count; /* floats in all parameters */
	int input, output;  /* value ids */
	int taps[4];        /* backbone features C1..C4 (strides 4, 8, 16, 32), -1 if unset */
};

void graph_init(struct graph *g, int n);
void graph_free(struct graph *g);

/* Adds a value of shape (c, h, w) per image; returns its id. */
int graph_value(struct graph *g, int c, int h, int w);

/* Adds a parameter; dims has ndim entries. Returns its id. */
int graph_param(struct graph *g, const char *name, int ndim, const int *dims, float init_std);

/* Appends an op (copied) and returns its index. */
int graph_op(struct graph *g, const struct graph_op *op);

/* "knconv", "conv", "kernelnorm1x1", "relu", "maxpool", "add", "resize". */
const char *graph_op_kind_name(enum op_kind kind);

/* Forward floating-point operations of one op for the whole batch (2 per multiply-add). */
double graph_op_flops(const struct graph *g, const struct graph_op *op);

/* Sum over all ops. */
double graph_flops(const struct graph *g);

/* The parameter of this name, or -1. */
int graph_find_param(const struct graph *g, const char *name);

#endif
