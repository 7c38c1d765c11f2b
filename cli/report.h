/*
 * report.h - what maprcli prints: the result rows of a command as an
 * aligned table (the default) or in MapR's JSON shape (-json), the error
 * of a failed command, and notes on stderr.
 *
 * JSON, as MapR's maprcli prints it:
 *   {"timestamp":<ms>,"timeofday":"2026-11-29 21:30:00.123 GMT+0000",
 *    "status":"OK","total":N,"data":[{...},...]}
 *   {"timestamp":...,"timeofday":...,"status":"ERROR",
 *    "errors":[{"id":<errno>,"desc":"..."}]}
 * A table has one header row of the field names (unless -noheader) and
 * one row per data object, columns in the objects' key order, separated
 * by two spaces. An empty result prints nothing in table mode.
 */
#ifndef MAPRCLI_REPORT_H
#define MAPRCLI_REPORT_H

#include <jansson.h>
#include <stdbool.h>

/* Exit statuses. */
#define EXIT_OK 0
#define EXIT_FAIL 1	/* the command failed */
#define EXIT_USAGE 2	/* the command line is wrong; nothing was done */

struct report {
	bool json;		/* print MapR's JSON shape */
	bool noheader;		/* table without its header row */
	json_t *data;		/* array of row objects */
	bool failed;
	int status;		/* exit status of a failure */
	int id;			/* errno of a failure (the JSON "id") */
	char desc[2048];	/* one line */
};

/* report_init - an empty, successful report. */
void report_init(struct report *r, bool json, bool noheader);

/* report_free - release what R holds. */
void report_free(struct report *r);

/*
 * report_fail - record that the command failed with exit STATUS, errno ID
 * and a one-line description (printf FMT). The first failure recorded is
 * the one reported. Returns STATUS, for "return report_fail(...)".
 */
int report_fail(struct report *r, int status, int id, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/*
 * report_row - add one row, an object whose keys are the columns in order.
 * Takes the reference to ROW. Returns 0, or -1 (out of memory, ROW NULL:
 * the failure is recorded).
 */
int report_row(struct report *r, json_t *row);

/* report_note - one line "maprcli: note: ..." on stderr. */
void report_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * report_print - print R: on success the rows (table or JSON) on stdout;
 * on failure the error as "maprcli: DESC" on stderr, or the JSON error
 * shape on stdout. Returns the exit status.
 */
int report_print(struct report *r);

#endif
