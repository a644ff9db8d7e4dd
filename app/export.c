/*
 * knseg export: writes a checkpoint's inference network as an ONNX model (nets/onnx.h)
 * that ONNX Runtime, OpenVINO or TensorRT run without custom operators: raw RGB in,
 * logits and labels at the image's size out, the checkpoint's normalization and
 * statistics mode inside, and its classes, colours, mean and std in metadata_props.
 */
#include "app/commands.h"
#include "app/knseg.h"
#include "app/knseg_internal.h"
#include "app/options.h"
#include "io/alloc.h"
#include "io/atomic.h"
#include "io/error.h"
#include "nets/onnx.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct export_cmd {
	const char *checkpoint, *onnx, *kn_eval;
	int w, h;
	struct net_config net; /* without a checkpoint: an untrained network */
	uint64_t seed;
};

#define F(m) offsetof(struct export_cmd, m)
static const struct opt export_opts[] = {
	{"checkpoint", OPT_STRING, F(checkpoint), .arg = "FILE",
	 .help = "the knseg checkpoint (model or train) to export"},
	{"onnx", OPT_STRING, F(onnx), .required = true, .arg = "OUT",
	 .help = "the ONNX file to write (replaced atomically)"},
	{"size", OPT_SIZE, F(w), F(h), .lo = 1, .hi = 65536, .arg = "WxH",
	 .help = "fix the input size (default: dynamic batch, height and width)"},
	{"kn-eval", OPT_STRING, F(kn_eval), .arg = "MODE",
	 .help = "KN statistics: expected | none (default: the checkpoint's)"},
	{.kind = OPT_SECTION,
	 .help = "without --checkpoint, an untrained network (benchmarks, deployment tests):"},
	NET_OPTS(struct export_cmd, net, "fcn"),
	{"classes", OPT_INT, F(net.num_classes), .lo = 1, .hi = 255, .def = "19", .arg = "K",
	 .help = "classes"},
	{"seed", OPT_U64, F(seed), .def = "1", .arg = "S", .help = "weight initialization seed"},
	{0},
};
#undef F

static const struct opt_command export_command = {
	"export",
	"usage: knseg export --checkpoint FILE --onnx OUT [--size WxH] [--kn-eval MODE]\n"
	"       knseg export --onnx OUT [--arch A] [--head H] [--width W] [--classes K]\n"
	"                    [--seed S] [--size WxH]\n\n"
	"Writes the network as a standard ONNX model (opset 13, no custom operators).\n"
	"Input \"image\": float32 (N, 3, H, W), RGB values 0..255; the checkpoint's\n"
	"normalization and padding to multiples of 32 happen inside. Outputs \"logits\":\n"
	"float32 (N, K, H, W) and \"labels\": int64 (N, H, W), as knseg predict computes\n"
	"them for a whole image. The classes, colours, mean and std are in the model's\n"
	"metadata_props. Without --checkpoint, a network with freshly initialized\n"
	"weights (Kaiming-normal, zero biases) and the default normalization.\n",
	export_opts,
	false,
};

/* The metadata_props of the model: keys and values, all owned (freed by free_meta). */
struct meta_list {
	char *kv[2 * 16];
	int n;
};

static void add_meta(struct meta_list *l, const char *key, char *value)
{
	CHECK(l->n < 16);
	l->kv[2 * l->n] = xformat("%s", key);
	l->kv[2 * l->n + 1] = value;
	l->n++;
}

static void free_meta(struct meta_list *l)
{
	for (int i = 0; i < 2 * l->n; i++)
		free(l->kv[i]);
}

/* The shortest decimal text that reads back as v (at most 9 digits, float's limit). */
static void float_text(char out[32], float v)
{
	for (int digits = 1; digits <= 9; digits++) {
		snprintf(out, 32, "%.*g", digits, (double)v);
		if (strtof(out, NULL) == v)
			return;
	}
}

static char *triple(const float v[3])
{
	char a[32], b[32], c[32];

	float_text(a, v[0]);
	float_text(b, v[1]);
	float_text(c, v[2]);
	return xformat("%s,%s,%s", a, b, c);
}

/* "r g b" per class, comma-separated: the checkpoint's colours format. */
static char *colors_text(const struct knseg *ks)
{
	int k = knseg_num_classes(ks);
	char *s = xmalloc((size_t)k * 12 + 1);
	size_t len = 0;

	s[0] = '\0';
	for (int i = 0; i < k; i++) {
		uint8_t rgb[3];

		knseg_class_color(ks, i, rgb);
		len += (size_t)sprintf(s + len, "%s%d %d %d", i ? "," : "", rgb[0], rgb[1], rgb[2]);
	}
	return s;
}

