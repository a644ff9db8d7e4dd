/*
 * ONNX export (nets/onnx.h): walks the network's graph and writes one ONNX node (or a
 * few) per op into a ModelProto, with the parameters as initializers.
 *
 * Field numbers are those of onnx.proto (ONNX 1.x, stable since IR version 3). The
 * writer emits each initializer just before the first node that reads it: a repeated
 * field may be interleaved with others on the wire, and parsers keep each field's
 * order, so the graph reads as it runs.
 */
#include "nets/onnx.h"

#include "io/alloc.h"
#include "io/error.h"
#include "io/pbuf.h"
#include "nets/graph.h"
#include "nets/kernelnorm.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* onnx.proto field numbers. */
enum {
	MODEL_IR_VERSION = 1, MODEL_PRODUCER_NAME = 2, MODEL_PRODUCER_VERSION = 3,
	MODEL_DOC = 6, MODEL_GRAPH = 7, MODEL_OPSET = 8, MODEL_METADATA = 14,
	OPSET_DOMAIN = 1, OPSET_VERSION = 2,
	ENTRY_KEY = 1, ENTRY_VALUE = 2,
	GRAPH_NODE = 1, GRAPH_NAME = 2, GRAPH_INITIALIZER = 5, GRAPH_DOC = 10,
	GRAPH_INPUT = 11, GRAPH_OUTPUT = 12,
	NODE_INPUT = 1, NODE_OUTPUT = 2, NODE_NAME = 3, NODE_OP_TYPE = 4, NODE_ATTRIBUTE = 5,
	ATTR_NAME = 1, ATTR_F = 2, ATTR_I = 3, ATTR_S = 4, ATTR_INTS = 8, ATTR_TYPE = 20,
	TENSOR_DIMS = 1, TENSOR_DATA_TYPE = 2, TENSOR_NAME = 8, TENSOR_RAW_DATA = 9,
	VALUE_NAME = 1, VALUE_TYPE = 2,
	TYPE_TENSOR = 1, TENSOR_TYPE_ELEM = 1, TENSOR_TYPE_SHAPE = 2,
	SHAPE_DIM = 1, DIM_VALUE = 1, DIM_PARAM = 2,
};

/* TensorProto.DataType and AttributeProto.AttributeType values. */
enum { ELEM_FLOAT = 1, ELEM_INT64 = 7 };
enum { ATTR_TYPE_FLOAT = 1, ATTR_TYPE_INT = 2, ATTR_TYPE_STRING = 3, ATTR_TYPE_INTS = 7 };

/* The networks' inputs are padded to multiples of this (model_padded_side). */
#define ONNX_PAD_MULTIPLE 32

/* Longest tensor name: a module name and a suffix. */
#define NAME_MAX_LEN (GRAPH_NAME_MAX + 32)

struct attr {
	const char *name; /* NULL ends a list */
	int type;
	int64_t i;
	float f;
	const char *s;
	const int64_t *ints;
	int nints;
};

#define ATTR_INT(nm, v) {.name = (nm), .type = ATTR_TYPE_INT, .i = (v)}
#define ATTR_STR(nm, v) {.name = (nm), .type = ATTR_TYPE_STRING, .s = (v)}
#define ATTR_INTS2(nm, a, b) \
	{.name = (nm), .type = ATTR_TYPE_INTS, .ints = (const int64_t[]){(a), (b)}, .nints = 2}
#define ATTR_INTS4(nm, a, b, c, d) \
	{.name = (nm), .type = ATTR_TYPE_INTS, \
	 .ints = (const int64_t[]){(a), (b), (c), (d)}, .nints = 4}
#define NAMES(...) ((const char *const[]){__VA_ARGS__, NULL})
#define ATTRS(...) ((const struct attr[]){__VA_ARGS__, {0}})
#define NO_ATTRS ((const struct attr[]){{0}})

/* What the graph walk keeps: the graph message and the name of every graph value. */
struct writer {
	struct pbuf *b;
	const struct onnx_spec *spec;
	const struct graph *g;
	char (*value_name)[NAME_MAX_LEN];
};

/* One NodeProto: inputs and outputs are NULL-terminated lists ("" for an omitted
 * optional input); the node is named after its first output. */
