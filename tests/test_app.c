/*
 * The program end to end on a tiny synthetic dataset: train, eval, predict, score.
 * - eval and score agree exactly on the masks predict wrote;
 * - predict mirrors input names, writes every format, keeps existing outputs unless
 *   --force, reports a corrupt image by name and still does the others, and an image
 *   too large for the memory at hand too;
 * - score takes a sample's prediction only by its exact name, never another sample's
 *   whose name starts with it;
 * - sliding windows: the stride follows --crop, a stride beyond the window is refused;
 * - bench --ops lists every layer once, as many as its table of op kinds counts;
 * - --json FILE writes what --json - prints alone (eval, score, data, bench), and every
 *   command's --help fits 80 columns (score reads the masks the first test predicts);
 * - corrupt or foreign checkpoints, mismatched datasets, unknown flags and bad values
 *   end with a one-line message and a non-zero status.
 */
#include "tests/testutil.h"

#include "tests/dstest.h"
#include "io/file.h"
#include "io/image.h"
#include "io/label.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *dir;

static int setup(void **state)
{
	char args[2048];

	(void)state;
	if (!knseg_program_or_skip())
		return 0;
	dir = tmpdir_create();
	snprintf(args, sizeof(args), "synth --out %s/syn --train 4 --val 2 --size 128x64 --seed 9",
		 dir);
	assert_int_equal(run_knseg(dir, args, NULL, NULL), 0);
	snprintf(args, sizeof(args),
		 "train --root %s/syn --out %s/run --width 0.0625 --crop 128x64 --batch 2 "
		 "--iters 4 --val-every 2 --lr 0.02", dir, dir);
	assert_int_equal(run_knseg(dir, args, NULL, NULL), 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	tmpdir_remove(dir);
	return 0;
}

static char *read_text(const char *path)
{
	unsigned char *buf;
	size_t len;

	assert_int_equal(file_read_all(path, &buf, &len), 0);
	return (char *)buf;
}

static void test_eval_predict_score_agree(void **state)
{
	char args[4096], a[600], b[600], *ja, *jb;
	struct label_image lab;

	(void)state;
	snprintf(args, sizeof(args),
		 "eval --checkpoint %s/run/best.safetensors --root %s/syn --json %s/eval.json "
		 "--md %s/eval.md --csv %s/eval.csv --heatmap %s/confusion.png --quiet",
		 dir, dir, dir, dir, dir, dir);
	assert_int_equal(run_knseg(dir, args, NULL, NULL), 0);
	snprintf(args, sizeof(args),
		 "predict --checkpoint %s/run/best.safetensors --out %s/pred --quiet "
		 "--format trainid,labelid,color,overlay --save-logits %s/syn/leftImg8bit/val",
		 dir, dir, dir);
	assert_int_equal(run_knseg(dir, args, NULL, NULL), 0);
	snprintf(a, sizeof(a), "%s/pred/synth/synth_000000_000000_leftImg8bit_labelIds.png", dir);
	assert_int_equal(label_read(a, &lab), 0);
	assert_int_equal(lab.w, 128);
	for (int i = 0; i < lab.w * lab.h; i++)
		assert_true(lab.u8[i] != 255 && lab.u8[i] <= 33);
	label_free(&lab);
	snprintf(a, sizeof(a), "%s/pred/synth/synth_000000_000001_leftImg8bit_overlay.jpg", dir);
	assert_true(access(a, R_OK) == 0);
	snprintf(a, sizeof(a), "%s/pred/synth/synth_000000_000001_leftImg8bit_logits.npy", dir);
	assert_true(access(a, R_OK) == 0);
	snprintf(args, sizeof(args), "score --pred %s/pred --root %s/syn --json %s/score.json --quiet",
		 dir, dir, dir);
	assert_int_equal(run_knseg(dir, args, NULL, NULL), 0);
	snprintf(a, sizeof(a), "%s/eval.json", dir);
	snprintf(b, sizeof(b), "%s/score.json", dir);
	ja = read_text(a);
	jb = read_text(b);
	assert_string_equal(ja, jb);
	free(ja), free(jb);
	/* Existing outputs are kept unless --force. */
	assert_int_equal(run_knseg(dir, args, NULL, NULL), 0); /* score writes reports again */
	snprintf(args, sizeof(args),
		 "predict --checkpoint %s/run/best.safetensors --out %s/pred --quiet %s/syn/leftImg8bit/val",
		 dir, dir, dir);
	assert_int_equal(run_knseg(dir, args, NULL, &ja), 1);
	assert_non_null(strstr(ja, "exists"));
	free(ja);
}

static void test_predict_reports_bad_images(void **state)
{
	char args[4096], path[600], *out, *err;

	(void)state;
	snprintf(path, sizeof(path), "%s/mixed/bad.png", dir);
	snprintf(args, sizeof(args), "mkdir -p %s/mixed && cp %s/syn/leftImg8bit/val/synth/*_000000_000000_* "
		 "%s/mixed/good.png && head -c 100 %s/mixed/good.png > %s", dir, dir, dir, dir, path);
	assert_int_equal(system(args), 0);
	snprintf(args, sizeof(args), "predict --checkpoint %s/run/best.safetensors --out %s/mout %s/mixed",
		 dir, dir, dir);
	assert_int_equal(run_knseg(dir, args, &out, &err), 1);
	assert_non_null(strstr(err, "bad.png"));
	assert_non_null(strstr(out, "2 images, 1 failed"));
	snprintf(path, sizeof(path), "%s/mout/good_trainIds.png", dir);
	assert_true(access(path, R_OK) == 0);
	free(out), free(err);
}

/* Runs a shell command line made from fmt, which must succeed. */
static void shell(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void shell(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (system(cmd) != 0)
		fail_msg("'%s' failed", cmd);
}

/* "predict --checkpoint CKPT --quiet REST", its status, stdout and stderr. */
static int predict(const char *rest, char **out, char **err)
{
	char args[4096];

	snprintf(args, sizeof(args), "predict --checkpoint %s/run/best.safetensors --quiet %s",
		 dir, rest);
	return run_knseg(dir, args, out, err);
}

static bool exists(const char *fmt, const char *name)
{
	char path[1024];

	snprintf(path, sizeof(path), fmt, dir, name);
	return access(path, F_OK) == 0;
}

/* Symbolic links to folders above, to the folder itself and to a taken file, and an
 * input given twice: every image once. */
static void test_predict_walks_each_file_once(void **state)
{
	char rest[2048], *out;

	(void)state;
	shell("mkdir -p %s/cyc/d && cp %s/syn/leftImg8bit/val/synth/*_000000_000000_* %s/cyc/d/x.png"
	      " && ln -s . %s/cyc/d/self && ln -s .. %s/cyc/d/up && ln -s x.png %s/cyc/d/y.png",
	      dir, dir, dir, dir, dir, dir);
	snprintf(rest, sizeof(rest), "--out %s/cycout %s/cyc %s/cyc/d/x.png %s/cyc", dir, dir, dir,
		 dir);
	assert_int_equal(predict(rest, &out, NULL), 0);
	assert_non_null(strstr(out, "predict: 1 image, 0 failed"));
	assert_true(exists("%s/cycout/d/%s", "x_trainIds.png"));
	free(out);
}

/* Inputs whose outputs would share names: the extension is kept when only it differs;
 * otherwise the later input fails, naming both, and nothing is overwritten. */
static void test_predict_output_names_unique(void **state)
{
	char rest[2048], *out, *err;

	(void)state;
	shell("mkdir -p %s/u/a %s/u/b %s/u/c && for f in u/a/x.png u/b/x.png u/c/x.png u/c/x.jpg; do "
	      "cp %s/syn/leftImg8bit/val/synth/*_000000_000000_* %s/$f; done",
	      dir, dir, dir, dir, dir);
	snprintf(rest, sizeof(rest), "--force --out %s/uout %s/u/a/x.png %s/u/b/x.png", dir, dir,
		 dir);
	assert_int_equal(predict(rest, &out, &err), 1);
	assert_non_null(strstr(out, "2 images, 1 failed"));
	assert_non_null(strstr(err, "u/a/x.png'"));
	assert_non_null(strstr(err, "u/b/x.png'"));
	free(out), free(err);
	snprintf(rest, sizeof(rest), "--out %s/cout %s/u/c", dir, dir);
	assert_int_equal(predict(rest, &out, NULL), 0);
	assert_non_null(strstr(out, "2 images, 0 failed"));
	assert_true(exists("%s/cout/%s", "x.png_trainIds.png"));
	assert_true(exists("%s/cout/%s", "x.jpg_trainIds.png"));
	free(out);
}

/* An output that would replace one of the inputs is refused even with --force. */
static void test_predict_keeps_inputs(void **state)
{
	char rest[2048], a[600], b[600], *out;

	(void)state;
	shell("mkdir -p %s/k && cp %s/syn/leftImg8bit/val/synth/*_000000_000000_* %s/k/x.png && "
	      "cp %s/syn/leftImg8bit/val/synth/*_000000_000001_* %s/k/x_trainIds.png && "
	      "cp %s/k/x_trainIds.png %s/k_copy.png", dir, dir, dir, dir, dir, dir, dir);
	snprintf(rest, sizeof(rest), "--force --out %s/k %s/k/x.png %s/k/x_trainIds.png", dir, dir,
		 dir);
	assert_int_equal(predict(rest, &out, NULL), 1);
	assert_non_null(strstr(out, "2 images, 1 failed"));
	snprintf(a, sizeof(a), "%s/k/x_trainIds.png", dir);
	snprintf(b, sizeof(b), "%s/k_copy.png", dir);
	shell("cmp -s '%s' '%s'", a, b);
	free(out);
}

/* --out inside an input folder, also through a link: later runs do not read it back. */
static void test_predict_skips_output_folder(void **state)
{
	char rest[2048], *out;

	(void)state;
	shell("mkdir -p %s/o/in %s/o/away && cp %s/syn/leftImg8bit/val/synth/*_000000_000000_* "
	      "%s/o/in/x.png && ln -s ../away %s/o/in/link", dir, dir, dir, dir, dir);
	for (int run = 0; run < 4; run++) {
		if (run == 2)
			shell("rm -r %s/o/in/pred", dir);
		snprintf(rest, sizeof(rest), "--force --out %s/o/%s %s/o/in", dir,
			 run < 2 ? "in/pred" : "away", dir);
		assert_int_equal(predict(rest, &out, NULL), 0);
		assert_non_null(strstr(out, "predict: 1 image, 0 failed"));
		free(out);
	}
	snprintf(rest, sizeof(rest), "--out %s/o/in/ %s/o/in", dir, dir);
	assert_int_equal(predict(rest, NULL, NULL), 2);
}

/* FIFOs, empty folders and names with a newline: one line per problem, no hang. */
static void test_predict_special_inputs(void **state)
{
	char rest[2048], *out, *err;

	(void)state;
	shell("mkdir -p %s/s/empty %s/s/f && mkfifo %s/s/pipe.png %s/s/f/pipe.png && "
	      "printf 'junk' > \"%s/s/f/new\nline.png\"", dir, dir, dir, dir, dir);
	snprintf(rest, sizeof(rest), "--out %s/sout %s/s/f %s/s/empty", dir, dir, dir);
	assert_int_equal(predict(rest, NULL, &err), 1);
	assert_non_null(strstr(err, "no images in folder"));
	free(err);
	snprintf(rest, sizeof(rest), "--out %s/sout %s/s/pipe.png %s/s/f", dir, dir, dir);
	assert_int_equal(predict(rest, &out, &err), 1);
	assert_non_null(strstr(err, "s/pipe.png': not a regular file"));
	assert_non_null(strstr(err, "s/f/pipe.png': not a regular file"));
	assert_non_null(strstr(err, "new\\nline.png"));
	for (const char *p = err; *p; p = strchr(p, '\n') + 1)
		assert_true(strncmp(p, "knseg", 5) == 0);
	assert_non_null(strstr(out, "3 images, 3 failed"));
	free(out), free(err);
}

/* --format: repeats are harmless; empty and unknown entries are usage errors. */
static void test_predict_formats(void **state)
{
	char rest[2048], list[400] = "", *err;

	(void)state;
	for (int i = 0; i < 30; i++)
		strcat(list, "trainid,");
	strcat(list, "color");
	snprintf(rest, sizeof(rest), "--out %s/fout --format %s %s/syn/leftImg8bit/val", dir, list,
		 dir);
	assert_int_equal(predict(rest, NULL, NULL), 0);
	assert_true(exists("%s/fout/synth/%s", "synth_000000_000000_leftImg8bit_color.png"));
	snprintf(rest, sizeof(rest), "--out %s/fout --format trainid,,color %s/syn", dir, dir);
	assert_int_equal(predict(rest, NULL, &err), 2);
	assert_non_null(strstr(err, "empty entry"));
	free(err);
}

/* The line after the one p is in. */
static const char *next_line(const char *p)
{
	p = strchr(p, '\n');
	assert_non_null(p);
	return p + 1;
}

/*
 * The ops of one "knseg bench --ops" section: the kinds table's counts (up to "rest")
 * added up, and the layer lines that follow "layers, slowest first" counted.
 */
static void bench_ops_counts(const char *out, const char *section, int *kinds, int *layers)
{
	const char *p = strstr(out, section);
	char name[64];
	int count;

	assert_non_null(p);
	*kinds = *layers = 0;
	/* Past the section's title and the table's column names. */
	for (p = next_line(next_line(p)); strncmp(p, "rest ", 5); p = next_line(p)) {
		assert_int_equal(sscanf(p, "%63s %d", name, &count), 2);
		*kinds += count;
	}
	p = next_line(p);
	assert_true(strncmp(p, "layers, slowest first", 21) == 0);
	for (p = next_line(p); strncmp(p, "  ", 2) == 0; p = next_line(p))
		++*layers;
}

/* bench --ops: per kind of op, then every layer once, for inference and training. */
static void test_bench_ops(void **state)
{
	static const char *const sections[] = {"forward (inference), mean ms per iteration",
					       "training step, mean ms per iteration"};
	char *out;

	(void)state;
	assert_int_equal(run_knseg(dir,
				   "bench --ops --width 0.0625 --size 64x32 --batch 1 --iters 1 "
				   "--warmup 0 --threads 1",
				   &out, NULL),
			 0);
	for (int i = 0; i < 2; i++) {
		int kinds, layers;

		bench_ops_counts(out, sections[i], &kinds, &layers);
		assert_true(layers > 10);
		assert_int_equal(kinds, layers);
	}
	assert_non_null(strstr(out, "\n  head.cls "));
	free(out);
}

/*
 * --json FILE writes the JSON and keeps the text; --json - writes the same JSON to
 * standard output alone. Two formats cannot share standard output.
 */
static void test_json_convention(void **state)
{
	static const char *const commands[] = {
		"eval --checkpoint %s/run/best.safetensors --root %s/syn",
		"score --pred %s/pred --root %s/syn",
		"data --root %s/syn --split val",
		"bench --width 0.0625 --size 64x32 --batch 1 --iters 1 --warmup 0 --threads 1",
	};
	char args[4096], path[600], *out, *file, *err;

	(void)state;
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		int n = snprintf(args, sizeof(args), commands[i], dir, dir);

		snprintf(path, sizeof(path), "%s/convention_%zu.json", dir, i);
		snprintf(args + n, sizeof(args) - (size_t)n, " --json %s", path);
		assert_int_equal(run_knseg(dir, args, &out, NULL), 0);
		assert_true(out[0] != '{'); /* the text came first */
		free(out);
		file = read_text(path);
		assert_true(file[0] == '{' && file[strlen(file) - 1] == '\n');
		snprintf(args + n, sizeof(args) - (size_t)n, " --json -");
		assert_int_equal(run_knseg(dir, args, &out, NULL), 0);
		assert_true(out[0] == '{');
		if (i != 3) /* bench times differ from run to run */
			assert_string_equal(out, file);
		else
			assert_true(strchr(out, '\n') == out + strlen(out) - 1); /* one line */
		free(out);
		free(file);
	}
	snprintf(args, sizeof(args), "eval --checkpoint %s/run/best.safetensors --root %s/syn "
		 "--json - --csv -", dir, dir);
	assert_int_equal(run_knseg(dir, args, NULL, &err), 2);
	assert_non_null(strstr(err, "standard output"));
	free(err);
	snprintf(args, sizeof(args), "score --pred %s/pred --root %s/syn --md -", dir, dir);
	assert_int_equal(run_knseg(dir, args, &out, NULL), 0);
	assert_true(!strncmp(out, "#", 1) || !strncmp(out, "|", 1));
	free(out);
}

/* Every command's --help exits 0 (so the defaults in its table parse) in 80 columns. */
static void test_every_help(void **state)
{
	static const char *const commands[] = {"train", "eval",  "predict", "score",
					       "data",  "info",  "bench",   "synth"};
	char args[64], *out;

	(void)state;
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		snprintf(args, sizeof(args), "%s --help", commands[i]);
		assert_int_equal(run_knseg(dir, args, &out, NULL), 0);
		assert_non_null(strstr(out, "usage: knseg "));
		assert_non_null(strstr(out, "--help"));
		for (char *line = out, *end; *line; line = end + 1) {
			end = strchr(line, '\n');
			assert_non_null(end);
			if (end - line > 80)
				fail_msg("knseg %s --help: a line of %d columns", commands[i],
					 (int)(end - line));
		}
		free(out);
	}
}

