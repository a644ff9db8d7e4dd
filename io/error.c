/* Thread-local error messages and the always-on CHECK. See error.h. */
#include "io/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static _Thread_local char errbuf[1024];

int kn_error(int code, const char *fmt, ...)
{
	va_list ap;

	CHECK(code < 0);
	va_start(ap, fmt);
	vsnprintf(errbuf, sizeof(errbuf), fmt, ap);
	va_end(ap);
	return code;
}

int kn_error_prefix(int code, const char *fmt, ...)
{
	char prefix[512];
	size_t plen, mlen;
	va_list ap;

	CHECK(code < 0);
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	/* Shift the message right and put "prefix: " before it, truncating at the end. */
	plen = strlen(prefix) + 2;
	mlen = strlen(errbuf);
	if (mlen > sizeof(errbuf) - 1 - plen)
		mlen = sizeof(errbuf) - 1 - plen;
	memmove(errbuf + plen, errbuf, mlen);
	errbuf[plen + mlen] = '\0';
	memcpy(errbuf, prefix, plen - 2);
	memcpy(errbuf + plen - 2, ": ", 2);
	return code;
}

const char *kn_errmsg(void)
{
	return errbuf;
}

void kn_check_failed(const char *file, int line, const char *expr)
{
	fprintf(stderr, "%s:%d: check failed: %s\n", file, line, expr);
	fflush(stderr);
	abort();
}
