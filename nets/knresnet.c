/*
 * KNResNet backbones and segmentation heads as graphs. See knresnet.h and nets/README.md 2
 * reference (section 2) for the tables these builders follow.
 *
 * A builder appends ops to the graph; every helper takes the id of its input value and
 * returns the id of its output value (or -1 once the input has become too small, which
 * net_build turns into an error).
 */
#include "nets/knresnet.h"
#include "io/error.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

struct builder {
	struct graph *g;
	const struct net_config *cfg;
	char prefix[16]; /* "backbone." or "head." or "" */
};

static const int pad_none[4] = {0, 0, 0, 0};
static const int pad_one[4] = {1, 1, 1, 1};
static const int pad_tl[4] = {1, 0, 1, 0};     /* trans_block1, and trans_block3 here */
static const int pad_br[4] = {0, 1, 0, 1};     /* trans_block2 */
static const int pad_imagenet[4] = {2, 1, 2, 1};
static const int pad_stem[4] = {3, 3, 3, 3};

static int shape_value(struct builder *b, int c, int h, int w)
{
	if (h < 1 || w < 1)
		return -1;
	return graph_value(b->g, c, h, w);
}

static struct graph_op op_new(const struct builder *b, enum op_kind kind, const char *name,
			      int in)
{
	struct graph_op op;

	memset(&op, 0, sizeof(op));
	op.kind = kind;
	snprintf(op.name, sizeof(op.name), "%s%s", b->prefix, name);
	op.in0 = in;
	op.in1 = -1;
	op.weight = op.bias = -1;
	return op;
}

/*
 * A convolution's parameters: name.weight (cout, cin, k, k) and name.bias (cout).
 * KN convolutions get Kaiming-normal fan_out weights (std sqrt(2 / (cout k k))); the
 * plain classifier conv gets std 0.01, the usual choice for a segmentation classifier.
 */
static void conv_params(struct builder *b, struct graph_op *op, const char *pname, int cin,
			int cout, int k)
{
	char name[GRAPH_NAME_MAX];
	int wdims[4] = {cout, cin, k, k};
	float std = op->kind == OP_KNCONV ? sqrtf(2.0f / (float)(cout * k * k)) : 0.01f;

	snprintf(name, sizeof(name), "%s%s.weight", b->prefix, pname);
	op->weight = graph_param(b->g, name, 4, wdims, std);
	snprintf(name, sizeof(name), "%s%s.bias", b->prefix, pname);
	op->bias = graph_param(b->g, name, 1, &cout, 0.0f);
}

/* A convolution of kind OP_KNCONV or OP_CONV; a 1x1 KNConv has its parameters under
 * "<name>.conv1x1" as the reference KNConv2d1x1 does. */
static int conv(struct builder *b, enum op_kind kind, const char *name, int in, int cout,
		int k, int stride, const int pad[4], float p)
{
	const struct graph_value *v;
	struct graph_op op;
	char pname[GRAPH_NAME_MAX];
	int ho, wo, out;

	if (in < 0)
		return -1;
	v = &b->g->values[in];
	ho = (v->h + pad[2] + pad[3] - k) / stride + 1;
	wo = (v->w + pad[0] + pad[1] - k) / stride + 1;
	if (v->h + pad[2] + pad[3] < k || v->w + pad[0] + pad[1] < k)
		return -1;
	out = shape_value(b, cout, ho, wo);
	if (out < 0)
		return -1;
	op = op_new(b, kind, name, in);
	op.out = out;
	op.kh = op.kw = k;
	op.sh = op.sw = stride;
	memcpy(op.pad, pad, sizeof(op.pad));
	op.p = kind == OP_KNCONV ? p : 0.0f;
	snprintf(pname, sizeof(pname), "%s%s", name,
		 kind == OP_KNCONV && k == 1 ? ".conv1x1" : "");
	conv_params(b, &op, pname, v->c, cout, k);
	graph_op(b->g, &op);
	return out;
}

static int knconv(struct builder *b, const char *name, int in, int cout, int k,
		  const int pad[4])
{
	return conv(b, OP_KNCONV, name, in, cout, k, 1, pad, b->cfg->p);
}

/* An op whose output has the input's shape: ReLU or KernelNorm 1x1. */
static int same_shape(struct builder *b, enum op_kind kind, const char *name, int in, float p)
{
	struct graph_op op;
	const struct graph_value *v;

	if (in < 0)
		return -1;
	v = &b->g->values[in];
	op = op_new(b, kind, name, in);
	op.out = graph_value(b->g, v->c, v->h, v->w);
	op.p = p;
	graph_op(b->g, &op);
	return op.out;
}

