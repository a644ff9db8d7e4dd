/*
 * NumPy .npy reading and writing for float32 arrays. See npy.h.
 *
 * The header is a Python dict literal such as
 *     {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
 * parsed here by a small strict scanner: exactly the three keys, each once.
 */
#include "io/npy.h"
#include "io/alloc.h"
#include "io/atomic.h"
#include "io/error.h"
#include "io/file.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char magic[6] = {'\x93', 'N', 'U', 'M', 'P', 'Y'};

struct scan {
	const char *p, *end;
};

static void skip_space(struct scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t'))
		s->p++;
}

static bool accept(struct scan *s, char c)
{
	skip_space(s);
	if (s->p < s->end && *s->p == c) {
		s->p++;
		return true;
	}
	return false;
}

/* A quoted string ('...' or "..."), copied into buf (truncation is an error). */
static bool scan_string(struct scan *s, char *buf, size_t size)
{
	char q;
	size_t n = 0;

	skip_space(s);
	if (s->p >= s->end || (*s->p != '\'' && *s->p != '"'))
		return false;
	q = *s->p++;
	while (s->p < s->end && *s->p != q) {
		if (n + 1 >= size)
			return false;
		buf[n++] = *s->p++;
	}
	if (s->p >= s->end)
		return false;
	s->p++;
	buf[n] = '\0';
	return true;
}

static bool scan_word(struct scan *s, const char *word)
{
	size_t n = strlen(word);

	skip_space(s);
	if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n) != 0)
		return false;
	s->p += n;
	return true;
}

static bool scan_size(struct scan *s, size_t *v)
{
	size_t x = 0;

	skip_space(s);
	if (s->p >= s->end || !isdigit((unsigned char)*s->p))
		return false;
	while (s->p < s->end && isdigit((unsigned char)*s->p)) {
		size_t d = (size_t)(*s->p - '0');

		if (x > (SIZE_MAX - d) / 10)
			return false;
		x = x * 10 + d;
		s->p++;
	}
	*v = x;
	return true;
}

static bool scan_shape(struct scan *s, struct npy_array *a)
{
	if (!accept(s, '('))
		return false;
	a->ndim = 0;
	if (accept(s, ')'))
		return true;
	for (;;) {
		if (a->ndim == NPY_MAX_DIMS || !scan_size(s, &a->shape[a->ndim]))
			return false;
		a->ndim++;
		if (accept(s, ')'))
			return true;
		if (!accept(s, ','))
			return false;
		if (accept(s, ')'))
			return true;
	}
}

/* Parses the dict; fills descr, fortran and the shape of a. */
static int parse_header(struct scan *s, const char *name, char *descr, size_t dsize,
			bool *fortran, struct npy_array *a)
{
	bool seen_descr = false, seen_order = false, seen_shape = false;
	char key[32];

	if (!accept(s, '{'))
		return kn_error(KN_EFORMAT, "'%s': npy header is not a dict", name);
	while (!accept(s, '}')) {
		if (!scan_string(s, key, sizeof(key)) || !accept(s, ':'))
			return kn_error(KN_EFORMAT, "'%s': malformed npy header", name);
		if (!strcmp(key, "descr") && !seen_descr) {
			if (!scan_string(s, descr, dsize))
				return kn_error(KN_EFORMAT, "'%s': malformed npy descr", name);
			seen_descr = true;
		} else if (!strcmp(key, "fortran_order") && !seen_order) {
			if (scan_word(s, "True"))
				*fortran = true;
			else if (scan_word(s, "False"))
				*fortran = false;
			else
				return kn_error(KN_EFORMAT, "'%s': malformed npy fortran_order", name);
			seen_order = true;
		} else if (!strcmp(key, "shape") && !seen_shape) {
			if (!scan_shape(s, a))
				return kn_error(KN_EFORMAT, "'%s': malformed or too deep npy shape",
						name);
			seen_shape = true;
		} else {
			return kn_error(KN_EFORMAT, "'%s': unexpected npy header key '%s'", name, key);
		}
		if (!accept(s, ',') && !(skip_space(s), s->p < s->end && *s->p == '}'))
			return kn_error(KN_EFORMAT, "'%s': malformed npy header", name);
	}
	if (!seen_descr || !seen_order || !seen_shape)
		return kn_error(KN_EFORMAT, "'%s': npy header lacks descr, fortran_order or shape",
				name);
	return 0;
}