static void node(struct pbuf *b, const char *op_type, const char *const *in,
		 const char *const *out, const struct attr *attrs)
{
	size_t at = pb_begin(b, GRAPH_NODE);

	for (int i = 0; in[i]; i++)
		pb_string(b, NODE_INPUT, in[i]);
	for (int i = 0; out[i]; i++)
		pb_string(b, NODE_OUTPUT, out[i]);
	pb_string(b, NODE_NAME, out[0]);
	pb_string(b, NODE_OP_TYPE, op_type);
	for (const struct attr *a = attrs; a->name; a++) {
		size_t aat = pb_begin(b, NODE_ATTRIBUTE);

		pb_string(b, ATTR_NAME, a->name);
		switch (a->type) {
		case ATTR_TYPE_FLOAT:
			pb_float(b, ATTR_F, a->f);
			break;
		case ATTR_TYPE_INT:
			pb_int(b, ATTR_I, a->i);
			break;
		case ATTR_TYPE_STRING:
			pb_string(b, ATTR_S, a->s);
			break;
		case ATTR_TYPE_INTS:
			for (int k = 0; k < a->nints; k++)
				pb_int(b, ATTR_INTS, a->ints[k]);
			break;
		default:
			CHECK(!"unknown attribute type");
		}
		pb_int(b, ATTR_TYPE, a->type);
		pb_end(b, aat);
	}
	pb_end(b, at);
}

/* One-input, one-output node without attributes. */
static void unary(struct pbuf *b, const char *op_type, const char *in, const char *out)
{
	node(b, op_type, NAMES(in), NAMES(out), NO_ATTRS);
}

static void binary(struct pbuf *b, const char *op_type, const char *x, const char *y,
		   const char *out)
{
	node(b, op_type, NAMES(x, y), NAMES(out), NO_ATTRS);
}

/* Appends count little-endian elements of size bytes (4 or 8) from p. */
static void raw_le(struct pbuf *b, const void *p, size_t count, size_t size)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	pb_raw(b, p, count * size);
#else
	const unsigned char *q = p;

	for (size_t i = 0; i < count; i++)
		for (size_t k = 0; k < size; k++)
			pb_raw(b, q + i * size + (size - 1 - k), 1);
#endif
}

/* An initializer (TensorProto) named name, of elem type FLOAT or INT64. */
static void initializer(struct pbuf *b, const char *name, int elem, int ndim,
			const int64_t *dims, const void *data)
{
	size_t count = 1, at = pb_begin(b, GRAPH_INITIALIZER), data_at;

	for (int i = 0; i < ndim; i++) {
		pb_int(b, TENSOR_DIMS, dims[i]);
		count *= (size_t)dims[i];
	}
	pb_int(b, TENSOR_DATA_TYPE, elem);
	pb_string(b, TENSOR_NAME, name);
	data_at = pb_begin(b, TENSOR_RAW_DATA);
	raw_le(b, data, count, elem == ELEM_FLOAT ? sizeof(float) : sizeof(int64_t));
	pb_end(b, data_at);
	pb_end(b, at);
}

static void init_floats(struct pbuf *b, const char *name, int ndim, const int64_t *dims,
			const float *v)
{
	initializer(b, name, ELEM_FLOAT, ndim, dims, v);
}

static void init_ints(struct pbuf *b, const char *name, int n, const int64_t *v)
{
	initializer(b, name, ELEM_INT64, 1, (const int64_t[]){n}, v);
}

/* A float scalar, shape (1) (broadcasts against anything). */
static void init_scalar(struct pbuf *b, const char *name, float v)
{
	init_floats(b, name, 1, (const int64_t[]){1}, &v);
}

/* A per-channel vector shaped (1, c, 1, 1), to broadcast over NCHW. */
static void init_channels(struct pbuf *b, const char *name, int c, const float *v)
{
	init_floats(b, name, 4, (const int64_t[]){1, c, 1, 1}, v);
}

