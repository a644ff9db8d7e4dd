/* Tests of the network builders: reference parameter counts, shapes, names, FLOPs. */
#include "tests/testutil.h"

#include "io/error.h"
#include "nets/graph.h"
#include "nets/knresnet.h"

#include <math.h>
#include <string.h>

static size_t count_params(enum net_arch arch, enum net_head head, int classes, int h, int w)
{
	struct graph g;
	struct net_config cfg = net_config_default(arch, head, classes);
	size_t total = 0;

	cfg.imagenet_pads = head == NET_HEAD_CLASSIFIER;
	assert_int_equal(net_build(&g, &cfg, 1, h, w), 0);
	for (int i = 0; i < g.nparams; i++)
		total += g.params[i].count;
	graph_free(&g);
	return total;
}

/* The reference ImageNet models: these counts prove the backbone shapes are the same. */
static void test_reference_parameter_counts(void **state)
{
	(void)state;
	assert_int_equal(count_params(NET_KNRESNET18, NET_HEAD_CLASSIFIER, 1000, 224, 224), 11685220);
	assert_int_equal(count_params(NET_KNRESNET34, NET_HEAD_CLASSIFIER, 1000, 224, 224), 21792830);
	assert_int_equal(count_params(NET_KNRESNET50, NET_HEAD_CLASSIFIER, 1000, 224, 224), 25556390);
}

static void check_param(const struct graph *g, const char *name, int ndim, int d0, int d1,
			int d2, int d3)
{
	int id = graph_find_param(g, name);
	const int want[4] = {d0, d1, d2, d3};

	if (id < 0)
		fail_msg("no parameter '%s'", name);
	assert_int_equal(g->params[id].ndim, ndim);
	for (int i = 0; i < ndim; i++)
		assert_int_equal(g->params[id].dims[i], want[i]);
}

static void test_names_and_shapes(void **state)
{
	struct graph g;
	struct net_config cfg = net_config_default(NET_KNRESNET18, NET_HEAD_FCN, 19);

	(void)state;
	assert_int_equal(net_build(&g, &cfg, 2, 256, 512), 0);
	check_param(&g, "backbone.block0.0.weight", 4, 64, 3, 7, 7);
	check_param(&g, "backbone.block0.0.bias", 1, 64, 0, 0, 0);
	check_param(&g, "backbone.res_block1.conv1.weight", 4, 256, 64, 2, 2);
	check_param(&g, "backbone.res_block2.conv2.weight", 4, 64, 256, 2, 2);
	check_param(&g, "backbone.trans_block1.conv.weight", 4, 256, 64, 2, 2);
	check_param(&g, "backbone.trans_block3.conv.weight", 4, 724, 512, 2, 2);
	check_param(&g, "backbone.res_block6.conv1.weight", 4, 724, 724, 2, 2);
	check_param(&g, "head.conv.weight", 4, 512, 724, 3, 3);
	check_param(&g, "head.cls.weight", 4, 19, 512, 1, 1);
	check_param(&g, "head.cls.bias", 1, 19, 0, 0, 0);
	/* Taps at strides 4, 8, 16, 32; logits at the input size. */
	for (int i = 0; i < 4; i++) {
		assert_int_equal(g.values[g.taps[i]].h, 256 >> (i + 2));
		assert_int_equal(g.values[g.taps[i]].w, 512 >> (i + 2));
	}
	assert_int_equal(g.values[g.output].c, 19);
	assert_int_equal(g.values[g.output].h, 256);
	assert_int_equal(g.values[g.output].w, 512);
	graph_free(&g);
}

static void test_fpn_and_knresnet50_names(void **state)
{
	struct graph g;
	struct net_config cfg = net_config_default(NET_KNRESNET50, NET_HEAD_FPN, 19);

	(void)state;
	assert_int_equal(net_build(&g, &cfg, 1, 128, 256), 0);
	check_param(&g, "backbone.block0.0.weight", 4, 256, 3, 7, 7);
	check_param(&g, "backbone.res_block1.conv2.weight", 4, 64, 64, 3, 3);
	check_param(&g, "backbone.trans_block2.conv.weight", 4, 810, 512, 2, 2);
	check_param(&g, "backbone.trans_block3.conv.conv1x1.weight", 4, 2048, 810, 1, 1);
	check_param(&g, "backbone.res_block15.conv1.conv1x1.weight", 4, 512, 2048, 1, 1);
	check_param(&g, "backbone.res_block15.conv3.conv1x1.bias", 1, 2048, 0, 0, 0);
	check_param(&g, "head.lateral.1.conv1x1.weight", 4, 128, 256, 1, 1);
	check_param(&g, "head.lateral.4.conv1x1.weight", 4, 128, 2048, 1, 1);
	check_param(&g, "head.smooth.3.weight", 4, 128, 128, 3, 3);
	check_param(&g, "head.cls.weight", 4, 19, 128, 1, 1);
	for (int i = 0; i < 4; i++)
		assert_int_equal(g.values[g.taps[i]].h, 128 >> (i + 2));
	assert_int_equal(g.values[g.output].h, 128);
	graph_free(&g);
}

static void test_width_multiplier(void **state)
{
	struct graph g;
	struct net_config cfg = net_config_default(NET_KNRESNET18, NET_HEAD_FPN, 5);

	(void)state;
	assert_int_equal(net_channels(1.0f, 724), 724);
	assert_int_equal(net_channels(0.25f, 724), 184);
	assert_int_equal(net_channels(0.25f, 64), 16);
	assert_int_equal(net_channels(0.01f, 64), 8);
	cfg.width = 0.25f;
	assert_int_equal(net_build(&g, &cfg, 1, 64, 96), 0);
	check_param(&g, "backbone.block0.0.weight", 4, 16, 3, 7, 7);
	check_param(&g, "head.smooth.1.weight", 4, 32, 32, 3, 3);
	graph_free(&g);
}

static void test_bad_sizes(void **state)
{
	struct graph g;
	struct net_config cfg = net_config_default(NET_KNRESNET18, NET_HEAD_FCN, 19);

	(void)state;
	assert_int_equal(net_build(&g, &cfg, 1, 250, 512), KN_EINVAL);
	assert_int_equal(net_build(&g, &cfg, 1, 0, 0), KN_EINVAL);
	cfg.num_classes = 0;
	assert_int_equal(net_build(&g, &cfg, 1, 256, 256), KN_EINVAL);
}

/* The backbone convolutions of KNResNet-18 at 2 x 256 x 512 cost 35.05 GFLOP. */
static void test_flops(void **state)
{
	struct graph g;
	struct net_config cfg = net_config_default(NET_KNRESNET18, NET_HEAD_FCN, 19);
	double conv = 0;

	(void)state;
	assert_int_equal(net_build(&g, &cfg, 2, 256, 512), 0);
	for (int i = 0; i < g.nops; i++) {
		const struct graph_op *op = &g.ops[i];

		if (op->kind == OP_KNCONV && !strncmp(op->name, "backbone.", 9)) {
			const struct graph_value *in = &g.values[op->in0], *out = &g.values[op->out];

			conv += 2.0 * in->c * op->kh * op->kw * out->c * out->h * out->w * g.n;
		}
	}
	assert_true(fabs(conv - 35053916416.0) < 1);
	assert_true(graph_flops(&g) > conv);
	graph_free(&g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reference_parameter_counts),
		cmocka_unit_test(test_names_and_shapes),
		cmocka_unit_test(test_fpn_and_knresnet50_names),
		cmocka_unit_test(test_width_multiplier),
		cmocka_unit_test(test_bad_sizes),
		cmocka_unit_test(test_flops),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