/* Each command with bad words exits non-zero and says why on one line. */
static void test_errors(void **state)
{
	static const char *const bad[] = {
		"frobnicate",
		"train --nope",
		"eval --checkpoint tests/fixtures/train_step_label.png --root %s/syn",
		"eval --checkpoint %s/nothing.safetensors --root %s/syn",
		"eval --checkpoint tests/fixtures/models_knresnet18_fcn_weights.safetensors --root %s/syn",
		"eval --checkpoint %s/run/best.safetensors --root %s/missing",
		"predict --checkpoint %s/run/best.safetensors --out %s/x %s/none.png",
		"predict --checkpoint %s/run/best.safetensors --out %s/x --format gif %s/syn",
		"predict --checkpoint %s/run/best.safetensors --out %s/x --scales 0,1 %s/syn",
		"score --pred %s/empty --root %s/syn",
		"info --arch knresnet99",
		"info --width -1",
		"bench --size 33x32",
		"bench --ops --json -",
		"synth --out %s/syn2 --size 0x0",
		"data --root %s/missing",
	};
	char args[4096], *err;

	(void)state;
	snprintf(args, sizeof(args), "mkdir -p %s/empty", dir);
	assert_int_equal(system(args), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc;

		snprintf(args, sizeof(args), bad[i], dir, dir, dir);
		rc = run_knseg(dir, args, NULL, &err);
		if (rc == 0 || !strstr(err, "knseg") || !strchr(err, '\n'))
			fail_msg("'%s': status %d, stderr '%s'", args, rc, err);
		free(err);
	}
}