/* A ValueInfoProto: dims[i] > 0 is a fixed side, else the symbolic dims_param[i]. */
static void value_info(struct pbuf *b, int field, const char *name, int elem, int ndim,
		       const int64_t *dims, const char *const *dim_params)
{
	size_t at = pb_begin(b, field), type_at, tensor_at, shape_at;

	pb_string(b, VALUE_NAME, name);
	type_at = pb_begin(b, VALUE_TYPE);
	tensor_at = pb_begin(b, TYPE_TENSOR);
	pb_int(b, TENSOR_TYPE_ELEM, elem);
	shape_at = pb_begin(b, TENSOR_TYPE_SHAPE);
	for (int i = 0; i < ndim; i++) {
		size_t dim_at = pb_begin(b, SHAPE_DIM);

		if (dims[i] > 0)
			pb_int(b, DIM_VALUE, dims[i]);
		else
			pb_string(b, DIM_PARAM, dim_params[i]);
		pb_end(b, dim_at);
	}
	pb_end(b, shape_at);
	pb_end(b, tensor_at);
	pb_end(b, type_at);
	pb_end(b, at);
}

static const float *param(const struct writer *w, int id)
{
	return w->spec->params + w->g->params[id].offset;
}

/* The parameter's initializer with its own dims (conv weights, Conv biases). */
static void init_param(const struct writer *w, int id)
{
	const struct graph_param *p = &w->g->params[id];
	int64_t dims[4];

	for (int i = 0; i < p->ndim; i++)
		dims[i] = p->dims[i];
	init_floats(w->b, p->name, p->ndim, dims, param(w, id));
}

/* "<prefix>/<what>" into out. */
static const char *sub_name(char out[NAME_MAX_LEN], const char *prefix, const char *what)
{
	snprintf(out, NAME_MAX_LEN, "%s/%s", prefix, what);
	return out;
}

/*
 * The statistics of a normalization whose padded input is xp, with s = sqrt(max(var, 0)
 * + c E[x^2] + eps). A window's variance is taken as the law of total variance has it,
 * the mean of its pixels' variances across channels plus the variance of their channel
 * means: the first part is two-pass (x minus its pixel's mean, squared), so a unit whose
 * values nearly agree (tiny variance under a large mean, frequent in narrow networks) does
 * not lose its variance to cancellation in float32, as E[x^2] - mu^2 would. A 1x1 window
 * of stride 1 is just its pixel. Writes the names of mu and s.
 */
static void kn_stats(const struct writer *w, const char *P, const char *xp, int kh, int kw,
		     int sh, int sw, double cexp, char mu[NAME_MAX_LEN], char s[NAME_MAX_LEN])
{
	struct pbuf *b = w->b;
	char m1[NAME_MAX_LEN], d[NAME_MAX_LEN], dd[NAME_MAX_LEN], vin[NAME_MAX_LEN];
	char m1sq[NAME_MAX_LEN], var[NAME_MAX_LEN], e2[NAME_MAX_LEN], t[NAME_MAX_LEN];
	bool pooled = kh * kw > 1 || sh > 1 || sw > 1;
	const struct attr *mean_c = ATTRS({.name = "axes", .type = ATTR_TYPE_INTS,
					   .ints = (const int64_t[]){1}, .nints = 1},
					  ATTR_INT("keepdims", 1));

	node(b, "ReduceMean", NAMES(xp), NAMES(sub_name(m1, P, "mean_c")), mean_c);
	binary(b, "Sub", xp, m1, sub_name(d, P, "dev_c"));
	binary(b, "Mul", d, d, sub_name(dd, P, "dev_c_sq"));
	node(b, "ReduceMean", NAMES(dd), NAMES(sub_name(vin, P, "var_c")), mean_c);
	if (pooled) {
		const struct attr *pool = ATTRS(ATTR_INTS2("kernel_shape", kh, kw),
						ATTR_INTS2("strides", sh, sw));
		char pv[NAME_MAX_LEN], pm2[NAME_MAX_LEN], mu2[NAME_MAX_LEN], between[NAME_MAX_LEN];

		binary(b, "Mul", m1, m1, sub_name(m1sq, P, "mean_c_sq"));
		node(b, "AveragePool", NAMES(m1), NAMES(sub_name(mu, P, "mu")), pool);
		node(b, "AveragePool", NAMES(vin), NAMES(sub_name(pv, P, "within")), pool);
		node(b, "AveragePool", NAMES(m1sq), NAMES(sub_name(pm2, P, "mean_sq")), pool);
		binary(b, "Mul", mu, mu, sub_name(mu2, P, "mu_sq"));
		binary(b, "Sub", pm2, mu2, sub_name(between, P, "between"));
		binary(b, "Add", pv, between, sub_name(t, P, "var_raw"));
		unary(b, "Relu", t, sub_name(var, P, "var"));
		if (cexp != 0)
			binary(b, "Add", pv, pm2, sub_name(e2, P, "sq_mean"));
	} else {
		snprintf(mu, NAME_MAX_LEN, "%s", m1);
		snprintf(var, NAME_MAX_LEN, "%s", vin);
		if (cexp != 0) {
			binary(b, "Mul", m1, m1, sub_name(m1sq, P, "mean_c_sq"));
			binary(b, "Add", vin, m1sq, sub_name(e2, P, "sq_mean"));
		}
	}
	if (cexp != 0) {
		char c[NAME_MAX_LEN], ce[NAME_MAX_LEN];

		init_scalar(b, sub_name(c, P, "expected_factor"), (float)cexp);
		binary(b, "Mul", e2, c, sub_name(ce, P, "expected_term"));
		binary(b, "Add", var, ce, sub_name(t, P, "var_expected"));
		snprintf(var, NAME_MAX_LEN, "%s", t);
	}
	binary(b, "Add", var, "knorm_eps", sub_name(t, P, "var_eps"));
	unary(b, "Sqrt", t, sub_name(s, P, "s"));
}