static int relu(struct builder *b, const char *name, int in)
{
	return same_shape(b, OP_RELU, name, in, 0.0f);
}

static int maxpool(struct builder *b, const char *name, int in, int k, int s, int pad)
{
	const struct graph_value *v;
	struct graph_op op;

	if (in < 0)
		return -1;
	v = &b->g->values[in];
	if (v->h + 2 * pad < k || v->w + 2 * pad < k)
		return -1;
	op = op_new(b, OP_MAXPOOL, name, in);
	op.out = shape_value(b, v->c, (v->h + 2 * pad - k) / s + 1, (v->w + 2 * pad - k) / s + 1);
	op.kh = op.kw = k;
	op.sh = op.sw = s;
	for (int i = 0; i < 4; i++)
		op.pad[i] = pad;
	graph_op(b->g, &op);
	return op.out;
}

static int add(struct builder *b, const char *name, int a, int c)
{
	struct graph_op op;
	const struct graph_value *v;

	if (a < 0 || c < 0)
		return -1;
	v = &b->g->values[a];
	CHECK(v->c == b->g->values[c].c && v->h == b->g->values[c].h &&
	      v->w == b->g->values[c].w);
	op = op_new(b, OP_ADD, name, a);
	op.in1 = c;
	op.out = graph_value(b->g, v->c, v->h, v->w);
	graph_op(b->g, &op);
	return op.out;
}

static int resize(struct builder *b, const char *name, int in, int h, int w)
{
	struct graph_op op;

	if (in < 0)
		return -1;
	op = op_new(b, OP_RESIZE, name, in);
	op.out = graph_value(b->g, b->g->values[in].c, h, w);
	graph_op(b->g, &op);
	return op.out;
}

/* Names an op inside a block: "<block>.<what>". */
static const char *sub(char *buf, const char *block, const char *what)
{
	snprintf(buf, GRAPH_NAME_MAX, "%s.%s", block, what);
	return buf;
}

/* Residual block: ReLU, KNConv 2x2 pad 1 (c -> inner), ReLU, KNConv 2x2 pad 0, + x. */
static int res_block(struct builder *b, int index, int x, int inner)
{
	char block[32], n[GRAPH_NAME_MAX];
	int c, y;

	if (x < 0)
		return -1;
	c = b->g->values[x].c;
	snprintf(block, sizeof(block), "res_block%d", index);
	y = relu(b, sub(n, block, "relu1"), x);
	y = knconv(b, sub(n, block, "conv1"), y, inner, 2, pad_one);
	y = relu(b, sub(n, block, "relu2"), y);
	y = knconv(b, sub(n, block, "conv2"), y, c, 2, pad_none);
	return add(b, sub(n, block, "add"), y, x);
}

/* Bottleneck: 2x2 pad 1 (or 1x1), 3x3 pad 1, 2x2 pad 0 (or 1x1), + x. */
static int bottleneck(struct builder *b, int index, int x, int inner, bool one_by_one)
{
	char block[32], n[GRAPH_NAME_MAX];
	int c, y, k = one_by_one ? 1 : 2;

	if (x < 0)
		return -1;
	c = b->g->values[x].c;
	snprintf(block, sizeof(block), "res_block%d", index);
	y = relu(b, sub(n, block, "relu1"), x);
	y = knconv(b, sub(n, block, "conv1"), y, inner, k, one_by_one ? pad_none : pad_one);
	y = relu(b, sub(n, block, "relu2"), y);
	y = knconv(b, sub(n, block, "conv2"), y, inner, 3, pad_one);
	y = relu(b, sub(n, block, "relu3"), y);
	y = knconv(b, sub(n, block, "conv3"), y, c, k, pad_none);
	return add(b, sub(n, block, "add"), y, x);
}

/* Transition: ReLU, KNConv 2x2 (or 1x1) with the given pad, MaxPool 2x2 stride 2. */
static int trans_block(struct builder *b, int index, int x, int cout, int k, const int pad[4])
{
	char block[32], n[GRAPH_NAME_MAX];
	int y;

	snprintf(block, sizeof(block), "trans_block%d", index);
	y = relu(b, sub(n, block, "relu"), x);
	y = knconv(b, sub(n, block, "conv"), y, cout, k, pad);
	return maxpool(b, sub(n, block, "max_pool"), y, 2, 2, 0);
}

