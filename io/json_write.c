/*
 * The compact JSON writer. See json.h.
 *
 * The text grows in one buffer kept NUL-terminated. The writer tracks only what it needs
 * to place separators: whether the current container already holds a value (a comma is
 * due), whether it is an object, and whether a key is waiting for its value.
 */
#include "io/json.h"
#include "io/alloc.h"
#include "io/error.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void json_writer_init(struct json_writer *w)
{
	memset(w, 0, sizeof(*w));
	w->cap = 256;
	w->data = xmalloc(w->cap + 1);
	w->data[0] = '\0';
}

void json_writer_free(struct json_writer *w)
{
	free(w->data);
	memset(w, 0, sizeof(*w));
}

void json_append_raw(struct json_writer *w, const char *s, size_t n)
{
	if (w->cap - w->len < n) {
		size_t cap = w->cap;

		while (cap - w->len < n) {
			CHECK(cap <= SIZE_MAX / 2 - 1);
			cap *= 2;
		}
		w->data = xrealloc(w->data, cap + 1);
		w->cap = cap;
	}
	memcpy(w->data + w->len, s, n);
	w->len += n;
	w->data[w->len] = '\0';
}

static void put_char(struct json_writer *w, char c)
{
	json_append_raw(w, &c, 1);
}

void json_append_quoted(struct json_writer *w, const char *s, size_t n)
{
	size_t run = 0; /* bytes before s[i] not yet copied */

	put_char(w, '"');
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[8];

		if (c >= 0x20 && c != '"' && c != '\\') {
			run++;
			continue;
		}
		json_append_raw(w, s + i - run, run);
		run = 0;
		switch (c) {
		case '"': strcpy(esc, "\\\""); break;
		case '\\': strcpy(esc, "\\\\"); break;
		case '\b': strcpy(esc, "\\b"); break;
		case '\f': strcpy(esc, "\\f"); break;
		case '\n': strcpy(esc, "\\n"); break;
		case '\r': strcpy(esc, "\\r"); break;
		case '\t': strcpy(esc, "\\t"); break;
		default: snprintf(esc, sizeof(esc), "\\u%04x", c); break;
		}
		json_append_raw(w, esc, strlen(esc));
	}
	json_append_raw(w, s + n - run, run);
	put_char(w, '"');
}

/* Places the separator due before a value and checks that a value may come here. */
static void before_value(struct json_writer *w)
{
	if (w->in_object[w->depth]) {
		CHECK(w->after_key);
		w->after_key = false;
		return;
	}
	if (w->need_comma) {
		CHECK(w->depth > 0); /* one value at the top level */
		put_char(w, ',');
	}
}

static void begin(struct json_writer *w, char open, bool object)
{
	before_value(w);
	CHECK(w->depth < JSON_MAX_DEPTH);
	put_char(w, open);
	w->depth++;
	w->in_object[w->depth] = object;
	w->need_comma = false;
}

static void end(struct json_writer *w, char close, bool object)
{
	CHECK(w->depth > 0 && w->in_object[w->depth] == object && !w->after_key);
	put_char(w, close);
	w->depth--;
	w->need_comma = true;
}

void json_object_begin(struct json_writer *w)
{
	begin(w, '{', true);
}

void json_object_end(struct json_writer *w)
{
	end(w, '}', true);
}

void json_array_begin(struct json_writer *w)
{
	begin(w, '[', false);
}

void json_array_end(struct json_writer *w)
{
	end(w, ']', false);
}

void json_key_n(struct json_writer *w, const char *key, size_t n)
{
	CHECK(w->in_object[w->depth] && !w->after_key);
	if (w->need_comma)
		put_char(w, ',');
	json_append_quoted(w, key, n);
	put_char(w, ':');
	w->after_key = true;
}

void json_key(struct json_writer *w, const char *key)
{
	json_key_n(w, key, strlen(key));
}

/* Writes the text of a scalar value. */
static void scalar(struct json_writer *w, const char *text, size_t n)
{
	before_value(w);
	json_append_raw(w, text, n);
	w->need_comma = true;
}

void json_string_n(struct json_writer *w, const char *s, size_t n)
{
	before_value(w);
	json_append_quoted(w, s, n);
	w->need_comma = true;
}

void json_string(struct json_writer *w, const char *s)
{
	json_string_n(w, s, strlen(s));
}

void json_u64(struct json_writer *w, uint64_t v)
{
	char buf[24];
	int n = snprintf(buf, sizeof(buf), "%" PRIu64, v);

	scalar(w, buf, (size_t)n);
}

void json_i64(struct json_writer *w, int64_t v)
{
	char buf[24];
	int n = snprintf(buf, sizeof(buf), "%" PRId64, v);

	scalar(w, buf, (size_t)n);
}

void json_double(struct json_writer *w, double v)
{
	char buf[32];
	int n = 0;

	if (!isfinite(v)) {
		scalar(w, "null", 4);
		return;
	}
	/* The fewest significant digits that read back exactly (17 always do). */
	for (int prec = 1; prec <= 17; prec++) {
		n = snprintf(buf, sizeof(buf), "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	scalar(w, buf, (size_t)n);
}

void json_bool(struct json_writer *w, bool v)
{
	if (v)
		scalar(w, "true", 4);
	else
		scalar(w, "false", 5);
}

void json_null(struct json_writer *w)
{
	scalar(w, "null", 4);
}
