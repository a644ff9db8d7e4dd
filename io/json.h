/*
 * A small strict JSON (RFC 8259) reader and a compact writer.
 *
 * Reading parses a whole text into a tree kept in one arena owned by a struct json_doc:
 *
 *     struct json_doc doc;
 *     if (json_parse(text, len, &doc) < 0) ...        (message from kn_errmsg())
 *     const struct json_value *v = json_get(doc.root, "shape");
 *     uint64_t n;
 *     if (v && v->type == JSON_ARRAY && json_get_u64(&v->u.items[0], &n)) ...
 *     json_doc_free(&doc);                           (every value and string goes)
 *
 * The reader is strict: one value then only whitespace, no comments, no trailing commas,
 * no leading zeros or '+', no control characters or invalid UTF-8 in strings, no lone
 * surrogates in \u escapes, no duplicate keys in an object, at most JSON_MAX_DEPTH nested
 * arrays and objects. Integer literals (no fraction or exponent) are kept exactly as
 * uint64/int64 when they fit, besides the double every number has, so byte offsets of
 * large files never pass through a double.
 *
 * Writing builds compact text (no spaces, like most serializers) in a growable buffer,
 * inserting commas and colons itself:
 *
 *     struct json_writer w;
 *     json_writer_init(&w);
 *     json_object_begin(&w);
 *     json_key(&w, "classes");
 *     json_u64(&w, 19);
 *     json_object_end(&w);
 *     ... w.data (NUL-terminated), w.len ...
 *     json_writer_free(&w);
 *
 * Misuse of the writer (a value where a key is due, unbalanced ends) hits CHECK.
 */
#ifndef KNSEG_IO_JSON_H
#define KNSEG_IO_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Deepest nesting of arrays and objects accepted by the reader and the writer. */
#define JSON_MAX_DEPTH 64

enum json_type {
	JSON_NULL,
	JSON_FALSE,
	JSON_TRUE,
	JSON_NUMBER,
	JSON_STRING,
	JSON_ARRAY,
	JSON_OBJECT
};

/* Flags of a JSON_NUMBER: which exact integer forms it has. */
enum {
	JSON_NUM_U64 = 1, /* an integer literal in [0, 2^64) : u.num.u holds it */
	JSON_NUM_I64 = 2  /* an integer literal in [-2^63, 2^63) : u.num.i holds it */
};

struct json_member;

struct json_value {
	enum json_type type;
	unsigned flags; /* JSON_NUM_* for numbers, 0 otherwise */
	size_t len;     /* string bytes, or number of array items / object members */
	union {
		struct {
			double d; /* every number, rounded to nearest */
			uint64_t u;
			int64_t i;
		} num;
		const char *str;                /* UTF-8, NUL-terminated (may hold \u0000) */
		const struct json_value *items; /* array items in order */
		struct {
			const struct json_member *members; /* in document order */
			const struct json_member **sorted; /* by key, for json_get */
		} obj;
	} u;
};

struct json_member {
	const char *key; /* UTF-8, NUL-terminated (may hold \u0000) */
	size_t key_len;
	struct json_value value;
};

struct json_arena_block;

struct json_doc {
	const struct json_value *root;
	struct json_arena_block *blocks; /* private: the arena */
};

/*
 * Parses len bytes of text (no terminator needed). On failure returns KN_EFORMAT with a
 * message "<problem> at line L, column C" (or KN_ENOMEM), and doc holds nothing.
 */
int json_parse(const char *text, size_t len, struct json_doc *doc);

void json_doc_free(struct json_doc *doc);

/* The member of obj named key, or NULL when absent or obj is not an object. O(log n). */
const struct json_value *json_get(const struct json_value *obj, const char *key);

/* True and *out set when v is an integer literal that fits the type. */
bool json_get_u64(const struct json_value *v, uint64_t *out);
bool json_get_i64(const struct json_value *v, int64_t *out);

/* The text of v when v is a string, else NULL. */
const char *json_get_string(const struct json_value *v);

/* A name for the type of v ("string", "object", ...) for messages. */
const char *json_type_name(const struct json_value *v);

struct json_writer {
	char *data; /* NUL-terminated text written so far */
	size_t len, cap;
	int depth;
	bool need_comma; /* a value was written at the current level */
	bool after_key;  /* json_key was called; the value is due */
	bool in_object[JSON_MAX_DEPTH + 1];
};

void json_writer_init(struct json_writer *w);
void json_writer_free(struct json_writer *w);

void json_object_begin(struct json_writer *w);
void json_object_end(struct json_writer *w);
void json_array_begin(struct json_writer *w);
void json_array_end(struct json_writer *w);

/* A key inside an object; the next call writes its value. */
void json_key(struct json_writer *w, const char *key);
void json_key_n(struct json_writer *w, const char *key, size_t n);

void json_string(struct json_writer *w, const char *s);
void json_string_n(struct json_writer *w, const char *s, size_t n);
void json_u64(struct json_writer *w, uint64_t v);
void json_i64(struct json_writer *w, int64_t v);
/* Shortest text that reads back to the same double; null for NaN and infinities. */
void json_double(struct json_writer *w, double v);
void json_bool(struct json_writer *w, bool v);
void json_null(struct json_writer *w);

/*
 * Appends the quoted, escaped form of the n bytes at s to w's text without any comma
 * logic (for callers that build text by hand). Quotes, backslashes and control
 * characters are escaped; other bytes, UTF-8 included, are copied as they are.
 */
void json_append_quoted(struct json_writer *w, const char *s, size_t n);

/* Appends n raw bytes. */
void json_append_raw(struct json_writer *w, const char *s, size_t n);

#endif