/* A w x h file under root of the one label value v. */
static void write_flat(const char *root, const char *name, uint8_t v)
{
	uint8_t vals[16 * 8];
	char path[1024];

	memset(vals, v, sizeof(vals));
	snprintf(path, sizeof(path), "%s/%s", root, name);
	dstest_write_values(path, 16, 8, vals);
}

/* Runs score on root's list and returns its status; err (may be NULL) gets stderr. */
static int score_list(const char *root, const char *extra, char **err)
{
	char args[4096];

	snprintf(args, sizeof(args), "score --pred %s/pred --dataset list --list %s/val.txt "
		 "--classes camvid --quiet --json %s/s.json %s", root, root, root, extra);
	return run_knseg(root, args, NULL, err);
}

/* A folder with a CamVid list val.txt of samples q (all Sky) and q_z (all Road). */
static char *score_list_create(void)
{
	char *root = tmpdir_create(), path[1024];

	for (int i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/%s.png", root, i ? "q_z" : "q");
		dstest_write_image(path, 16, 8, i);
	}
	write_flat(root, "q_L.png", 0);
	write_flat(root, "q_z_L.png", 3);
	snprintf(path, sizeof(path), "%s/val.txt", root);
	dstest_write_str(path, "q.png q_L.png\nq_z.png q_z_L.png\n");
	return root;
}

