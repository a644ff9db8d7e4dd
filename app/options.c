/* Command-line options from one table per command. See options.h. */
#include "app/options.h"
#include "app/commands.h"
#include "app/knseg.h"
#include "io/alloc.h"
#include "io/error.h"
#include "nets/knresnet.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The help text starts in this column and is wrapped to lines of HELP_WIDTH more. */
#define HELP_COLUMN 22
#define HELP_WIDTH (80 - HELP_COLUMN)

int arg_int(const char *cmd, const char *opt, const char *s, int lo, int hi, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		return usage_error(cmd, "%s '%s' is not an integer in %d..%d", opt, s, lo, hi);
	*out = (int)v;
	return 0;
}

static int arg_int64(const char *cmd, const char *opt, const char *s, double lo, double hi,
		     int64_t *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || *end || (double)v < lo || (double)v > hi)
		return usage_error(cmd, "%s '%s' is not an integer in %.0f..%.0f", opt, s, lo, hi);
	*out = v;
	return 0;
}

static int arg_u64(const char *cmd, const char *opt, const char *s, double hi, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end || *s == '-' || *s == '+' || (hi > 0 && (double)v > hi)) {
		if (hi > 0)
			return usage_error(cmd, "%s '%s' is not an integer in 0..%.0f", opt, s, hi);
		return usage_error(cmd, "%s '%s' is not a non-negative integer", opt, s);
	}
	*out = (uint64_t)v;
	return 0;
}

int arg_float(const char *cmd, const char *opt, const char *s, double lo, double hi,
	      double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(v) || v < lo || v > hi)
		return usage_error(cmd, "%s '%s' is not a number in [%g, %g]", opt, s, lo, hi);
	*out = v;
	return 0;
}

int arg_size(const char *cmd, const char *opt, const char *s, int lo, int hi, int *w, int *h)
{
	char *end, *end2;
	long a, b;

	errno = 0;
	a = strtol(s, &end, 10);
	if (errno || end == s || (*end != 'x' && *end != 'X'))
		return usage_error(cmd, "%s '%s' is not of the form WxH", opt, s);
	b = strtol(end + 1, &end2, 10);
	if (errno || end2 == end + 1 || *end2)
		return usage_error(cmd, "%s '%s' is not of the form WxH", opt, s);
	if (a < lo || a > hi || b < lo || b > hi)
		return usage_error(cmd, "%s '%s': sides must be in %d..%d", opt, s, lo, hi);
	*w = (int)a;
	*h = (int)b;
	return 0;
}

/* The index of arg among the '|'-separated words, or -1. */
static int word_index(const char *words, const char *arg)
{
	size_t len = strlen(arg);

	for (int i = 0; *words; i++) {
		size_t n = strcspn(words, "|");

		if (n == len && !strncmp(words, arg, n))
			return i;
		words += n + (words[n] == '|');
	}
	return -1;
}

/* The words "a|b|c" as "a, b or c" for messages. */
static void words_text(const char *words, char *buf, size_t size)
{
	size_t len = 0;
	int count = 1;

	for (const char *p = words; *p; p++)
		count += *p == '|';
	for (int i = 0; *words && len < size; i++) {
		size_t n = strcspn(words, "|");

		len += (size_t)snprintf(buf + len, size - len, "%s%.*s",
					i == 0 ? "" : i + 1 == count ? " or " : ", ", (int)n, words);
		words += n + (words[n] == '|');
	}
}

