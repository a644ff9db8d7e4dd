/*
 * Protocol Buffers wire format, writing only: enough to encode a message whose schema
 * the caller knows (the ONNX model of nets/onnx.c), without a protobuf library.
 *
 * A message is a sequence of fields, each a key (field number << 3 | wire type) as a
 * varint followed by its payload: a varint (PB_VARINT: integers, enums, bools), four
 * little-endian bytes (PB_FIXED32: float), or a varint length and that many bytes
 * (PB_LEN: strings, bytes, nested messages). Fields may come in any order and a
 * repeated field is simply written again, so a writer appends fields as it goes:
 *
 *     struct pbuf b;
 *     pbuf_init(&b);
 *     pb_int(&b, 1, 7);                      (field 1 = 7)
 *     size_t at = pb_begin(&b, 2);           (field 2, a nested message...)
 *     pb_string(&b, 1, "name");
 *     pb_end(&b, at);                        (...whose length is now written)
 *     ... b.data, b.len ...
 *     pbuf_free(&b);
 *
 * pb_end writes the length in front of the nested content (the fewest bytes, as an
 * encoder must) and moves the content up by that many bytes. Sizes are the program's
 * own (a network's weights), so running out of memory aborts as xmalloc does.
 */
#ifndef KNSEG_IO_PBUF_H
#define KNSEG_IO_PBUF_H

#include <stddef.h>
#include <stdint.h>

enum pb_wire { PB_VARINT = 0, PB_FIXED64 = 1, PB_LEN = 2, PB_FIXED32 = 5 };

struct pbuf {
	unsigned char *data;
	size_t len, cap;
};

void pbuf_init(struct pbuf *b);
void pbuf_free(struct pbuf *b);

/* Appends n raw bytes. */
void pb_raw(struct pbuf *b, const void *p, size_t n);

/* Appends v as a varint (1 to 10 bytes, 7 bits each, low bits first). */
void pb_varint(struct pbuf *b, uint64_t v);

/* Appends the key of field `field` (>= 1) with wire type `wire`. */
void pb_key(struct pbuf *b, int field, enum pb_wire wire);

/*
 * Whole fields. pb_int writes int32, int64 and enum fields: a negative value is sign-
 * extended to 64 bits and takes ten bytes, as protobuf defines. pb_float is a float
 * field (fixed32, the value's IEEE bits little-endian).
 */
void pb_int(struct pbuf *b, int field, int64_t v);
void pb_float(struct pbuf *b, int field, float v);
void pb_bytes(struct pbuf *b, int field, const void *p, size_t n);
void pb_string(struct pbuf *b, int field, const char *s);

/* Starts a nested message (or any length-delimited field) `field`; returns the mark
 * that pb_end takes. Marks nest: end the inner one first. */
size_t pb_begin(struct pbuf *b, int field);
void pb_end(struct pbuf *b, size_t mark);

#endif
