/*
 * Private to the JSON reader (json.c, json_lex.c): the parser state and the helpers the
 * two files share. Not for use elsewhere.
 */
#ifndef KNSEG_IO_JSON_INTERNAL_H
#define KNSEG_IO_JSON_INTERNAL_H

#include "io/json.h"

struct json_parser {
	const char *start, *p, *end;
	struct json_doc *doc;
	struct json_value *items; /* pending array items */
	size_t n_items, cap_items;
	struct json_member *members; /* pending object members */
	size_t n_members, cap_members;
	int depth;
};

/* Arena memory for n bytes, aligned for any type; NULL with a message on failure. */
void *json_arena_alloc(struct json_doc *doc, size_t n);

/* Records "<message> at line L, column C" for position at, and returns KN_EFORMAT. */
int json_fail_at(const struct json_parser *ps, const char *at, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Fails with "expected <what>, found <the character at ps->p>". */
int json_unexpected(const struct json_parser *ps, const char *what);

/* The string at ps->p (at its opening quote), decoded into arena memory. */
int json_lex_string(struct json_parser *ps, const char **str, size_t *len);

/* The number at ps->p (at '-' or a digit) into v. */
int json_lex_number(struct json_parser *ps, struct json_value *v);

#endif