struct stage {
	int blocks, channels, inner; /* residual blocks of the stage, at width 1 */
};

struct arch_table {
	int stem;                 /* block0 output channels */
	struct stage stages[4];
	bool bottleneck;
};

static const struct arch_table arch_tables[] = {
	[NET_KNRESNET18] = {64, {{2, 64, 256}, {2, 256, 256}, {1, 512, 512}, {1, 724, 724}}, false},
	[NET_KNRESNET34] = {64, {{4, 64, 256}, {5, 256, 320}, {3, 512, 640}, {2, 512, 843}}, false},
	[NET_KNRESNET50] = {256, {{4, 256, 64}, {5, 512, 128}, {4, 810, 201}, {2, 2048, 512}}, true},
};

static int backbone(struct builder *b, int x)
{
	const struct arch_table *t = &arch_tables[b->cfg->arch];
	float wm = b->cfg->width;
	int block = 1;

	x = conv(b, OP_KNCONV, "block0.0", x, net_channels(wm, t->stem), 7, 2, pad_stem,
		 b->cfg->p);
	x = maxpool(b, "block0.1", x, 3, 2, 1);
	for (int s = 0; s < 4; s++) {
		const struct stage *st = &t->stages[s];
		int inner = net_channels(wm, st->inner);

		if (s > 0) {
			const int *pad = s == 1 ? pad_tl : s == 2 ? pad_br
						  : b->cfg->imagenet_pads ? pad_imagenet : pad_tl;
			bool one = t->bottleneck && s == 3;

			x = trans_block(b, s, x, net_channels(wm, st->channels), one ? 1 : 2,
					one ? pad_none : pad);
		}
		for (int i = 0; i < st->blocks; i++, block++)
			x = t->bottleneck ? bottleneck(b, block, x, inner, s == 3)
					  : res_block(b, block, x, inner);
		b->g->taps[s] = x;
	}
	return x;
}

static int head_fcn(struct builder *b, int x, int h, int w)
{
	int mid = net_channels(b->cfg->width, 512);

	x = relu(b, "relu", x);
	x = knconv(b, "conv", x, mid, 3, pad_one);
	x = same_shape(b, OP_KN1X1, "kn", x, net_final_p(b->cfg->p));
	x = relu(b, "relu_f", x);
	x = conv(b, OP_CONV, "cls", x, b->cfg->num_classes, 1, 1, pad_none, 0.0f);
	return resize(b, "up", x, h, w);
}

static int head_fpn(struct builder *b, int h, int w)
{
	int d = net_channels(b->cfg->width, 128);
	int lat[4], sum = -1;
	char n[GRAPH_NAME_MAX];

	for (int i = 0; i < 4; i++) {
		snprintf(n, sizeof(n), "lateral.%d.relu", i + 1);
		lat[i] = relu(b, n, b->g->taps[i]);
		snprintf(n, sizeof(n), "lateral.%d", i + 1);
		lat[i] = conv(b, OP_KNCONV, n, lat[i], d, 1, 1, pad_none, b->cfg->p);
	}
	/* Top-down: P4 = L4, P_i = L_i + up2(P_{i+1}). */
	for (int i = 2; i >= 0; i--) {
		const struct graph_value *v = &b->g->values[lat[i]];
		int up;

		snprintf(n, sizeof(n), "topdown.%d.up", i + 1);
		up = resize(b, n, lat[i + 1], v->h, v->w);
		snprintf(n, sizeof(n), "topdown.%d.add", i + 1);
		lat[i] = add(b, n, lat[i], up);
	}
	for (int i = 0; i < 4; i++) {
		const struct graph_value *v1 = &b->g->values[lat[0]];
		int y;

		snprintf(n, sizeof(n), "smooth.%d.relu", i + 1);
		y = relu(b, n, lat[i]);
		snprintf(n, sizeof(n), "smooth.%d", i + 1);
		y = knconv(b, n, y, d, 3, pad_one);
		if (i > 0) {
			snprintf(n, sizeof(n), "smooth.%d.up", i + 1);
			y = resize(b, n, y, v1->h, v1->w);
		}
		snprintf(n, sizeof(n), "sum.%d", i + 1);
		sum = i == 0 ? y : add(b, n, sum, y);
	}
	sum = same_shape(b, OP_KN1X1, "kn", sum, net_final_p(b->cfg->p));
	sum = relu(b, "relu_f", sum);
	sum = conv(b, OP_CONV, "cls", sum, b->cfg->num_classes, 1, 1, pad_none, 0.0f);
	return resize(b, "up", sum, h, w);
}

