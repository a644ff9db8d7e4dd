/*
 * Class tables: the Cityscapes and CamVid presets, the class table file format
 * (parsed from memory, written back by class_table_format) and the mapping of raw
 * label values to class indices. See dataset.h for the format.
 *
 * Parsing is strict and line-oriented: every problem is KN_EFORMAT with the file name
 * and line number, and the first one stops the parse. A table has at most CLASS_MAX
 * classes so class indices never reach CLASS_IGNORE.
 */
#include "datasets/cityscapes_labels.h"
#include "datasets/dataset.h"
#include "datasets/dataset_build.h"
#include "io/alloc.h"
#include "io/error.h"
#include "io/file.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The CamVid classes and colours of the CamVid class table; raw 11 is void. */
static const struct {
	const char *name;
	uint8_t color[3];
} camvid_classes[] = {
	{"Sky", {128, 128, 128}},     {"Building", {128, 0, 0}}, {"Pole", {192, 192, 128}},
	{"Road", {128, 64, 128}},     {"Pavement", {60, 40, 222}}, {"Tree", {128, 128, 0}},
	{"SignSymbol", {192, 128, 128}}, {"Fence", {64, 64, 128}}, {"Car", {64, 0, 128}},
	{"Pedestrian", {64, 64, 0}},  {"Bicyclist", {0, 128, 192}},
};

#define CAMVID_NUM_CLASSES 11
#define CAMVID_VOID 11

void class_table_init(struct class_table *t)
{
	memset(t, 0, sizeof(*t));
	for (int v = 0; v < 256; v++)
		t->map[v] = CLASS_INVALID;
}

/* Appends class k = t->num_classes (the caller maps its raw values). */
static void add_class(struct class_table *t, const char *name, const uint8_t color[3])
{
	int k = t->num_classes++;

	CHECK(k < CLASS_MAX && strlen(name) < CLASS_NAME_MAX);
	strcpy(t->names[k], name);
	memcpy(t->colors[k], color, 3);
}

void class_table_cityscapes(struct class_table *t, bool label_ids)
{
	class_table_init(t);
	for (int k = 0; k < CITYSCAPES_NUM_TRAIN; k++)
		add_class(t, cityscapes_by_train_id(k)->name, cityscapes_by_train_id(k)->color);
	if (!label_ids) {
		for (int k = 0; k < CITYSCAPES_NUM_TRAIN; k++)
			t->map[k] = (int16_t)k;
		t->map[255] = CLASS_IGNORE;
		return;
	}
	for (int id = 0; id < CITYSCAPES_NUM_IDS; id++) {
		int tid = cityscapes_by_id(id)->train_id;

		t->map[id] = (int16_t)(tid < CITYSCAPES_NUM_TRAIN ? tid : CLASS_IGNORE);
	}
}

void class_table_camvid(struct class_table *t)
{
	class_table_init(t);
	for (int k = 0; k < CAMVID_NUM_CLASSES; k++) {
		add_class(t, camvid_classes[k].name, camvid_classes[k].color);
		t->map[k] = (int16_t)k;
	}
	t->map[CAMVID_VOID] = CLASS_IGNORE;
}

int class_table_preset(struct class_table *t, const char *name)
{
	if (!strcmp(name, "cityscapes"))
		class_table_cityscapes(t, false);
	else if (!strcmp(name, "camvid"))
		class_table_camvid(t);
	else
		return kn_error(KN_EINVAL, "unknown class table preset '%s' (cityscapes, camvid)",
				name);
	return 0;
}

/* ---- parsing ---- */

struct token {
	const char *s;
	size_t n;
	bool quoted;
};

struct parser {
	const char *name;            /* file, for messages */
	int line;                    /* 1-based number of the current line */
	const char *p, *end;         /* the rest of the current line */
	struct class_table *t;
	int raw_line[256];           /* line that used each raw value, 0 when unused */
	int class_line[CLASS_MAX];   /* line of each class */
	int listing;                 /* -1 not known yet, 0 no class lists raw values, 1 all */
};

