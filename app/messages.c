/* The program's messages: put_escaped, die and usage_error (see commands.h). */
#include "app/commands.h"
#include "app/dist.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

void put_escaped(FILE *out, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '\n')
			fputs("\\n", out);
		else if (c < 0x20 || c == 0x7f)
			fprintf(out, "\\x%02x", c);
		else
			fputc(c, out);
	}
}

/*
 * prefix, the message from fmt with control characters escaped, then suffix, written to
 * stderr in one piece: stderr is unbuffered, and the ranks of an MPI job share one
 * terminal, where a line written a character at a time would mix with the others'.
 */
static void put_message(const char *prefix, const char *suffix, const char *fmt, va_list ap)
{
	va_list ap2;
	int n;
	char *msg, *line = NULL;
	size_t len = 0;
	FILE *m;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	msg = malloc(n < 0 ? 1 : (size_t)n + 1);
	if (!msg || n < 0) {
		fprintf(stderr, "%sout of memory%s", prefix, suffix);
		free(msg);
		return;
	}
	vsnprintf(msg, (size_t)n + 1, fmt, ap);
	m = open_memstream(&line, &len);
	if (m) {
		fputs(prefix, m);
		put_escaped(m, msg);
		fputs(suffix, m);
	}
	if (m && !fclose(m)) {
		fwrite(line, 1, len, stderr);
	} else {
		fputs(prefix, stderr);
		put_escaped(stderr, msg);
		fputs(suffix, stderr);
	}
	free(line);
	free(msg);
}

int die(const char *fmt, ...)
{
	char prefix[128];
	va_list ap;

	snprintf(prefix, sizeof(prefix), "knseg: %s", dist_where());
	va_start(ap, fmt);
	put_message(prefix, "\n", fmt, ap);
	va_end(ap);
	return 1;
}

/*
 * The ranks of a job parse the same words (the commands check that first), so a usage
 * error is everyone's: rank 0 says it.
 */
int usage_error(const char *cmd, const char *fmt, ...)
{
	char prefix[64], suffix[64];
	va_list ap;

	if (dist_rank() != 0)
		return 2;
	snprintf(prefix, sizeof(prefix), "knseg %s: ", cmd);
	snprintf(suffix, sizeof(suffix), " (see 'knseg %s --help')\n", cmd);
	va_start(ap, fmt);
	put_message(prefix, suffix, fmt, ap);
	va_end(ap);
	return 2;
}