/* Converts arg for option o into its field of obj. */
static int set_value(const char *cmd, const struct opt *o, const char *arg, void *obj)
{
	char *p = (char *)obj + o->field, name[64];
	double v = 0;
	int i, rc;

	snprintf(name, sizeof(name), "--%s", o->name);
	switch (o->kind) {
	case OPT_FLAG:
		*(bool *)p = true;
		return 0;
	case OPT_STRING:
		*(const char **)p = arg;
		return 0;
	case OPT_INT:
		return arg_int(cmd, name, arg, (int)o->lo, (int)o->hi, (int *)p);
	case OPT_INT64:
		return arg_int64(cmd, name, arg, o->lo, o->hi, (int64_t *)p);
	case OPT_U64:
		return arg_u64(cmd, name, arg, o->hi, (uint64_t *)p);
	case OPT_FLOAT:
		if ((rc = arg_float(cmd, name, arg, o->lo, o->hi, &v)))
			return rc;
		*(float *)p = (float)v;
		return 0;
	case OPT_DOUBLE:
		return arg_float(cmd, name, arg, o->lo, o->hi, (double *)p);
	case OPT_SIZE:
		return arg_size(cmd, name, arg, (int)o->lo, (int)o->hi, (int *)p,
				(int *)((char *)obj + o->field2));
	case OPT_WORD:
		if ((i = word_index(o->words, arg)) < 0) {
			char words[256];

			words_text(o->words, words, sizeof(words));
			return usage_error(cmd, "%s '%s' is not %s", name, arg, words);
		}
		*(int *)p = i;
		return 0;
	case OPT_CUSTOM:
		return o->parse(cmd, o, arg, p);
	case OPT_END:
	case OPT_SECTION:
		break;
	}
	return usage_error(cmd, "%s cannot be parsed", name);
}

static bool takes_value(const struct opt *o)
{
	return o->kind != OPT_FLAG;
}

static bool is_option(const struct opt *o)
{
	return o->kind != OPT_SECTION;
}

/* Prints text from the help column on, wrapped at word boundaries to HELP_WIDTH. */
static void wrapped(FILE *out, const char *text)
{
	const char *p = text;
	int col = 0;

	while (*p) {
		size_t n;

		while (*p == ' ' || *p == '\n')
			p++;
		n = strcspn(p, " \n");
		if (!n)
			break;
		if (col > 0 && col + 1 + (int)n > HELP_WIDTH) {
			fprintf(out, "\n%*s", HELP_COLUMN, "");
			col = 0;
		}
		fprintf(out, "%s%.*s", col ? " " : "", (int)n, p);
		col += (col ? 1 : 0) + (int)n;
		p += n;
	}
	fputc('\n', out);
}

/* Prints "what it does (default X)" for option o. */
static void help_text(FILE *out, const struct opt *o)
{
	char text[1024];
	size_t len = (size_t)snprintf(text, sizeof(text), "%s", o->help ? o->help : "");

	if (o->def && len < sizeof(text))
		len += (size_t)snprintf(text + len, sizeof(text) - len, " (default %s)", o->def);
	if (o->required && len < sizeof(text))
		snprintf(text + len, sizeof(text) - len, " (required)");
	wrapped(out, text);
}

void opt_help(FILE *out, const struct opt_command *c)
{
	fprintf(out, "%s\n", c->usage);
	for (const struct opt *o = c->opts; o->kind != OPT_END; o++) {
		char head[64];
		int len;

		if (!is_option(o)) {
			fprintf(out, "\n%s\n", o->help);
			continue;
		}
		len = snprintf(head, sizeof(head), "  --%s%s%s", o->name, takes_value(o) ? " " : "",
			       takes_value(o) ? (o->arg ? o->arg : "X") : "");
		if (len >= HELP_COLUMN - 1)
			fprintf(out, "%s\n%*s", head, HELP_COLUMN, "");
		else
			fprintf(out, "%-*s", HELP_COLUMN, head);
		help_text(out, o);
	}
	fprintf(out, "  --help              this text\n");
}