static int parse_error(const struct parser *ps, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int parse_error(const struct parser *ps, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return kn_error(KN_EFORMAT, "'%s': line %d: %s", ps->name, ps->line, msg);
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* Shown length of a token in messages (a stray megabyte-long word stays readable). */
static int shown(const struct token *tok)
{
	return tok->n < 40 ? (int)tok->n : 40;
}

/* The next word or "quoted name" of the line: 1, or 0 at its end or a comment. */
static int next_token(struct parser *ps, struct token *tok)
{
	while (ps->p < ps->end && is_blank(*ps->p))
		ps->p++;
	if (ps->p == ps->end || *ps->p == '#')
		return 0;
	tok->quoted = *ps->p == '"';
	if (tok->quoted) {
		const char *close = memchr(ps->p + 1, '"', (size_t)(ps->end - ps->p - 1));

		if (!close)
			return parse_error(ps, "unterminated quoted name");
		tok->s = ps->p + 1;
		tok->n = (size_t)(close - tok->s);
		ps->p = close + 1;
		if (ps->p < ps->end && !is_blank(*ps->p))
			return parse_error(ps, "no blank after the quoted name \"%.*s\"",
					   shown(tok), tok->s);
		return 1;
	}
	tok->s = ps->p;
	while (ps->p < ps->end && !is_blank(*ps->p))
		ps->p++;
	tok->n = (size_t)(ps->p - tok->s);
	return 1;
}

/* A decimal integer 0..255 (digits only). */
static int token_byte(const struct parser *ps, const struct token *tok, const char *what,
		      int *out)
{
	int v = 0;
	bool ok = !tok->quoted && tok->n >= 1 && tok->n <= 3;

	for (size_t i = 0; ok && i < tok->n; i++) {
		ok = tok->s[i] >= '0' && tok->s[i] <= '9';
		v = v * 10 + (tok->s[i] - '0');
	}
	if (!ok || v > 255)
		return parse_error(ps, "%s '%.*s' is not an integer in 0..255", what, shown(tok),
				   tok->s);
	*out = v;
	return 0;
}

/* Maps raw value v to cls (a class or CLASS_IGNORE), once per file. */
static int use_raw(struct parser *ps, int v, int cls)
{
	if (ps->raw_line[v])
		return parse_error(ps, "raw value %d is already used on line %d", v,
				   ps->raw_line[v]);
	ps->raw_line[v] = ps->line;
	ps->t->map[v] = (int16_t)cls;
	return 0;
}

/* The raw values that end a class or ignore line; returns how many, or an error. */
static int parse_raw_values(struct parser *ps, int cls, const char *what)
{
	struct token tok;
	int n = 0, v = 0, err;

	while ((err = next_token(ps, &tok)) == 1) {
		if ((err = token_byte(ps, &tok, what, &v)) || (err = use_raw(ps, v, cls)))
			return err;
		n++;
	}
	return err < 0 ? err : n;
}

static int check_name(const struct parser *ps, const struct token *tok)
{
	const struct class_table *t = ps->t;

	if (tok->n == 0)
		return parse_error(ps, "empty class name");
	if (tok->n >= CLASS_NAME_MAX)
		return parse_error(ps, "class name '%.*s...' is longer than %d characters",
				   shown(tok), tok->s, CLASS_NAME_MAX - 1);
	for (size_t i = 0; i < tok->n; i++) {
		unsigned char c = (unsigned char)tok->s[i];

		if (c == ',' || c == '"')
			return parse_error(ps, "class name '%.*s' holds '%c' (names are printable "
					   "ASCII without ',' or '\"')", shown(tok), tok->s, c);
		if (c < ' ' || c > '~')
			return parse_error(ps, "class name holds byte 0x%02x (names are printable "
					   "ASCII without ',' or '\"')", c);
	}
	for (int k = 0; k < t->num_classes; k++)
		if (strlen(t->names[k]) == tok->n && !memcmp(t->names[k], tok->s, tok->n))
			return parse_error(ps, "class name '%s' is already used on line %d",
					   t->names[k], ps->class_line[k]);
	return 0;
}

/* NAME R G B [RAW...], the name already read into tok. */
static int parse_class(struct parser *ps, const struct token *tok)
{
	static const char *const channel[3] = {"red", "green", "blue"};
	struct class_table *t = ps->t;
	int k = t->num_classes, n, err;
	struct token c;

	if ((err = check_name(ps, tok)))
		return err;
	if (k == CLASS_MAX)
		return parse_error(ps, "more than %d classes", CLASS_MAX);
	memcpy(t->names[k], tok->s, tok->n);
	t->names[k][tok->n] = '\0';
	for (int i = 0; i < 3; i++) {
		int v = 0;

		if ((err = next_token(ps, &c)) < 0)
			return err;
		if (err == 0)
			return parse_error(ps, "class '%s' needs a colour R G B (0..255 each)",
					   t->names[k]);
		if ((err = token_byte(ps, &c, channel[i], &v)))
			return err;
		t->colors[k][i] = (uint8_t)v;
	}
	ps->class_line[k] = ps->line;
	t->num_classes++;
	if ((n = parse_raw_values(ps, k, "raw value")) < 0)
		return n;
	if (ps->listing >= 0 && ps->listing != (n > 0))
		return parse_error(ps, "class '%s' %s raw values but line %d %s (list them for "
				   "every class or for none)", t->names[k], n ? "lists" : "has no",
				   ps->class_line[0], n ? "has none" : "lists some");
	ps->listing = n > 0;
	return 0;
}

static int parse_line(struct parser *ps)
{
	struct token tok;
	int err = next_token(ps, &tok);

	if (err <= 0)
		return err;
	if (!tok.quoted && tok.n == 6 && !memcmp(tok.s, "ignore", 6)) {
		err = parse_raw_values(ps, CLASS_IGNORE, "ignored raw value");
		if (err == 0)
			return parse_error(ps, "'ignore' needs at least one raw value");
		return err < 0 ? err : 0;
	}
	return parse_class(ps, &tok);
}

/* Without listed raw values class k is raw value k; none of those may be ignored. */
static int map_implicit(struct parser *ps)
{
	struct class_table *t = ps->t;

	for (int k = 0; k < t->num_classes; k++) {
		if (ps->raw_line[k]) {
			ps->line = ps->raw_line[k];
			return parse_error(ps, "raw value %d is class '%s' (a table without raw "
					   "values maps class k to raw value k)", k, t->names[k]);
		}
		t->map[k] = (int16_t)k;
	}
	return 0;
}

static int parse_text(struct parser *ps, const char *text, size_t len)
{
	const char *end = text + len, *p = text;
	size_t start;
	int err = file_text_start(text, len, ps->name, &start);

	if (err)
		return err;
	p += start;
	for (ps->line = 1; p < end; ps->line++) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));

		ps->p = p;
		ps->end = nl ? nl : end;
		if (memchr(ps->p, '\0', (size_t)(ps->end - ps->p)))
			return parse_error(ps, "NUL byte (not a text file)");
		if ((err = parse_line(ps)))
			return err;
		p = nl ? nl + 1 : end;
	}
	if (ps->t->num_classes == 0)
		return kn_error(KN_EFORMAT, "'%s': no classes (lines 'NAME R G B [RAW...]')",
				ps->name);
	return ps->listing ? 0 : map_implicit(ps);
}