/* Samples q and q_z: q never takes q_z's prediction, present or not. */
static void test_score_exact_names(void **state)
{
	char *root, path[1024], *err, *json;

	(void)state;
	if (!knseg_program_or_skip())
		return;
	root = score_list_create();
	write_flat(root, "pred/q_trainIds.png", 0);
	write_flat(root, "pred/sub/q_z_trainIds.png", 3);
	assert_int_equal(score_list(root, "", NULL), 0);
	snprintf(path, sizeof(path), "%s/s.json", root);
	json = read_text(path);
	assert_non_null(strstr(json, "\"aAcc\":1,"));
	free(json);
	/* A second file of the same name is not silently preferred. */
	write_flat(root, "pred/old/q_trainIds.png", 3);
	assert_int_equal(score_list(root, "", &err), 1);
	assert_non_null(strstr(err, "several predictions for 'q'"));
	free(err);
	snprintf(path, sizeof(path), "rm %s/pred/q_trainIds.png %s/pred/old/q_trainIds.png",
		 root, root);
	assert_int_equal(system(path), 0);
	assert_int_equal(score_list(root, "", &err), 1);
	assert_non_null(strstr(err, "no prediction for 'q' "));
	free(err);
	/* Plain NAME.png is taken too, but a file of the other format is not. */
	write_flat(root, "pred/q.png", 0);
	assert_int_equal(score_list(root, "", NULL), 0);
	write_flat(root, "pred/q_labelIds.png", 0);
	snprintf(path, sizeof(path), "rm %s/pred/q.png", root);
	assert_int_equal(system(path), 0);
	assert_int_equal(score_list(root, "", &err), 1);
	assert_non_null(strstr(err, "--pred-format labelid"));
	free(err);
	tmpdir_remove(root);
}