int opt_parse(const struct opt_command *c, int argc, char **argv, void *obj, int *first)
{
	const struct opt *o;
	struct option *table;
	size_t n = 0, k = 0;
	bool *given;
	int ch, rc = 0;

	for (o = c->opts; o->kind != OPT_END; o++)
		n++;
	for (o = c->opts; o->kind != OPT_END && !rc; o++)
		if (o->def)
			rc = set_value(c->name, o, o->def, obj);
	if (rc)
		return rc; /* a table's own default is wrong: found by the tests */
	/* getopt_long's table: the option at index i of c->opts returns 0x100 + i. */
	table = xcalloc(n + 2, sizeof(*table));
	given = xcalloc(n + 1, sizeof(*given));
	for (size_t i = 0; i < n; i++) {
		if (!is_option(&c->opts[i]))
			continue;
		table[k].name = c->opts[i].name;
		table[k].has_arg = takes_value(&c->opts[i]) ? required_argument : no_argument;
		table[k++].val = 0x100 + (int)i;
	}
	table[k].name = "help";
	table[k].val = 'h';
	optind = 1;
	while (!rc && (ch = getopt_long(argc, argv, "h", table, NULL)) != -1) {
		if (ch == 'h') {
			opt_help(stdout, c);
			rc = -1;
		} else if (ch < 0x100) {
			rc = usage_error(c->name, "unknown option");
		} else {
			given[ch - 0x100] = true;
			rc = set_value(c->name, &c->opts[ch - 0x100], optarg, obj);
		}
	}
	for (size_t i = 0; i < n && !rc; i++)
		if (c->opts[i].required && !given[i])
			rc = usage_error(c->name, "--%s %s is required", c->opts[i].name,
					 c->opts[i].arg ? c->opts[i].arg : "");
	if (!rc && !c->operands && optind < argc)
		rc = usage_error(c->name, "unexpected argument '%s'", argv[optind]);
	if (first)
		*first = optind;
	free(table);
	free(given);
	return rc;
}

bool opt_is_stdout(const char *path)
{
	return path && !strcmp(path, "-");
}

int opt_parse_arch(const char *cmd, const struct opt *o, const char *arg, void *field)
{
	(void)o;
	return net_arch_parse(arg, field) < 0 ? usage_error(cmd, "%s", kn_errmsg()) : 0;
}

int opt_parse_head(const char *cmd, const struct opt *o, const char *arg, void *field)
{
	(void)o;
	return net_head_parse(arg, field) < 0 ? usage_error(cmd, "%s", kn_errmsg()) : 0;
}

int opt_parse_mode(const char *cmd, const struct opt *o, const char *arg, void *field)
{
	enum knseg_mode *mode = field;

	(void)o;
	if (strcmp(arg, "whole") && strcmp(arg, "slide"))
		return usage_error(cmd, "--mode '%s' is not whole or slide", arg);
	*mode = strcmp(arg, "whole") ? KNSEG_SLIDE : KNSEG_WHOLE;
	return 0;
}

/* "0.75,1,1.25" into a struct knseg_options (at most KNSEG_MAX_SCALES, each in [1/16, 8]). */
int opt_parse_scales(const char *cmd, const struct opt *o, const char *arg, void *field)
{
	struct knseg_options *seg = field;
	char buf[256], *tok, *save = NULL;
	double v = 0;
	int rc;

	(void)o;
	snprintf(buf, sizeof(buf), "%s", arg);
	seg->nscales = 0;
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (seg->nscales == KNSEG_MAX_SCALES)
			return usage_error(cmd, "--scales: at most %d scales", KNSEG_MAX_SCALES);
		if ((rc = arg_float(cmd, "--scales", tok, 0.0625, 8, &v)))
			return rc;
		seg->scales[seg->nscales++] = (float)v;
	}
	return seg->nscales ? 0 : usage_error(cmd, "--scales '%s' is empty", arg);
}

int seg_finish(const char *cmd, struct knseg_options *seg)
{
	if (!seg->stride_w) {
		seg->stride_w = seg->crop_w * 3 / 4;
		seg->stride_h = seg->crop_h * 3 / 4;
	}
	if (seg->stride_w > seg->crop_w || seg->stride_h > seg->crop_h)
		return usage_error(cmd, "--stride %dx%d is larger than the window %dx%d (--crop): "
				   "pixels between windows would get no prediction",
				   seg->stride_w, seg->stride_h, seg->crop_w, seg->crop_h);
	if (!seg->tile_w)
		return 0;
	if (seg->mode == KNSEG_SLIDE || seg->flip || seg->nscales > 1 || seg->scales[0] != 1.0f)
		return usage_error(cmd, "--tile takes neither --mode slide, --flip nor --scales");
	seg->mode = KNSEG_TILE;
	return 0;
}
