/*
 * report.c - maprcli's output: tables, MapR's JSON shape, errors and notes
 * (report.h).
 */
#define _GNU_SOURCE	/* asprintf */
#include "report.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

void report_init(struct report *r, bool json, bool noheader)
{
	memset(r, 0, sizeof(*r));
	r->json = json;
	r->noheader = noheader;
	r->data = json_array();
}

void report_free(struct report *r)
{
	json_decref(r->data);
	r->data = NULL;
}

int report_fail(struct report *r, int status, int id, const char *fmt, ...)
{
	if (r->failed)
		return r->status;
	r->failed = true;
	r->status = status;
	r->id = id;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->desc, sizeof(r->desc), fmt, ap);
	va_end(ap);
	/* One line, whatever the pieces held. */
	for (char *p = r->desc; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	return status;
}

int report_row(struct report *r, json_t *row)
{
	if (!row || !r->data || json_array_append_new(r->data, row) < 0) {
		report_fail(r, EXIT_FAIL, 12, "out of memory");
		return -1;
	}
	return 0;
}

void report_note(const char *fmt, ...)
{
	va_list ap;
	fputs("maprcli: note: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* The envelope's "timestamp" (ms) and "timeofday" (MapR's format). */
static json_t *envelope(const char *status)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	struct tm tm;
	time_t sec = tv.tv_sec;
	localtime_r(&sec, &tm);
	char day[32], tod[64];
	strftime(day, sizeof(day), "%Y-%m-%d %H:%M:%S", &tm);
	int off = (int)(tm.tm_gmtoff / 60) % (24 * 60);	/* minutes east of UTC */
	char sign = off < 0 ? '-' : '+';
	if (off < 0)
		off = -off;
	snprintf(tod, sizeof(tod), "%s.%03d GMT%c%02d%02d", day,
		 (int)(tv.tv_usec / 1000) % 1000, sign, off / 60, off % 60);
	json_int_t ms = (json_int_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
	return json_pack("{s:I, s:s, s:s}", "timestamp", ms, "timeofday", tod,
			 "status", status);
}

/* A value as a table cell; "-" for empty strings and null. Caller frees. */
static char *cell(json_t *v)
{
	char *s = NULL;
	switch (json_typeof(v)) {
	case JSON_STRING:
		s = strdup(json_string_length(v) ? json_string_value(v) : "-");
		break;
	case JSON_INTEGER:
		if (asprintf(&s, "%" JSON_INTEGER_FORMAT, json_integer_value(v)) < 0)
			s = NULL;
		break;
	case JSON_REAL:
		if (asprintf(&s, "%g", json_real_value(v)) < 0)
			s = NULL;
		break;
	case JSON_TRUE:
		s = strdup("true");
		break;
	case JSON_FALSE:
		s = strdup("false");
		break;
	case JSON_NULL:
		s = strdup("-");
		break;
	default:
		s = json_dumps(v, JSON_COMPACT);
		break;
	}
	return s;
}

static int print_table(struct report *r)
{
	size_t nrows = json_array_size(r->data);
	if (nrows == 0)
		return 0;
	json_t *first = json_array_get(r->data, 0);
	size_t ncols = json_object_size(first);
	const char **keys = calloc(ncols + 1, sizeof(*keys));
	size_t *width = calloc(ncols + 1, sizeof(*width));
	char **cells = calloc(nrows * ncols + 1, sizeof(*cells));
	int rc = 0;
	if (!keys || !width || !cells) {
		rc = -1;
		goto out;
	}
	size_t c = 0;
	const char *key;
	json_t *v;
	json_object_foreach(first, key, v) {
		keys[c] = key;
		width[c] = r->noheader ? 0 : strlen(key);
		c++;
	}
	for (size_t i = 0; i < nrows; i++) {
		json_t *row = json_array_get(r->data, i);
		for (c = 0; c < ncols; c++) {
			json_t *x = json_object_get(row, keys[c]);
			char *s = x ? cell(x) : strdup("-");
			if (!s) {
				rc = -1;
				goto out;
			}
			cells[i * ncols + c] = s;
			if (strlen(s) > width[c])
				width[c] = strlen(s);
		}
	}
	if (!r->noheader) {
		for (c = 0; c < ncols; c++)
			printf("%-*s%s", c + 1 < ncols ? (int)width[c] : 0, keys[c],
			       c + 1 < ncols ? "  " : "\n");
	}
	for (size_t i = 0; i < nrows; i++)
		for (c = 0; c < ncols; c++)
			printf("%-*s%s", c + 1 < ncols ? (int)width[c] : 0,
			       cells[i * ncols + c], c + 1 < ncols ? "  " : "\n");
out:
	if (cells)
		for (size_t i = 0; i < nrows * ncols; i++)
			free(cells[i]);
	free(cells);
	free(width);
	free(keys);
	return rc;
}

/* Print J compactly on stdout, with a newline. */
static int print_json(json_t *j)
{
	if (!j)
		return -1;
	int rc = json_dumpf(j, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER);
	fputc('\n', stdout);
	json_decref(j);
	return rc;
}

int report_print(struct report *r)
{
	if (!r->failed) {
		int rc;
		if (r->json) {
			json_t *j = envelope("OK");
			if (j) {
				json_object_set_new(j, "total",
						    json_integer((json_int_t)json_array_size(r->data)));
				json_object_set(j, "data", r->data);
			}
			rc = print_json(j);
		} else {
			rc = print_table(r);
		}
		if (rc < 0)
			report_fail(r, EXIT_FAIL, 12, "out of memory while printing");
		else if (fflush(stdout) != 0)
			report_fail(r, EXIT_FAIL, 5, "cannot write the output");
		else
			return EXIT_OK;
	}
	if (r->json) {
		json_t *j = envelope("ERROR");
		json_t *desc = json_string(r->desc);
		if (!desc) {
			/* Not UTF-8 (a path given by the user): ASCII only then. */
			for (unsigned char *p = (unsigned char *)r->desc; *p; p++)
				if (*p >= 0x80)
					*p = '?';
			desc = json_string(r->desc);
		}
		if (j)
			json_object_set_new(j, "errors", json_pack("[{s:i, s:o}]", "id", r->id,
								   "desc", desc));
		else
			json_decref(desc);
		/* Where stdout cannot take the JSON, stderr still gets the reason. */
		if (print_json(j) < 0 || fflush(stdout) != 0 || ferror(stdout))
			fprintf(stderr, "maprcli: %s\n", r->desc);
	} else {
		fprintf(stderr, "maprcli: %s\n", r->desc);
	}
	return r->status;
}