int npy_parse(const unsigned char *buf, size_t len, const char *name, struct npy_array *out)
{
	struct npy_array a = {0};
	size_t hlen, hstart, bytes;
	char descr[16];
	bool fortran = false;
	struct scan s;
	int err;

	if (len < 10 || memcmp(buf, magic, sizeof(magic)) != 0)
		return kn_error(KN_EFORMAT, "'%s': not a .npy file (bad magic)", name);
	if (buf[6] == 1) {
		hlen = (size_t)buf[8] | (size_t)buf[9] << 8;
		hstart = 10;
	} else if (buf[6] == 2 || buf[6] == 3) {
		if (len < 12)
			return kn_error(KN_EFORMAT, "'%s': truncated .npy header", name);
		hlen = (size_t)buf[8] | (size_t)buf[9] << 8 | (size_t)buf[10] << 16 |
		       (size_t)buf[11] << 24;
		hstart = 12;
	} else {
		return kn_error(KN_EFORMAT, "'%s': unsupported .npy version %u", name, buf[6]);
	}
	if (hlen > len - hstart)
		return kn_error(KN_EFORMAT, "'%s': truncated .npy header", name);
	s.p = (const char *)buf + hstart;
	s.end = s.p + hlen;
	err = parse_header(&s, name, descr, sizeof(descr), &fortran, &a);
	if (err)
		return err;
	/* Only the padding (spaces, a final newline) may follow the dict. */
	while (s.p < s.end && (*s.p == ' ' || *s.p == '\t' || *s.p == '\n' || *s.p == '\r'))
		s.p++;
	if (s.p != s.end)
		return kn_error(KN_EFORMAT, "'%s': unexpected bytes after the npy header dict", name);
	if (strcmp(descr, "<f4") != 0)
		return kn_error(KN_EFORMAT, "'%s': npy dtype '%s' is not float32 ('<f4')", name,
				descr);
	if (fortran && a.ndim > 1)
		return kn_error(KN_EFORMAT, "'%s': Fortran-order .npy arrays are not supported",
				name);
	a.count = 1;
	for (int i = 0; i < a.ndim; i++)
		if (!kn_size_mul(&a.count, a.count, a.shape[i]))
			return kn_error(KN_EFORMAT, "'%s': npy shape overflows", name);
	if (!kn_size_mul(&bytes, a.count, sizeof(float)) || bytes != len - hstart - hlen)
		return kn_error(KN_EFORMAT, "'%s': npy data is %zu bytes, shape needs %zu", name,
				len - hstart - hlen, a.count * sizeof(float));
	a.data = kn_try_alloc(bytes, name);
	if (!a.data)
		return KN_ENOMEM;
	for (size_t i = 0; i < a.count; i++) {
		const unsigned char *p = buf + hstart + hlen + 4 * i;
		uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
			     (uint32_t)p[3] << 24;

		memcpy(&a.data[i], &u, 4);
	}
	*out = a;
	return 0;
}

int npy_read(const char *path, struct npy_array *out)
{
	unsigned char *buf;
	size_t len;
	int err = file_read_all(path, &buf, &len);

	if (err)
		return err;
	err = npy_parse(buf, len, path, out);
	free(buf);
	return err;
}

void npy_free(struct npy_array *a)
{
	free(a->data);
	a->data = NULL;
	a->count = 0;
	a->ndim = 0;
}

int npy_write(const char *path, const float *data, int ndim, const size_t *shape)
{
	char header[256];
	struct atomic_file af;
	size_t count = 1, pad, n;
	int len;

	CHECK(ndim >= 0 && ndim <= NPY_MAX_DIMS);
	len = snprintf(header, sizeof(header), "{'descr': '<f4', 'fortran_order': False, 'shape': (");
	for (int i = 0; i < ndim; i++) {
		len += snprintf(header + len, sizeof(header) - (size_t)len, "%zu%s", shape[i],
				ndim == 1 ? "," : (i + 1 < ndim ? ", " : ""));
		CHECK(kn_size_mul(&count, count, shape[i]));
	}
	len += snprintf(header + len, sizeof(header) - (size_t)len, "), }");
	/* Pad with spaces and a newline so that data starts on a 64-byte boundary. */
	n = 10 + (size_t)len + 1;
	pad = (64 - n % 64) % 64;
	if (atomic_open(&af, path) < 0)
		return KN_EIO;
	fwrite(magic, 1, sizeof(magic), af.f);
	fputc(1, af.f);
	fputc(0, af.f);
	fputc((int)((len + pad + 1) & 0xff), af.f);
	fputc((int)((len + pad + 1) >> 8), af.f);
	fwrite(header, 1, (size_t)len, af.f);
	for (size_t i = 0; i < pad; i++)
		fputc(' ', af.f);
	fputc('\n', af.f);
	for (size_t i = 0; i < count; i++) {
		uint32_t u;
		unsigned char b[4];

		memcpy(&u, &data[i], 4);
		b[0] = (unsigned char)u;
		b[1] = (unsigned char)(u >> 8);
		b[2] = (unsigned char)(u >> 16);
		b[3] = (unsigned char)(u >> 24);
		fwrite(b, 1, 4, af.f);
	}
	return atomic_commit(&af);
}