/* The expected-mode factor of a unit of m elements for probability p. */
static double expected_factor(const struct writer *w, float p, size_t m)
{
	return dropout_expected_factor(w->spec->kn_eval, p, m);
}

static void write_knconv(const struct writer *w, const struct graph_op *op)
{
	struct pbuf *b = w->b;
	const char *P = op->name, *x = w->value_name[op->in0], *y = w->value_name[op->out];
	const struct graph_param *wp = &w->g->params[op->weight];
	int cout = wp->dims[0], cin = wp->dims[1];
	char xp[NAME_MAX_LEN], a[NAME_MAX_LEN], mu[NAME_MAX_LEN], s[NAME_MAX_LEN];
	char t[NAME_MAX_LEN], num[NAME_MAX_LEN], q[NAME_MAX_LEN], bias[NAME_MAX_LEN];
	size_t per_out = (size_t)cin * op->kh * op->kw;
	float *sumw = xmalloc((size_t)cout * sizeof *sumw);

	/* pad is (left, right, top, bottom); Pad wants begins then ends, axis by axis. */
	if (op->pad[0] || op->pad[1] || op->pad[2] || op->pad[3]) {
		int64_t pads[8] = {0, 0, op->pad[2], op->pad[0], 0, 0, op->pad[3], op->pad[1]};

		init_ints(b, sub_name(t, P, "pads"), 8, pads);
		node(b, "Pad", NAMES(x, t), NAMES(sub_name(xp, P, "padded")), NO_ATTRS);
	} else {
		snprintf(xp, NAME_MAX_LEN, "%s", x);
	}
	init_param(w, op->weight);
	node(b, "Conv", NAMES(xp, wp->name), NAMES(sub_name(a, P, "conv")),
	     ATTRS(ATTR_INTS2("kernel_shape", op->kh, op->kw),
		   ATTR_INTS2("strides", op->sh, op->sw)));
	kn_stats(w, P, xp, op->kh, op->kw, op->sh, op->sw, expected_factor(w, op->p, per_out),
		 mu, s);

	/* y = (A - mu * sum(W_o)) / s + b_o; sum(W_o) in double, as knconv.c takes it. */
	for (int o = 0; o < cout; o++) {
		const float *wo = param(w, op->weight) + (size_t)o * per_out;
		double sum = 0;

		for (size_t k = 0; k < per_out; k++)
			sum += wo[k];
		sumw[o] = (float)sum;
	}
	init_channels(b, sub_name(t, P, "weight_sum"), cout, sumw);
	free(sumw);
	{
		char musw[NAME_MAX_LEN];

		binary(b, "Mul", mu, t, sub_name(musw, P, "mu_weight_sum"));
		binary(b, "Sub", a, musw, sub_name(num, P, "centered"));
	}
	binary(b, "Div", num, s, sub_name(q, P, "normalized"));
	snprintf(bias, sizeof bias, "%s", w->g->params[op->bias].name);
	init_channels(b, bias, cout, param(w, op->bias));
	binary(b, "Add", q, bias, y);
}

