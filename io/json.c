/*
 * The strict JSON reader: values, containers and lookups (strings and numbers are in
 * json_lex.c). See json.h.
 *
 * The reader is recursive descent, with depth bounded by JSON_MAX_DEPTH. Items of an
 * array and members of an object being parsed wait on two shared stacks (LIFO, so nested
 * containers never disturb their parents' entries) and are copied into the arena, exactly
 * sized, when the container closes; each object also gets an index sorted by key, which
 * finds duplicate keys and serves json_get by binary search.
 */
#include "io/json.h"
#include "io/alloc.h"
#include "io/error.h"
#include "io/json_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_BLOCK_SIZE ((size_t)64 << 10)

struct json_arena_block {
	struct json_arena_block *next;
	size_t used, cap;
	max_align_t data[];
};

/* Arena memory for n bytes, aligned for any type; NULL with a message on failure. */
void *json_arena_alloc(struct json_doc *doc, size_t n)
{
	struct json_arena_block *b = doc->blocks;
	size_t align = sizeof(max_align_t);

	n = (n + align - 1) / align * align;
	if (!b || b->cap - b->used < n) {
		size_t cap = n > ARENA_BLOCK_SIZE ? n : ARENA_BLOCK_SIZE;

		b = kn_try_alloc(sizeof(*b) + cap, "a JSON document");
		if (!b)
			return NULL;
		b->used = 0;
		b->cap = cap;
		b->next = doc->blocks;
		doc->blocks = b;
	}
	b->used += n;
	return (char *)b->data + b->used - n;
}

void json_doc_free(struct json_doc *doc)
{
	struct json_arena_block *b = doc->blocks;

	while (b) {
		struct json_arena_block *next = b->next;

		free(b);
		b = next;
	}
	doc->blocks = NULL;
	doc->root = NULL;
}

