/*
 * The strict JSON reader and the compact writer. See json.h.
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

struct parser {
	const char *start, *p, *end;
	struct json_doc *doc;
	struct json_value *items; /* pending array items */
	size_t n_items, cap_items;
	struct json_member *members; /* pending object members */
	size_t n_members, cap_members;
	int depth;
};

/* Arena memory for n bytes, aligned for any type; NULL with a message on failure. */
static void *arena_alloc(struct json_doc *doc, size_t n)
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
__attribute__((format(printf, 3, 4)))
static int fail_at(const struct parser *ps, const char *at, const char *fmt, ...)
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
static const char *describe(const struct parser *ps, const char *p, char *buf, size_t size)
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

static int unexpected(const struct parser *ps, const char *what)
{
	char buf[32];

	return fail_at(ps, ps->p, "expected %s, found %s", what,
		       describe(ps, ps->p, buf, sizeof(buf)));
}

static void skip_ws(struct parser *ps)
{
	while (ps->p < ps->end &&
	       (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
		ps->p++;
}

static int parse_value(struct parser *ps, struct json_value *v);

/* Length of the UTF-8 sequence at p (1 to 4), or 0 when it is invalid or cut short. */
static size_t utf8_length(const unsigned char *p, const unsigned char *end)
{
	unsigned char c = p[0], lo = 0x80, hi = 0xbf;
	size_t n;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4;
	else
		return 0;
	/* The second byte's range excludes overlong forms, surrogates and > U+10FFFF. */
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if ((size_t)(end - p) < n || p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return n;
}

static int hex4(const struct parser *ps, const char *p, unsigned *out)
{
	unsigned v = 0;

	if (ps->end - p < 4)
		return fail_at(ps, p, "truncated \\u escape");
	for (int i = 0; i < 4; i++) {
		char c = p[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return fail_at(ps, p, "invalid hex digit in \\u escape");
	}
	*out = v;
	return 0;
}

static size_t put_utf8(char *out, unsigned cp)
{
	static const unsigned char lead[5] = {0, 0, 0xc0, 0xe0, 0xf0};
	size_t n = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;

	for (size_t i = n - 1; i > 0; i--, cp >>= 6)
		out[i] = (char)(0x80 | (cp & 0x3f));
	out[0] = (char)(lead[n] | cp);
	return n;
}

/* Decodes the \u escape at ps->p (just past the 'u'), a surrogate pair included. */
static int unicode_escape(struct parser *ps, char *out, size_t *n)
{
	const char *at = ps->p - 2;
	unsigned cp, lo;
	int err = hex4(ps, ps->p, &cp);

	if (err)
		return err;
	ps->p += 4;
	if (cp >= 0xdc00 && cp <= 0xdfff)
		return fail_at(ps, at, "lone low surrogate in \\u escape");
	if (cp >= 0xd800 && cp <= 0xdbff) {
		if (ps->end - ps->p < 2 || ps->p[0] != '\\' || ps->p[1] != 'u')
			return fail_at(ps, at, "high surrogate not followed by a low one");
		err = hex4(ps, ps->p + 2, &lo);
		if (err)
			return err;
		if (lo < 0xdc00 || lo > 0xdfff)
			return fail_at(ps, at, "high surrogate not followed by a low one");
		ps->p += 6;
		cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
	}
	*n = put_utf8(out, cp);
	return 0;
}

static int escape(struct parser *ps, char *out, size_t *n)
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	const char *hit;

	if (ps->p >= ps->end)
		return fail_at(ps, ps->p, "unterminated string");
	if (*ps->p == 'u') {
		ps->p++;
		return unicode_escape(ps, out, n);
	}
	hit = *ps->p ? strchr(from, *ps->p) : NULL;
	if (!hit)
		return fail_at(ps, ps->p - 1, "invalid escape in string");
	*out = to[hit - from];
	*n = 1;
	ps->p++;
	return 0;
}

/*
 * Parses the string at ps->p (at its opening quote) into arena memory. Decoding never
 * lengthens the text (\uXXXX gives at most 3 bytes, a 12-byte pair 4), so the raw length
 * bounds the decoded one.
 */
static int parse_string(struct parser *ps, const char **str, size_t *len)
{
	const char *q = ++ps->p;
	char *out;
	size_t n = 0;

	while (q < ps->end && *q != '"')
		q += (*q == '\\' && q + 1 < ps->end) ? 2 : 1;
	out = arena_alloc(ps->doc, (size_t)(q - ps->p) + 1);
	if (!out)
		return KN_ENOMEM;
	for (;;) {
		unsigned char c;
		size_t k = 0;

		if (ps->p >= ps->end)
			return fail_at(ps, ps->p, "unterminated string");
		c = (unsigned char)*ps->p;
		if (c == '"')
			break;
		if (c == '\\') {
			int err;

			ps->p++;
			err = escape(ps, out + n, &k);
			if (err)
				return err;
			n += k;
			continue;
		}
		if (c < 0x20)
			return fail_at(ps, ps->p, "control character 0x%02x in string", c);
		k = utf8_length((const unsigned char *)ps->p, (const unsigned char *)ps->end);
		if (!k)
			return fail_at(ps, ps->p, "invalid UTF-8 in string");
		memcpy(out + n, ps->p, k);
		n += k;
		ps->p += k;
	}
	ps->p++;
	out[n] = '\0';
	*str = out;
	*len = n;
	return 0;
}

static bool is_digit(const struct parser *ps, const char *p)
{
	return p < ps->end && *p >= '0' && *p <= '9';
}

/* Sets the exact integer forms of an integer literal with the given digits. */
static void integer_value(struct json_value *v, const char *digits, const char *end,
			  bool negative)
{
	uint64_t u = 0;

	for (const char *d = digits; d < end; d++) {
		unsigned x = (unsigned)(*d - '0');

		if (u > (UINT64_MAX - x) / 10)
			return;
		u = u * 10 + x;
	}
	if (!negative) {
		v->flags |= JSON_NUM_U64;
		v->u.num.u = u;
		if (u <= (uint64_t)INT64_MAX) {
			v->flags |= JSON_NUM_I64;
			v->u.num.i = (int64_t)u;
		}
	} else if (u <= (uint64_t)INT64_MAX + 1) {
		v->flags |= JSON_NUM_I64;
		v->u.num.i = u ? -(int64_t)(u - 1) - 1 : 0;
	}
}

/*
 * strtod on a NUL-terminated copy (the input has no terminator). strtod follows
 * LC_NUMERIC, which knseg leaves at "C" (it never calls setlocale).
 */
static int number_double(const char *s, size_t n, double *d)
{
	char small[64], *buf = small;

	if (n >= sizeof(small)) {
		buf = kn_try_alloc(n + 1, "a JSON number");
		if (!buf)
			return KN_ENOMEM;
	}
	memcpy(buf, s, n);
	buf[n] = '\0';
	*d = strtod(buf, NULL);
	if (buf != small)
		free(buf);
	return 0;
}

static int parse_number(struct parser *ps, struct json_value *v)
{
	const char *s = ps->p, *digits;
	bool negative = false, integer = true;

	if (*ps->p == '-') {
		negative = true;
		ps->p++;
	}
	digits = ps->p;
	if (!is_digit(ps, ps->p))
		return unexpected(ps, "a digit");
	if (*ps->p == '0' && is_digit(ps, ps->p + 1))
		return fail_at(ps, ps->p, "leading zero in number");
	while (is_digit(ps, ps->p))
		ps->p++;
	v->type = JSON_NUMBER;
	v->flags = 0;
	integer_value(v, digits, ps->p, negative);
	if (ps->p < ps->end && *ps->p == '.') {
		integer = false;
		if (!is_digit(ps, ++ps->p))
			return unexpected(ps, "a digit after '.'");
		while (is_digit(ps, ps->p))
			ps->p++;
	}
	if (ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E')) {
		integer = false;
		ps->p++;
		if (ps->p < ps->end && (*ps->p == '+' || *ps->p == '-'))
			ps->p++;
		if (!is_digit(ps, ps->p))
			return unexpected(ps, "a digit in the exponent");
		while (is_digit(ps, ps->p))
			ps->p++;
	}
	if (!integer)
		v->flags = 0;
	return number_double(s, (size_t)(ps->p - s), &v->u.num.d);
}

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
static void *pop_to_arena(struct parser *ps, const void *stack, size_t *top, size_t n,
			  size_t size)
{
	void *out = arena_alloc(ps->doc, n * size);

	if (out && n)
		memcpy(out, (const char *)stack + (*top - n) * size, n * size);
	*top -= n;
	return out;
}

static int parse_array(struct parser *ps, struct json_value *v)
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
				return unexpected(ps, "',' or ']' in array");
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
static int index_members(struct parser *ps, struct json_value *v, const char *open)
{
	const struct json_member **sorted;
	size_t n = v->len;

	sorted = arena_alloc(ps->doc, n * sizeof(*sorted));
	if (!sorted)
		return KN_ENOMEM;
	for (size_t i = 0; i < n; i++)
		sorted[i] = &v->u.obj.members[i];
	if (n > 1)
		qsort(sorted, n, sizeof(*sorted), compare_member_ptrs);
	for (size_t i = 1; i < n; i++)
		if (compare_keys(sorted[i - 1], sorted[i]) == 0)
			return fail_at(ps, open, "duplicate key \"%.*s\" in the object starting",
				       (int)(sorted[i]->key_len > 64 ? 64 : sorted[i]->key_len),
				       sorted[i]->key);
	v->u.obj.sorted = sorted;
	return 0;
}

static int parse_member(struct parser *ps)
{
	struct json_member m;
	int err;

	skip_ws(ps);
	if (ps->p >= ps->end || *ps->p != '"')
		return unexpected(ps, "a string key");
	err = parse_string(ps, &m.key, &m.key_len);
	if (err)
		return err;
	skip_ws(ps);
	if (ps->p >= ps->end || *ps->p != ':')
		return unexpected(ps, "':' after an object key");
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

static int parse_object(struct parser *ps, struct json_value *v)
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
				return unexpected(ps, "',' or '}' in object");
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

static bool match_word(struct parser *ps, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
		return false;
	ps->p += n;
	return true;
}

static int parse_container(struct parser *ps, struct json_value *v)
{
	int err;

	if (ps->depth == JSON_MAX_DEPTH)
		return fail_at(ps, ps->p, "nesting deeper than %d", JSON_MAX_DEPTH);
	ps->depth++;
	err = *ps->p == '[' ? parse_array(ps, v) : parse_object(ps, v);
	ps->depth--;
	return err;
}

static int parse_value(struct parser *ps, struct json_value *v)
{
	skip_ws(ps);
	v->flags = 0;
	v->len = 0;
	if (ps->p >= ps->end)
		return unexpected(ps, "a value");
	switch (*ps->p) {
	case '{':
	case '[':
		return parse_container(ps, v);
	case '"':
		v->type = JSON_STRING;
		return parse_string(ps, &v->u.str, &v->len);
	case 't':
		v->type = JSON_TRUE;
		return match_word(ps, "true") ? 0 : unexpected(ps, "a value");
	case 'f':
		v->type = JSON_FALSE;
		return match_word(ps, "false") ? 0 : unexpected(ps, "a value");
	case 'n':
		v->type = JSON_NULL;
		return match_word(ps, "null") ? 0 : unexpected(ps, "a value");
	default:
		if (*ps->p == '-' || (*ps->p >= '0' && *ps->p <= '9'))
			return parse_number(ps, v);
		return unexpected(ps, "a value");
	}
}

int json_parse(const char *text, size_t len, struct json_doc *doc)
{
	struct parser ps = {.start = text, .p = text, .end = text + len, .doc = doc};
	struct json_value *root;
	int err;

	doc->blocks = NULL;
	doc->root = NULL;
	root = arena_alloc(doc, sizeof(*root));
	err = root ? parse_value(&ps, root) : KN_ENOMEM;
	if (!err) {
		skip_ws(&ps);
		if (ps.p < ps.end)
			err = unexpected(&ps, "end of input after the value");
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