/* The reference ImageNet head, declared to name and count its parameters. */
static int head_classifier(struct builder *b, int x)
{
	const struct arch_table *t = &arch_tables[b->cfg->arch];
	int c, fc_dims[2], k;

	if (!t->bottleneck) {
		x = maxpool(b, "max_pool_f", x, 2, 2, 0);
		x = relu(b, "conv_block_f.relu", x);
		x = knconv(b, "conv_block_f.conv", x, net_channels(b->cfg->width, 512), 2, pad_none);
	}
	x = same_shape(b, OP_KN1X1, "kn_f", x, net_final_p(b->cfg->p));
	x = relu(b, "relu_f", x);
	if (x < 0)
		return -1;
	c = b->g->values[x].c;
	k = b->cfg->num_classes;
	fc_dims[0] = k;
	fc_dims[1] = c;
	graph_param(b->g, "fc.weight", 2, fc_dims, 0.01f);
	graph_param(b->g, "fc.bias", 1, &k, 0.0f);
	return x;
}

int net_build(struct graph *g, const struct net_config *cfg, int n, int h, int w)
{
	struct builder b = {g, cfg, "backbone."};
	int x;

	/* Label images are 8-bit with 255 reserved for ignore; the classifier is not. */
	int max_classes = cfg->head == NET_HEAD_CLASSIFIER ? 100000 : 255;

	if (cfg->num_classes < 1 || cfg->num_classes > max_classes)
		return kn_error(KN_EINVAL, "number of classes %d is not in 1..%d", cfg->num_classes,
				max_classes);
	if (!(cfg->width > 0 && cfg->width <= 8))
		return kn_error(KN_EINVAL, "width %g is not in (0, 8]", (double)cfg->width);
	if (!(cfg->p >= 0 && cfg->p < 1))
		return kn_error(KN_EINVAL, "dropout probability %g is not in [0, 1)", (double)cfg->p);
	if (cfg->head != NET_HEAD_CLASSIFIER && (h < 32 || w < 32 || h % 32 || w % 32))
		return kn_error(KN_EINVAL, "network input %dx%d is not a multiple of 32", w, h);
	graph_init(g, n);
	g->input = graph_value(g, 3, h, w);
	x = backbone(&b, g->input);
	strcpy(b.prefix, cfg->head == NET_HEAD_CLASSIFIER ? "" : "head.");
	if (x >= 0) {
		if (cfg->head == NET_HEAD_FCN)
			x = head_fcn(&b, x, h, w);
		else if (cfg->head == NET_HEAD_FPN)
			x = head_fpn(&b, h, w);
		else
			x = head_classifier(&b, x);
	}
	if (x < 0) {
		graph_free(g);
		return kn_error(KN_EINVAL, "input %dx%d is too small for %s", w, h,
				net_arch_name(cfg->arch));
	}
	g->output = x;
	return 0;
}

struct net_config net_config_default(enum net_arch arch, enum net_head head, int num_classes)
{
	struct net_config c = {arch, head, 1.0f, num_classes, 0.05f, false};

	return c;
}

int net_channels(float width, int c)
{
	int r;

	if (width == 1.0f)
		return c;
	r = (int)lroundf((float)c * width / 8.0f) * 8;
	return r < 8 ? 8 : r;
}

float net_final_p(float p)
{
	return fminf(5.0f * p, 0.25f);
}

static const char *const arch_names[] = {"knresnet18", "knresnet34", "knresnet50"};
static const char *const head_names[] = {"fcn", "fpn", "classifier"};

const char *net_arch_name(enum net_arch arch)
{
	return arch_names[arch];
}

const char *net_head_name(enum net_head head)
{
	return head_names[head];
}

int net_arch_parse(const char *s, enum net_arch *arch)
{
	for (int i = 0; i < 3; i++)
		if (!strcmp(s, arch_names[i])) {
			*arch = (enum net_arch)i;
			return 0;
		}
	return kn_error(KN_EINVAL, "unknown architecture '%s' (knresnet18, knresnet34, knresnet50)",
			s);
}

int net_head_parse(const char *s, enum net_head *head)
{
	for (int i = 0; i < 2; i++)
		if (!strcmp(s, head_names[i])) {
			*head = (enum net_head)i;
			return 0;
		}
	return kn_error(KN_EINVAL, "unknown head '%s' (fcn, fpn)", s);
}