/* Records "<message> at line L, column C" for position at, and returns KN_EFORMAT. */
int json_fail_at(const struct json_parser *ps, const char *at, const char *fmt, ...)
{
	char msg[256];
	size_t line = 1, col = 1;
	va_list ap;

	for (const char *q = ps->start; q < at; q++) {
		if (*q == '\n') {
			line++;
			col = 1;
		} else {
			col++;
		}
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return kn_error(KN_EFORMAT, "%s at line %zu, column %zu", msg, line, col);
}

/* Describes the character at p (or the end) for a message. */
static const char *describe(const struct json_parser *ps, const char *p, char *buf, size_t size)
{
	unsigned char c;

	if (p >= ps->end)
		return "end of input";
	c = (unsigned char)*p;
	if (c >= 0x20 && c < 0x7f)
		snprintf(buf, size, "character '%c'", c);
	else
		snprintf(buf, size, "byte 0x%02x", c);
	return buf;
}

int json_unexpected(const struct json_parser *ps, const char *what)
{
	char buf[32];

	return json_fail_at(ps, ps->p, "expected %s, found %s", what,
			    describe(ps, ps->p, buf, sizeof(buf)));
}

static void skip_ws(struct json_parser *ps)
{
	while (ps->p < ps->end &&
	       (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
		ps->p++;
}

static int parse_value(struct json_parser *ps, struct json_value *v);

/* Makes room for one more entry on a pending stack. */
static int grow(void **stack, size_t *cap, size_t n, size_t size)
{
	void *p;
	size_t bytes, newcap;

	if (n < *cap)
		return 0;
	newcap = *cap ? *cap * 2 : 16;
	if (!kn_size_mul(&bytes, newcap, size))
		return kn_error(KN_ENOMEM, "JSON document too large");
	p = realloc(*stack, bytes);
	if (!p)
		return kn_error(KN_ENOMEM, "out of memory parsing JSON");
	*stack = p;
	*cap = newcap;
	return 0;
}

/* Copies the top n entries of a pending stack (of size-byte entries) into the arena. */
static void *pop_to_arena(struct json_parser *ps, const void *stack, size_t *top, size_t n,
			  size_t size)
{
	void *out = json_arena_alloc(ps->doc, n * size);

	if (out && n)
		memcpy(out, (const char *)stack + (*top - n) * size, n * size);
	*top -= n;
	return out;
}

static int parse_array(struct json_parser *ps, struct json_value *v)
{
	size_t base = ps->n_items;
	int err;

	ps->p++;
	skip_ws(ps);
	if (ps->p < ps->end && *ps->p == ']') {
		ps->p++;
	} else {
		for (;;) {
			/* Nested arrays push onto the same stack: parse first, then store. */
			struct json_value item;

			err = parse_value(ps, &item);
			if (!err)
				err = grow((void **)&ps->items, &ps->cap_items, ps->n_items,
					   sizeof(*ps->items));
			if (err)
				return err;
			ps->items[ps->n_items++] = item;
			skip_ws(ps);
			if (ps->p < ps->end && *ps->p == ']')
				break;
			if (ps->p >= ps->end || *ps->p != ',')
				return json_unexpected(ps, "',' or ']' in array");
			ps->p++;
		}
		ps->p++;
	}
	v->type = JSON_ARRAY;
	v->flags = 0;
	v->len = ps->n_items - base;
	v->u.items = pop_to_arena(ps, ps->items, &ps->n_items, v->len, sizeof(*ps->items));
	return v->u.items ? 0 : KN_ENOMEM;
}

static int compare_keys(const struct json_member *a, const struct json_member *b)
{
	size_t n = a->key_len < b->key_len ? a->key_len : b->key_len;
	int c = memcmp(a->key, b->key, n);

	if (c)
		return c;
	return (a->key_len > b->key_len) - (a->key_len < b->key_len);
}

static int compare_member_ptrs(const void *a, const void *b)
{
	return compare_keys(*(const struct json_member *const *)a,
			    *(const struct json_member *const *)b);
}

/* Builds the sorted index of the n members and rejects duplicate keys. */
static int index_members(struct json_parser *ps, struct json_value *v, const char *open)
{
	const struct json_member **sorted;
	size_t n = v->len;

	sorted = json_arena_alloc(ps->doc, n * sizeof(*sorted));
	if (!sorted)
		return KN_ENOMEM;
	for (size_t i = 0; i < n; i++)
		sorted[i] = &v->u.obj.members[i];
	if (n > 1)
		qsort(sorted, n, sizeof(*sorted), compare_member_ptrs);
	for (size_t i = 1; i < n; i++)
		if (compare_keys(sorted[i - 1], sorted[i]) == 0)
			return json_fail_at(ps, open,
					    "duplicate key \"%.*s\" in the object starting",
					    (int)(sorted[i]->key_len > 64 ? 64 : sorted[i]->key_len),
					    sorted[i]->key);
	v->u.obj.sorted = sorted;
	return 0;
}

static int parse_member(struct json_parser *ps)
{
	struct json_member m;
	int err;

	skip_ws(ps);
	if (ps->p >= ps->end || *ps->p != '"')
		return json_unexpected(ps, "a string key");
	err = json_lex_string(ps, &m.key, &m.key_len);
	if (err)
		return err;
	skip_ws(ps);
	if (ps->p >= ps->end || *ps->p != ':')
		return json_unexpected(ps, "':' after an object key");
	ps->p++;
	/* Nested objects push onto the same stack: parse first, then store. */
	err = parse_value(ps, &m.value);
	if (!err)
		err = grow((void **)&ps->members, &ps->cap_members, ps->n_members,
			   sizeof(*ps->members));
	if (err)
		return err;
	ps->members[ps->n_members++] = m;
	return 0;
}

static int parse_object(struct json_parser *ps, struct json_value *v)
{
	const char *open = ps->p;
	size_t base = ps->n_members;
	int err;

	ps->p++;
	skip_ws(ps);
	if (ps->p < ps->end && *ps->p == '}') {
		ps->p++;
	} else {
		for (;;) {
			err = parse_member(ps);
			if (err)
				return err;
			skip_ws(ps);
			if (ps->p < ps->end && *ps->p == '}')
				break;
			if (ps->p >= ps->end || *ps->p != ',')
				return json_unexpected(ps, "',' or '}' in object");
			ps->p++;
		}
		ps->p++;
	}
	v->type = JSON_OBJECT;
	v->flags = 0;
	v->len = ps->n_members - base;
	v->u.obj.members = pop_to_arena(ps, ps->members, &ps->n_members, v->len,
					sizeof(*ps->members));
	if (!v->u.obj.members)
		return KN_ENOMEM;
	return index_members(ps, v, open);
}

static bool match_word(struct json_parser *ps, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
		return false;
	ps->p += n;
	return true;
}

static int parse_container(struct json_parser *ps, struct json_value *v)
{
	int err;

	if (ps->depth == JSON_MAX_DEPTH)
		return json_fail_at(ps, ps->p, "nesting deeper than %d", JSON_MAX_DEPTH);
	ps->depth++;
	err = *ps->p == '[' ? parse_array(ps, v) : parse_object(ps, v);
	ps->depth--;
	return err;
}

static int parse_value(struct json_parser *ps, struct json_value *v)
{
	skip_ws(ps);
	v->flags = 0;
	v->len = 0;
	if (ps->p >= ps->end)
		return json_unexpected(ps, "a value");
	switch (*ps->p) {
	case '{':
	case '[':
		return parse_container(ps, v);
	case '"':
		v->type = JSON_STRING;
		return json_lex_string(ps, &v->u.str, &v->len);
	case 't':
		v->type = JSON_TRUE;
		return match_word(ps, "true") ? 0 : json_unexpected(ps, "a value");
	case 'f':
		v->type = JSON_FALSE;
		return match_word(ps, "false") ? 0 : json_unexpected(ps, "a value");
	case 'n':
		v->type = JSON_NULL;
		return match_word(ps, "null") ? 0 : json_unexpected(ps, "a value");
	default:
		if (*ps->p == '-' || (*ps->p >= '0' && *ps->p <= '9'))
			return json_lex_number(ps, v);
		return json_unexpected(ps, "a value");
	}
}

int json_parse(const char *text, size_t len, struct json_doc *doc)
{
	struct json_parser ps = {.start = text, .p = text, .end = text + len, .doc = doc};
	struct json_value *root;
	int err;

	doc->blocks = NULL;
	doc->root = NULL;
	root = json_arena_alloc(doc, sizeof(*root));
	err = root ? parse_value(&ps, root) : KN_ENOMEM;
	if (!err) {
		skip_ws(&ps);
		if (ps.p < ps.end)
			err = json_unexpected(&ps, "end of input after the value");
	}
	free(ps.items);
	free(ps.members);
	if (err) {
		json_doc_free(doc);
		return err;
	}
	doc->root = root;
	return 0;
}

const struct json_value *json_get(const struct json_value *obj, const char *key)
{
	struct json_member probe;
	size_t lo = 0, hi;

	if (!obj || obj->type != JSON_OBJECT)
		return NULL;
	probe.key = key;
	probe.key_len = strlen(key);
	hi = obj->len;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = compare_keys(obj->u.obj.sorted[mid], &probe);

		if (c == 0)
			return &obj->u.obj.sorted[mid]->value;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

bool json_get_u64(const struct json_value *v, uint64_t *out)
{
	if (!v || v->type != JSON_NUMBER || !(v->flags & JSON_NUM_U64))
		return false;
	*out = v->u.num.u;
	return true;
}

bool json_get_i64(const struct json_value *v, int64_t *out)
{
	if (!v || v->type != JSON_NUMBER || !(v->flags & JSON_NUM_I64))
		return false;
	*out = v->u.num.i;
	return true;
}

const char *json_get_string(const struct json_value *v)
{
	return v && v->type == JSON_STRING ? v->u.str : NULL;
}

const char *json_type_name(const struct json_value *v)
{
	static const char *const names[] = {"null",   "false", "true",  "number",
					    "string", "array", "object"};

	return v ? names[v->type] : "nothing";
}