/* A prediction that is no class index (CamVid's void 11, an ignore 255) is an error. */
static void test_score_prediction_values(void **state)
{
	static const uint8_t bad[] = {11, 255};
	char *root, *err;

	(void)state;
	if (!knseg_program_or_skip())
		return;
	root = score_list_create();
	write_flat(root, "pred/q_z_trainIds.png", 3);
	for (int i = 0; i < 2; i++) {
		char want[128];

		write_flat(root, "pred/q_trainIds.png", bad[i]);
		assert_int_equal(score_list(root, "", &err), 1);
		snprintf(want, sizeof(want), "q_trainIds.png': prediction %d at (0, 0) is not a "
			 "class index (0..10)", bad[i]);
		if (!strstr(err, want))
			fail_msg("stderr '%s' lacks '%s'", err, want);
		free(err);
	}
	tmpdir_remove(root);
}

/* Two listed images of one name (q.png, sub/q.png) cannot share q's prediction. */
static void test_score_duplicate_names(void **state)
{
	char *root, path[1024], *err;

	(void)state;
	if (!knseg_program_or_skip())
		return;
	root = score_list_create();
	snprintf(path, sizeof(path), "%s/sub/q.png", root);
	dstest_write_image(path, 16, 8, 1);
	snprintf(path, sizeof(path), "%s/val.txt", root);
	dstest_write_str(path, "q.png q_L.png\nsub/q.png q_z_L.png\n");
	write_flat(root, "pred/q_trainIds.png", 0);
	assert_int_equal(score_list(root, "", &err), 1);
	assert_non_null(strstr(err, "/sub/q.png' are both named 'q'"));
	free(err);
	/* The same image listed twice is scored twice against its one prediction. */
	dstest_write_str(path, "q.png q_L.png\nq.png q_L.png\n");
	assert_int_equal(score_list(root, "", NULL), 0);
	tmpdir_remove(root);
}