int class_table_parse(struct class_table *t, const char *text, size_t len, const char *name)
{
	struct parser *ps = xcalloc(1, sizeof(*ps));
	int err;

	class_table_init(t);
	ps->name = name;
	ps->t = t;
	ps->listing = -1;
	err = parse_text(ps, text, len);
	free(ps);
	if (err)
		class_table_init(t);
	return err;
}

int class_table_read(struct class_table *t, const char *path)
{
	unsigned char *data;
	size_t len;
	int err = file_read_all(path, &data, &len);

	if (err)
		return err;
	err = class_table_parse(t, (const char *)data, len, path);
	free(data);
	return err;
}

int class_table_load(struct class_table *t, const char *spec)
{
	const char *why;

	if (!strcmp(spec, "cityscapes") || !strcmp(spec, "camvid"))
		return class_table_preset(t, spec);
	why = dataset_file_problem(spec);
	if (why)
		return kn_error(KN_EIO, "class table '%s' is not a preset (cityscapes, camvid) "
				"and the file %s", spec, why);
	return class_table_read(t, spec);
}

/* ---- writing, comparing, mapping ---- */

/* Names that would not read back as a bare word are quoted. */
static bool needs_quotes(const char *name)
{
	return strchr(name, ' ') || name[0] == '#' || name[0] == '"' || !strcmp(name, "ignore");
}