static void write_kn1x1(const struct writer *w, const struct graph_op *op)
{
	const char *P = op->name, *x = w->value_name[op->in0], *y = w->value_name[op->out];
	const struct graph_value *v = &w->g->values[op->in0];
	char mu[NAME_MAX_LEN], s[NAME_MAX_LEN], num[NAME_MAX_LEN];

	kn_stats(w, P, x, 1, 1, 1, 1, expected_factor(w, op->p, (size_t)v->c), mu, s);
	binary(w->b, "Sub", x, mu, sub_name(num, P, "centered"));
	binary(w->b, "Div", num, s, y);
}

static void write_conv(const struct writer *w, const struct graph_op *op)
{
	const char *x = w->value_name[op->in0], *y = w->value_name[op->out];

	init_param(w, op->weight);
	init_param(w, op->bias);
	node(w->b, "Conv", NAMES(x, w->g->params[op->weight].name, w->g->params[op->bias].name),
	     NAMES(y),
	     ATTRS(ATTR_INTS2("kernel_shape", op->kh, op->kw), ATTR_INTS2("strides", op->sh, op->sw),
		   ATTR_INTS4("pads", op->pad[2], op->pad[0], op->pad[3], op->pad[1])));
}

static void write_maxpool(const struct writer *w, const struct graph_op *op)
{
	node(w->b, "MaxPool", NAMES(w->value_name[op->in0]), NAMES(w->value_name[op->out]),
	     ATTRS(ATTR_INTS2("kernel_shape", op->kh, op->kw), ATTR_INTS2("strides", op->sh, op->sw),
		   ATTR_INTS4("pads", op->pad[2], op->pad[0], op->pad[3], op->pad[1])));
}

/*
 * The value whose spatial size a resize to value `out` takes, in both graphs (built at
 * two input sizes, so a match is a match at every size): the earliest one with the
 * same height and width. -1 when none (the graphs were built wrongly).
 */
static int size_source(const struct graph *g, const struct graph *g2, int out)
{
	const struct graph_value *o = &g->values[out], *o2 = &g2->values[out];

	for (int v = 0; v < g->nvalues; v++) {
		const struct graph_value *a = &g->values[v], *a2 = &g2->values[v];

		if (v != out && a->h == o->h && a->w == o->w && a2->h == o2->h && a2->w == o2->w)
			return v;
	}
	return -1;
}

static void write_resize(const struct writer *w, const struct graph *g2,
			 const struct graph_op *op)
{
	struct pbuf *b = w->b;
	const char *P = op->name, *x = w->value_name[op->in0];
	int src = size_source(w->g, g2, op->out);
	char shape_x[NAME_MAX_LEN], nc[NAME_MAX_LEN], shape_s[NAME_MAX_LEN], hw[NAME_MAX_LEN];
	char sizes[NAME_MAX_LEN];

	CHECK(src >= 0);
	unary(b, "Shape", x, sub_name(shape_x, P, "in_shape"));
	node(b, "Slice", NAMES(shape_x, "i64_0", "i64_2"), NAMES(sub_name(nc, P, "nc")),
	     NO_ATTRS);
	unary(b, "Shape", w->value_name[src], sub_name(shape_s, P, "to_shape"));
	node(b, "Slice", NAMES(shape_s, "i64_2", "i64_4"), NAMES(sub_name(hw, P, "hw")),
	     NO_ATTRS);
	node(b, "Concat", NAMES(nc, hw), NAMES(sub_name(sizes, P, "sizes")),
	     ATTRS(ATTR_INT("axis", 0)));
	node(b, "Resize", NAMES(x, "", "", sizes), NAMES(w->value_name[op->out]),
	     ATTRS(ATTR_STR("mode", "linear"),
		   ATTR_STR("coordinate_transformation_mode", "pytorch_half_pixel")));
}