/* Two label PNGs hold the same values. */
static void assert_same_labels(const char *a, const char *b)
{
	struct label_image la, lb;

	assert_int_equal(label_read(a, &la), 0);
	assert_int_equal(label_read(b, &lb), 0);
	assert_int_equal(la.w, lb.w);
	assert_int_equal(la.h, lb.h);
	assert_memory_equal(la.u8, lb.u8, (size_t)la.w * la.h);
	label_free(&la);
	label_free(&lb);
}

/*
 * --crop alone: windows every 3/4 of the window, as --stride 24x24 says for 32x32
 * windows (with the former 768x384 stride most pixels had no window and came out 0).
 * A stride larger than the window is a usage error.
 */
static void test_slide_stride_follows_crop(void **state)
{
	static const char *const strides[] = {"", "--stride 24x24"};
	char args[4096], a[600], b[600], *err;

	(void)state;
	for (int i = 0; i < 2; i++) {
		snprintf(args, sizeof(args),
			 "predict --checkpoint tests/fixtures/models_knresnet18_fpn_weights.safetensors "
			 "--out %s/slide%d --quiet --format trainid --mode slide --crop 32x32 %s "
			 "%s/syn/leftImg8bit/val", dir, i, strides[i], dir);
		assert_int_equal(run_knseg(dir, args, NULL, NULL), 0);
	}
	snprintf(a, sizeof(a), "%s/slide0/synth/synth_000000_000000_leftImg8bit_trainIds.png", dir);
	snprintf(b, sizeof(b), "%s/slide1/synth/synth_000000_000000_leftImg8bit_trainIds.png", dir);
	assert_same_labels(a, b);
	snprintf(args, sizeof(args),
		 "predict --checkpoint %s/run/best.safetensors --out %s/slide2 --mode slide "
		 "--stride 40x24 --crop 32x32 %s/syn/leftImg8bit/val", dir, dir, dir);
	assert_int_equal(run_knseg(dir, args, NULL, &err), 2);
	assert_non_null(strstr(err, "--stride 40x24 is larger than the window 32x32"));
	free(err);
	snprintf(args, sizeof(args),
		 "eval --checkpoint %s/run/best.safetensors --root %s/syn --stride 2000x100", dir,
		 dir);
	assert_int_equal(run_knseg(dir, args, NULL, &err), 2);
	assert_non_null(strstr(err, "--stride 2000x100 is larger than the window 1024x512"));
	free(err);
}

