/* Protocol Buffers wire format, writing (io/pbuf.h). */
#include "io/pbuf.h"

#include "io/alloc.h"
#include "io/error.h"

#include <stdlib.h>
#include <string.h>

/* The longest varint: 64 bits in 7-bit groups. */
#define PB_VARINT_MAX 10

void pbuf_init(struct pbuf *b)
{
	b->data = NULL;
	b->len = b->cap = 0;
}

void pbuf_free(struct pbuf *b)
{
	free(b->data);
	pbuf_init(b);
}

static void reserve(struct pbuf *b, size_t n)
{
	CHECK(n <= SIZE_MAX - b->len);
	if (b->len + n <= b->cap)
		return;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < b->len + n)
		cap = cap > SIZE_MAX / 2 ? b->len + n : 2 * cap;
	b->data = xrealloc(b->data, cap);
	b->cap = cap;
}

void pb_raw(struct pbuf *b, const void *p, size_t n)
{
	if (n == 0)
		return;
	reserve(b, n);
	memcpy(b->data + b->len, p, n);
	b->len += n;
}

/* Encodes v into out; returns the byte count. */
static size_t varint_encode(unsigned char out[PB_VARINT_MAX], uint64_t v)
{
	size_t n = 0;

	while (v >= 0x80) {
		out[n++] = (unsigned char)(v | 0x80);
		v >>= 7;
	}
	out[n++] = (unsigned char)v;
	return n;
}

void pb_varint(struct pbuf *b, uint64_t v)
{
	unsigned char tmp[PB_VARINT_MAX];

	pb_raw(b, tmp, varint_encode(tmp, v));
}

void pb_key(struct pbuf *b, int field, enum pb_wire wire)
{
	/* Field numbers are 1 .. 2^29 - 1. */
	CHECK(field >= 1 && field < (1 << 29));
	pb_varint(b, (uint64_t)field << 3 | (uint64_t)wire);
}

void pb_int(struct pbuf *b, int field, int64_t v)
{
	pb_key(b, field, PB_VARINT);
	pb_varint(b, (uint64_t)v);
}

void pb_float(struct pbuf *b, int field, float v)
{
	uint32_t bits;
	unsigned char le[4];

	memcpy(&bits, &v, sizeof bits);
	for (int i = 0; i < 4; i++)
		le[i] = (unsigned char)(bits >> (8 * i));
	pb_key(b, field, PB_FIXED32);
	pb_raw(b, le, sizeof le);
}

void pb_bytes(struct pbuf *b, int field, const void *p, size_t n)
{
	pb_key(b, field, PB_LEN);
	pb_varint(b, n);
	pb_raw(b, p, n);
}

void pb_string(struct pbuf *b, int field, const char *s)
{
	pb_bytes(b, field, s, strlen(s));
}

size_t pb_begin(struct pbuf *b, int field)
{
	pb_key(b, field, PB_LEN);
	return b->len;
}

void pb_end(struct pbuf *b, size_t mark)
{
	unsigned char tmp[PB_VARINT_MAX];
	size_t content, n;

	CHECK(mark <= b->len);
	content = b->len - mark;
	n = varint_encode(tmp, content);
	reserve(b, n);
	memmove(b->data + mark + n, b->data + mark, content);
	memcpy(b->data + mark, tmp, n);
	b->len += n;
}