/* Names every value after the op that makes it ("input" for the network's input),
 * suffixed by the op's index when an earlier op has the same name. */
static void name_values(struct writer *w)
{
	const struct graph *g = w->g;

	snprintf(w->value_name[g->input], NAME_MAX_LEN, "input_padded");
	for (int i = 0; i < g->nops; i++) {
		const struct graph_op *op = &g->ops[i];
		bool seen = false;

		for (int k = 0; k < i && !seen; k++)
			seen = strcmp(g->ops[k].name, op->name) == 0;
		if (seen)
			snprintf(w->value_name[op->out], NAME_MAX_LEN, "%s_%d", op->name, i);
		else
			snprintf(w->value_name[op->out], NAME_MAX_LEN, "%s", op->name);
	}
}

/* image -> (image / 255 - mean) / std, padded at the bottom and right to multiples of
 * 32 ("input_padded"); "image_hw" holds (H, W) for the final crop. */
static void write_prologue(struct pbuf *b, const struct onnx_spec *spec)
{
	static const int64_t zeros[6];

	init_ints(b, "i64_0", 1, (const int64_t[]){0});
	init_ints(b, "i64_2", 1, (const int64_t[]){2});
	init_ints(b, "i64_4", 1, (const int64_t[]){4});
	init_ints(b, "i64_pad_multiple", 1, (const int64_t[]){ONNX_PAD_MULTIPLE});
	init_ints(b, "i64_zeros6", 6, zeros);
	init_scalar(b, "knorm_eps", KNORM_EPS);

	init_scalar(b, "pixel_scale", 255.0f);
	init_channels(b, "mean", 3, spec->mean);
	init_channels(b, "std", 3, spec->std);
	binary(b, "Div", "image", "pixel_scale", "image_01");
	binary(b, "Sub", "image_01", "mean", "image_centered");
	binary(b, "Div", "image_centered", "std", "normalized");

	unary(b, "Shape", "image", "image_shape");
	node(b, "Slice", NAMES("image_shape", "i64_2", "i64_4"), NAMES("image_hw"), NO_ATTRS);
	binary(b, "Mod", "image_hw", "i64_pad_multiple", "image_hw_rem");
	binary(b, "Sub", "i64_pad_multiple", "image_hw_rem", "pad_hw_raw");
	binary(b, "Mod", "pad_hw_raw", "i64_pad_multiple", "pad_hw");
	node(b, "Concat", NAMES("i64_zeros6", "pad_hw"), NAMES("input_pads"),
	     ATTRS(ATTR_INT("axis", 0)));
	node(b, "Pad", NAMES("normalized", "input_pads"), NAMES("input_padded"), NO_ATTRS);
}

/* Crops the network's output to the image's size, and the labels. */
static void write_epilogue(struct pbuf *b, const char *net_out)
{
	init_ints(b, "i64_zeros2", 2, (const int64_t[]){0, 0});
	init_ints(b, "i64_axes_hw", 2, (const int64_t[]){2, 3});
	node(b, "Slice", NAMES(net_out, "i64_zeros2", "image_hw", "i64_axes_hw"), NAMES("logits"),
	     NO_ATTRS);
	node(b, "ArgMax", NAMES("logits"), NAMES("labels"),
	     ATTRS(ATTR_INT("axis", 1), ATTR_INT("keepdims", 0)));
}