/*
 * Under an address-space limit that one 128x64 image fits in easily, a 8192x2048 image
 * (its class scores alone need 1.2 GB) fails with a message naming it and the bytes
 * needed, and the small image in the same run still gets its mask. OpenBLAS's start-up
 * reserves memory per core, so the run is held to one thread.
 */
static void test_predict_image_too_large_for_memory(void **state)
{
	char args[4096], path[600], *out, *err;
	struct image big;

	(void)state;
	if (TEST_ASAN) {
		printf("skipped: AddressSanitizer cannot run under an address-space limit\n");
		skip();
	}
	image_init(&big, 8192, 2048);
	snprintf(path, sizeof(path), "%s/sizes/big.png", dir);
	snprintf(args, sizeof(args), "mkdir -p %s/sizes && cp %s/syn/leftImg8bit/val/synth/"
		 "*_000000_000000_* %s/sizes/small.png", dir, dir, dir);
	assert_int_equal(system(args), 0);
	assert_int_equal(image_write_png(path, &big), 0);
	image_free(&big);
	snprintf(args, sizeof(args), "predict --checkpoint %s/run/best.safetensors --out %s/sout "
		 "--threads 1 %s/sizes", dir, dir, dir);
	assert_int_equal(run_knseg_with(dir, "ulimit -v 1000000; OPENBLAS_NUM_THREADS=1 timeout 120",
					args, &out, &err), 1);
	assert_non_null(strstr(err, "big.png': image of 8192 x 2048: out of memory allocating"));
	assert_non_null(strstr(out, "2 images, 1 failed"));
	snprintf(path, sizeof(path), "%s/sout/small_trainIds.png", dir);
	assert_true(access(path, R_OK) == 0);
	free(out), free(err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_eval_predict_score_agree),
		cmocka_unit_test(test_predict_reports_bad_images),
		cmocka_unit_test(test_predict_walks_each_file_once),
		cmocka_unit_test(test_predict_output_names_unique),
		cmocka_unit_test(test_predict_keeps_inputs),
		cmocka_unit_test(test_predict_skips_output_folder),
		cmocka_unit_test(test_predict_special_inputs),
		cmocka_unit_test(test_predict_formats),
		cmocka_unit_test(test_score_exact_names),
		cmocka_unit_test(test_score_prediction_values),
		cmocka_unit_test(test_score_duplicate_names),
		cmocka_unit_test(test_slide_stride_follows_crop),
		cmocka_unit_test(test_predict_image_too_large_for_memory),
		cmocka_unit_test(test_bench_ops),
		cmocka_unit_test(test_json_convention),
		cmocka_unit_test(test_every_help),
		cmocka_unit_test(test_errors),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
