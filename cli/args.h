/*
 * args.h - maprcli's command line: the command words ("stream replica add"),
 * MapR-style options ("-path /mapr/c/s", "-multimaster yes") and the
 * options every command takes (-json, -noheader, -mount DIR, -h).
 *
 * This module only splits and checks the words against a specification;
 * what a command does with its options is the business of cli/cmd_*.c.
 */
#ifndef MAPRCLI_ARGS_H
#define MAPRCLI_ARGS_H

#include <stdbool.h>
#include <stddef.h>

/* What an option takes. */
enum opt_kind {
	OPT_STR,	/* a value, kept as given */
	OPT_BOOL,	/* true/false, yes/no, 1/0 (any case) */
	OPT_FLAG,	/* no value; an optional boolean may follow ("-wait true") */
	OPT_IGNORED,	/* a value, accepted for MapR compatibility and ignored */
};

/* One option a command accepts. A command's list ends with name == NULL. */
struct opt_spec {
	const char *name;	/* without the leading '-' */
	enum opt_kind kind;
	bool required;
	const char *help;	/* one line for -h; for OPT_IGNORED, why it is ignored */
};

#define ARGS_MAX_WORDS 4
#define ARGS_MAX_OPTS 32

/* An option as given on the command line. */
struct opt_value {
	const struct opt_spec *spec;
	const char *str;	/* the value as given (NULL for a bare flag) */
	bool b;			/* OPT_BOOL, OPT_FLAG: the value */
};

/* The whole command line, split. Strings point into argv. */
struct args {
	const char *words[ARGS_MAX_WORDS];
	int nwords;
	const char **rest;	/* what follows the words (options), argv-owned */
	int nrest;
	bool json, noheader, help;
	const char *mount;	/* -mount DIR, or NULL */
	struct opt_value opts[ARGS_MAX_OPTS];
	int nopts;
};

/*
 * args_split - split ARGV (without argv[0]) into command words and the rest.
 * Global options (-json, -noheader, -h/--help/-help, -mount DIR) are taken
 * from anywhere among them. Returns 0, or -1 with a message in ERR
 * (too many words, -mount without a value).
 */
int args_split(int argc, char **argv, struct args *a, char *err, size_t errlen);

/*
 * args_parse - check the options that followed the command words against
 * SPECS (ending with a NULL name) and store them in A->opts. Returns 0, or
 * -1 with a message in ERR naming the problem: an unknown option, an option
 * given twice, a missing value, a value that is not a boolean, a stray
 * argument, a required option missing.
 */
int args_parse(struct args *a, const struct opt_spec *specs, char *err,
	       size_t errlen);

/* args_get - the value of option NAME, or NULL if it was not given. */
const char *args_get(const struct args *a, const char *name);

/* args_has - true if option NAME was given. */
bool args_has(const struct args *a, const char *name);

/*
 * args_bool - the boolean value of option NAME (OPT_BOOL or OPT_FLAG), or
 * DEFLT when it was not given.
 */
bool args_bool(const struct args *a, const char *name, bool deflt);

/*
 * parse_bool - true/false, yes/no, 1/0 in any case into *OUT.
 * Returns 0, or -1 if S is none of them.
 */
int parse_bool(const char *s, bool *out);

#endif
