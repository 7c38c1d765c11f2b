/*
 * args.c - maprcli's command-line splitting and option checking (args.h).
 *
 * Owns the syntax of the command line only: words first, then
 * "-name value" pairs; global options may appear anywhere.
 */
#include "args.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

int parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "true", "yes", "1" };
	static const char *const no[] = { "false", "no", "0" };
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (!strcasecmp(s, yes[i])) {
			*out = true;
			return 0;
		}
		if (!strcasecmp(s, no[i])) {
			*out = false;
			return 0;
		}
	}
	return -1;
}

static bool is_help(const char *s)
{
	return !strcmp(s, "-h") || !strcmp(s, "--help") || !strcmp(s, "-help");
}

/*
 * Take a global option at ARGV[*I], if it is one: returns 1 (and advances
 * *I past its value), 0 if it is not global, -1 on error.
 */
static int take_global(int argc, char **argv, int *i, struct args *a,
		       char *err, size_t errlen)
{
	const char *s = argv[*i];
	if (!strcmp(s, "-json")) {
		a->json = true;
		return 1;
	}
	if (!strcmp(s, "-noheader")) {
		a->noheader = true;
		return 1;
	}
	if (is_help(s)) {
		a->help = true;
		return 1;
	}
	if (!strcmp(s, "-mount")) {
		if (*i + 1 >= argc || argv[*i + 1][0] == '\0' || argv[*i + 1][0] == '-') {
			snprintf(err, errlen, "option -mount needs a directory");
			return -1;
		}
		if (a->mount) {
			snprintf(err, errlen, "option -mount given twice");
			return -1;
		}
		a->mount = argv[++*i];
		return 1;
	}
	return 0;
}

int args_split(int argc, char **argv, struct args *a, char *err, size_t errlen)
{
	memset(a, 0, sizeof(*a));
	int i = 0;
	/* Words, with global options allowed before and among them. */
	for (; i < argc; i++) {
		int g = take_global(argc, argv, &i, a, err, errlen);
		if (g < 0)
			return -1;
		if (g > 0)
			continue;
		if (argv[i][0] == '-')
			break;
		if (a->nwords == ARGS_MAX_WORDS) {
			snprintf(err, errlen, "unknown command: too many words (at '%s')",
				 argv[i]);
			return -1;
		}
		a->words[a->nwords++] = argv[i];
	}
	a->rest = (const char **)argv + i;
	a->nrest = argc - i;
	/* Global options among the rest are found by args_parse; -h and
	 * -json must be known before that, so look for them now too. The
	 * value of an option never is one of these words in practice. */
	for (int k = 0; k < a->nrest; k++) {
		if (!strcmp(a->rest[k], "-json"))
			a->json = true;
		else if (!strcmp(a->rest[k], "-noheader"))
			a->noheader = true;
		else if (is_help(a->rest[k]))
			a->help = true;
	}
	return 0;
}

static const struct opt_spec *find_spec(const struct opt_spec *specs, const char *name)
{
	for (const struct opt_spec *s = specs; s && s->name; s++)
		if (!strcmp(s->name, name))
			return s;
	return NULL;
}

/*
 * Is TOK an option rather than a value? "-topic -json" means the value was
 * forgotten, not a topic called "-json": a global option or one of this
 * command's options is never taken as a value.
 */
static bool is_option_word(const struct opt_spec *specs, const char *tok)
{
	if (tok[0] != '-')
		return false;
	if (!strcmp(tok, "-json") || !strcmp(tok, "-noheader") ||
	    !strcmp(tok, "-mount") || is_help(tok))
		return true;
	return find_spec(specs, tok + 1) != NULL;
}

int args_parse(struct args *a, const struct opt_spec *specs, char *err,
	       size_t errlen)
{
	a->nopts = 0;
	char **rest = (char **)a->rest;
	for (int i = 0; i < a->nrest; i++) {
		const char *tok = rest[i];
		int g = take_global(a->nrest, rest, &i, a, err, errlen);
		if (g < 0)
			return -1;
		if (g > 0)
			continue;
		if (tok[0] != '-' || tok[1] == '\0') {
			snprintf(err, errlen, "unexpected argument '%s' (options are written -name value)",
				 tok);
			return -1;
		}
		const struct opt_spec *s = find_spec(specs, tok + 1);
		if (!s) {
			snprintf(err, errlen, "unknown option %s", tok);
			return -1;
		}
		for (int k = 0; k < a->nopts; k++) {
			if (a->opts[k].spec == s) {
				snprintf(err, errlen, "option %s given twice", tok);
				return -1;
			}
		}
		if (a->nopts == ARGS_MAX_OPTS) {
			snprintf(err, errlen, "too many options");
			return -1;
		}
		struct opt_value *v = &a->opts[a->nopts];
		v->spec = s;
		v->str = NULL;
		v->b = true;
		if (s->kind == OPT_FLAG) {
			/* "-wait" or "-wait true" */
			if (i + 1 < a->nrest && rest[i + 1][0] != '-' &&
			    parse_bool(rest[i + 1], &v->b) == 0)
				v->str = rest[++i];
			a->nopts++;
			continue;
		}
		if (i + 1 >= a->nrest || is_option_word(specs, rest[i + 1])) {
			snprintf(err, errlen, "option %s needs a value", tok);
			return -1;
		}
		v->str = rest[++i];
		if (s->kind == OPT_BOOL && parse_bool(v->str, &v->b) < 0) {
			snprintf(err, errlen, "option %s: '%s' is not a boolean (expected true, false, yes, no, 1 or 0)",
				 tok, v->str);
			return -1;
		}
		if (s->kind == OPT_STR && v->str[0] == '\0') {
			snprintf(err, errlen, "option %s: the value is empty", tok);
			return -1;
		}
		a->nopts++;
	}
	for (const struct opt_spec *s = specs; s && s->name; s++) {
		if (s->required && !args_has(a, s->name)) {
			snprintf(err, errlen, "missing option -%s", s->name);
			return -1;
		}
	}
	return 0;
}

static const struct opt_value *find_value(const struct args *a, const char *name)
{
	for (int i = 0; i < a->nopts; i++)
		if (!strcmp(a->opts[i].spec->name, name))
			return &a->opts[i];
	return NULL;
}

const char *args_get(const struct args *a, const char *name)
{
	const struct opt_value *v = find_value(a, name);
	return v ? v->str : NULL;
}

bool args_has(const struct args *a, const char *name)
{
	return find_value(a, name) != NULL;
}

bool args_bool(const struct args *a, const char *name, bool deflt)
{
	const struct opt_value *v = find_value(a, name);
	return v ? v->b : deflt;
}