static void collect_meta(struct meta_list *l, const struct knseg *ks,
			 const struct checkpoint_meta *m, enum knorm_mode mode)
{
	add_meta(l, "producer", xformat("knseg %s", knseg_version()));
	add_meta(l, "arch", xformat("%s", net_arch_name(m->cfg.arch)));
	add_meta(l, "head", xformat("%s", net_head_name(m->cfg.head)));
	{
		char w[32];

		float_text(w, m->cfg.width);
		add_meta(l, "width", xformat("%s", w));
	}
	add_meta(l, "num_classes", xformat("%d", m->cfg.num_classes));
	add_meta(l, "classes", xformat("%s", m->classes));
	add_meta(l, "colors", colors_text(ks));
	add_meta(l, "mean", triple(m->mean));
	add_meta(l, "std", triple(m->std));
	add_meta(l, "kn_eval", xformat("%s", knorm_mode_name(mode)));
	add_meta(l, "input", xformat("image: float32 (N, 3, H, W), RGB 0..255; normalized "
				     "inside as (x / 255 - mean) / std"));
}

static int export_model(const struct export_cmd *o, const struct knseg *ks, size_t *bytes)
{
	const struct checkpoint_meta *m = knseg_checkpoint_meta(ks);
	struct onnx_spec spec = {
		.cfg = m->cfg,
		.params = knseg_params(ks),
		.kn_eval = m->kn_eval,
		.height = o->h,
		.width = o->w,
		.producer_version = knseg_version(),
	};
	struct meta_list meta = {.n = 0};
	unsigned char *buf;
	size_t len;
	int err;

	if (o->kn_eval && knorm_mode_parse(o->kn_eval, &spec.kn_eval) < 0)
		return KN_EINVAL;
	memcpy(spec.mean, m->mean, sizeof spec.mean);
	memcpy(spec.std, m->std, sizeof spec.std);
	collect_meta(&meta, ks, m, spec.kn_eval);
	spec.meta = (const char *const *)meta.kv;
	spec.nmeta = meta.n;
	err = onnx_encode(&spec, &buf, &len);
	free_meta(&meta);
	*bytes = len;
	err = atomic_write_encoded(o->onnx, err, buf, len);
	return err;
}

/* A struct knseg over an untrained network of o's configuration; *owner holds the
 * parameters (destroyed by the caller after ks). */
static int open_untrained(const struct export_cmd *o, struct knseg **ks, struct model **owner)
{
	struct checkpoint_meta meta;
	struct net_config cfg = net_config_default(o->net.arch, o->net.head, o->net.num_classes);
	int err;

	cfg.width = o->net.width;
	if ((err = model_create(owner, &cfg, 1, 32, 32, MODEL_EVAL)) < 0)
		return err;
	model_init_weights(*owner, o->seed);
	checkpoint_meta_default(&meta, &cfg);
	if ((err = knseg_wrap(ks, &meta, *owner)) < 0) {
		model_destroy(*owner);
		*owner = NULL;
	}
	return err;
}

int cmd_export(int argc, char **argv)
{
	struct export_cmd o = {0};
	struct knseg *ks;
	struct model *owner = NULL;
	size_t bytes = 0;
	int rc = opt_parse(&export_command, argc, argv, &o, NULL);

	if (rc)
		return rc < 0 ? 0 : rc;
	if (o.checkpoint ? knseg_open(&ks, o.checkpoint) < 0 : open_untrained(&o, &ks, &owner) < 0)
		return die("%s", knseg_errmsg());
	rc = export_model(&o, ks, &bytes);
	if (rc == KN_EINVAL) {
		knseg_close(ks);
		model_destroy(owner);
		return usage_error("export", "%s", kn_errmsg());
	}
	if (rc < 0) {
		knseg_close(ks);
		model_destroy(owner);
		return die("%s", kn_errmsg());
	}
	{
		const struct checkpoint_meta *m = knseg_checkpoint_meta(ks);

		printf("wrote %s: %s %s width %g, %d classes, ONNX opset %d, %zu bytes\n",
		       o.onnx, net_arch_name(m->cfg.arch), net_head_name(m->cfg.head),
		       (double)m->cfg.width, m->cfg.num_classes, ONNX_OPSET, bytes);
	}
	knseg_close(ks);
	model_destroy(owner);
	return 0;
}