static size_t put_raw_values(char *out, const struct class_table *t, int cls)
{
	size_t n = 0;

	for (int v = 0; v < 256; v++)
		if (t->map[v] == cls)
			n += (size_t)sprintf(out + n, " %d", v);
	return n;
}

char *class_table_format(const struct class_table *t)
{
	/* Every raw value is written at most once, in at most 4 characters. */
	size_t cap = (size_t)(t->num_classes + 4) * (CLASS_NAME_MAX + 24) + 256 * 4;
	char *out = xmalloc(cap);
	size_t n = 0;
	bool any_ignored = false;

	n += (size_t)sprintf(out, "# knseg class table: NAME R G B RAW..., then ignored raw "
				  "values\n");
	for (int k = 0; k < t->num_classes; k++) {
		const char *q = needs_quotes(t->names[k]) ? "\"" : "";

		n += (size_t)sprintf(out + n, "%s%s%s %d %d %d", q, t->names[k], q,
				     t->colors[k][0], t->colors[k][1], t->colors[k][2]);
		n += put_raw_values(out + n, t, k);
		out[n++] = '\n';
	}
	for (int v = 0; v < 256; v++)
		any_ignored |= t->map[v] == CLASS_IGNORE;
	if (any_ignored) {
		n += (size_t)sprintf(out + n, "ignore");
		n += put_raw_values(out + n, t, CLASS_IGNORE);
		out[n++] = '\n';
	}
	out[n] = '\0';
	CHECK(n < cap);
	return out;
}

bool class_table_equal(const struct class_table *a, const struct class_table *b)
{
	if (a->num_classes != b->num_classes || memcmp(a->map, b->map, sizeof(a->map)))
		return false;
	for (int k = 0; k < a->num_classes; k++)
		if (strcmp(a->names[k], b->names[k]) || memcmp(a->colors[k], b->colors[k], 3))
			return false;
	return true;
}

static int value_error(const struct label_image *lab, size_t i, const char *path)
{
	return kn_error(KN_EMISMATCH, "'%s': label value %u at (%zu, %zu) is not in the class "
			"table", path, label_at(lab, i), i % (size_t)lab->w, i / (size_t)lab->w);
}

int class_table_apply(const struct class_table *t, struct label_image *lab, const char *path)
{
	size_t n = (size_t)lab->w * (size_t)lab->h;
	uint8_t *out;

	/* Check everything first so a failure leaves the label as it was. */
	for (size_t i = 0; i < n; i++) {
		unsigned v = label_at(lab, i);

		if (v > 255 || t->map[v] == CLASS_INVALID)
			return value_error(lab, i, path);
	}
	if (lab->bits == 8) {
		for (size_t i = 0; i < n; i++)
			lab->u8[i] = (uint8_t)t->map[lab->u8[i]];
		return 0;
	}
	out = kn_try_alloc(n ? n : 1, "label classes");
	if (!out)
		return KN_ENOMEM;
	for (size_t i = 0; i < n; i++)
		out[i] = (uint8_t)t->map[lab->u16[i]];
	free(lab->u16);
	lab->u16 = NULL;
	lab->u8 = out;
	lab->bits = 8;
	return 0;
}