static void write_graph(struct pbuf *b, const struct onnx_spec *spec, const struct graph *g,
			const struct graph *g2)
{
	struct writer w = {.b = b, .spec = spec, .g = g};
	const char *const image_dims[] = {"batch", "channels", "height", "width"};
	const char *const label_dims[] = {"batch", "height", "width"};
	int64_t h = spec->height, wd = spec->width, k = spec->cfg.num_classes;
	char name[NAME_MAX_LEN];
	size_t at = pb_begin(b, MODEL_GRAPH);

	w.value_name = xcalloc((size_t)g->nvalues, sizeof *w.value_name);
	name_values(&w);
	snprintf(name, sizeof name, "knseg_%s_%s", net_arch_name(spec->cfg.arch),
		 net_head_name(spec->cfg.head));
	pb_string(b, GRAPH_NAME, name);
	write_prologue(b, spec);
	for (int i = 0; i < g->nops; i++) {
		const struct graph_op *op = &g->ops[i];

		switch (op->kind) {
		case OP_KNCONV:
			write_knconv(&w, op);
			break;
		case OP_CONV:
			write_conv(&w, op);
			break;
		case OP_KN1X1:
			write_kn1x1(&w, op);
			break;
		case OP_RELU:
			unary(b, "Relu", w.value_name[op->in0], w.value_name[op->out]);
			break;
		case OP_MAXPOOL:
			write_maxpool(&w, op);
			break;
		case OP_ADD:
			binary(b, "Add", w.value_name[op->in0], w.value_name[op->in1],
			       w.value_name[op->out]);
			break;
		case OP_RESIZE:
			write_resize(&w, g2, op);
			break;
		}
	}
	write_epilogue(b, w.value_name[g->output]);
	pb_string(b, GRAPH_DOC,
		  "image: float32 (N, 3, H, W) RGB values 0..255; logits: float32 (N, K, H, W); "
		  "labels: int64 (N, H, W), the class of the largest logit");
	value_info(b, GRAPH_INPUT, "image", ELEM_FLOAT, 4, (const int64_t[]){0, 3, h, wd},
		   image_dims);
	value_info(b, GRAPH_OUTPUT, "logits", ELEM_FLOAT, 4, (const int64_t[]){0, k, h, wd},
		   image_dims);
	value_info(b, GRAPH_OUTPUT, "labels", ELEM_INT64, 3, (const int64_t[]){0, h, wd},
		   label_dims);
	pb_end(b, at);
	free(w.value_name);
}

/* The sizes at which the graph is built: any two with distinct ratios between the
 * features' sizes serve to match resize targets (size_source). */
#define REF_H 128
#define REF_W 192
#define REF2_H 96
#define REF2_W 160

int onnx_encode(const struct onnx_spec *spec, unsigned char **buf, size_t *len)
{
	struct graph g, g2;
	struct pbuf b;
	int err;

	*buf = NULL;
	*len = 0;
	if (spec->kn_eval != KNORM_EVAL_EXPECTED && spec->kn_eval != KNORM_EVAL_NONE)
		return kn_error(KN_EINVAL,
				"statistics mode '%s' cannot be exported: an ONNX graph has no "
				"random masks (use expected or none)",
				knorm_mode_name(spec->kn_eval));
	if (spec->cfg.head == NET_HEAD_CLASSIFIER)
		return kn_error(KN_EINVAL, "only segmentation heads (fcn, fpn) can be exported");
	if ((spec->height > 0) != (spec->width > 0) || spec->height < 0 || spec->width < 0)
		return kn_error(KN_EINVAL, "export size %dx%d: give both sides, or neither",
				spec->width, spec->height);
	if ((err = net_build(&g, &spec->cfg, 1, REF_H, REF_W)) < 0)
		return err;
	if ((err = net_build(&g2, &spec->cfg, 1, REF2_H, REF2_W)) < 0) {
		graph_free(&g);
		return err;
	}
	pbuf_init(&b);
	pb_int(&b, MODEL_IR_VERSION, ONNX_IR_VERSION);
	pb_string(&b, MODEL_PRODUCER_NAME, "knseg");
	pb_string(&b, MODEL_PRODUCER_VERSION, spec->producer_version);
	pb_string(&b, MODEL_DOC, "knseg segmentation network (kernel normalized ResNet)");
	write_graph(&b, spec, &g, &g2);
	{
		size_t at = pb_begin(&b, MODEL_OPSET);

		pb_string(&b, OPSET_DOMAIN, "");
		pb_int(&b, OPSET_VERSION, ONNX_OPSET);
		pb_end(&b, at);
	}
	for (int i = 0; i < spec->nmeta; i++) {
		size_t at = pb_begin(&b, MODEL_METADATA);

		pb_string(&b, ENTRY_KEY, spec->meta[2 * i]);
		pb_string(&b, ENTRY_VALUE, spec->meta[2 * i + 1]);
		pb_end(&b, at);
	}
	graph_free(&g);
	graph_free(&g2);
	*buf = b.data;
	*len = b.len;
	return 0;
}
