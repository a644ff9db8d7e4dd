/*
 * The JSON reader's tokens with content: strings (escapes decoded, UTF-8 checked) and
 * numbers (a double for each, exact integers besides). See json.h for the rules.
 */
#include "io/alloc.h"
#include "io/error.h"
#include "io/json_internal.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

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

static int hex4(const struct json_parser *ps, const char *p, unsigned *out)
{
	unsigned v = 0;

	if (ps->end - p < 4)
		return json_fail_at(ps, p, "truncated \\u escape");
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
			return json_fail_at(ps, p, "invalid hex digit in \\u escape");
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
static int unicode_escape(struct json_parser *ps, char *out, size_t *n)
{
	const char *at = ps->p - 2;
	unsigned cp, lo;
	int err = hex4(ps, ps->p, &cp);

	if (err)
		return err;
	ps->p += 4;
	if (cp >= 0xdc00 && cp <= 0xdfff)
		return json_fail_at(ps, at, "lone low surrogate in \\u escape");
	if (cp >= 0xd800 && cp <= 0xdbff) {
		if (ps->end - ps->p < 2 || ps->p[0] != '\\' || ps->p[1] != 'u')
			return json_fail_at(ps, at, "high surrogate not followed by a low one");
		err = hex4(ps, ps->p + 2, &lo);
		if (err)
			return err;
		if (lo < 0xdc00 || lo > 0xdfff)
			return json_fail_at(ps, at, "high surrogate not followed by a low one");
		ps->p += 6;
		cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
	}
	*n = put_utf8(out, cp);
	return 0;
}

static int escape(struct json_parser *ps, char *out, size_t *n)
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	const char *hit;

	if (ps->p >= ps->end)
		return json_fail_at(ps, ps->p, "unterminated string");
	if (*ps->p == 'u') {
		ps->p++;
		return unicode_escape(ps, out, n);
	}
	hit = *ps->p ? strchr(from, *ps->p) : NULL;
	if (!hit)
		return json_fail_at(ps, ps->p - 1, "invalid escape in string");
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
int json_lex_string(struct json_parser *ps, const char **str, size_t *len)
{
	const char *q = ++ps->p;
	char *out;
	size_t n = 0;

	while (q < ps->end && *q != '"')
		q += (*q == '\\' && q + 1 < ps->end) ? 2 : 1;
	out = json_arena_alloc(ps->doc, (size_t)(q - ps->p) + 1);
	if (!out)
		return KN_ENOMEM;
	for (;;) {
		unsigned char c;
		size_t k = 0;

		if (ps->p >= ps->end)
			return json_fail_at(ps, ps->p, "unterminated string");
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
			return json_fail_at(ps, ps->p, "control character 0x%02x in string", c);
		k = utf8_length((const unsigned char *)ps->p, (const unsigned char *)ps->end);
		if (!k)
			return json_fail_at(ps, ps->p, "invalid UTF-8 in string");
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

static bool is_digit(const struct json_parser *ps, const char *p)
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

int json_lex_number(struct json_parser *ps, struct json_value *v)
{
	const char *s = ps->p, *digits;
	bool negative = false, integer = true;

	if (*ps->p == '-') {
		negative = true;
		ps->p++;
	}
	digits = ps->p;
	if (!is_digit(ps, ps->p))
		return json_unexpected(ps, "a digit");
	if (*ps->p == '0' && is_digit(ps, ps->p + 1))
		return json_fail_at(ps, ps->p, "leading zero in number");
	while (is_digit(ps, ps->p))
		ps->p++;
	v->type = JSON_NUMBER;
	v->flags = 0;
	integer_value(v, digits, ps->p, negative);
	if (ps->p < ps->end && *ps->p == '.') {
		integer = false;
		if (!is_digit(ps, ++ps->p))
			return json_unexpected(ps, "a digit after '.'");
		while (is_digit(ps, ps->p))
			ps->p++;
	}
	if (ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E')) {
		integer = false;
		ps->p++;
		if (ps->p < ps->end && (*ps->p == '+' || *ps->p == '-'))
			ps->p++;
		if (!is_digit(ps, ps->p))
			return json_unexpected(ps, "a digit in the exponent");
		while (is_digit(ps, ps->p))
			ps->p++;
	}
	if (!integer)
		v->flags = 0;
	return number_double(s, (size_t)(ps->p - s), &v->u.num.d);
}
