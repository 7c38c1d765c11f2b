/*
 * test_control.c - unit tests for the control-file parser (fs/control.c):
 * the accepted line forms of docs/control-files.md and every class of rejected line.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "control.h"

#define MP "/tmp/x/mnt"

static char err[256];

/* Parse a NUL-terminated string; the length passed excludes the NUL. */
static int parse(const char *text, enum ctl_kind kind, const char *mp,
		 struct ctl_entry **out)
{
	err[0] = '\0';
	return ctl_parse(text, strlen(text), kind, mp, out, err, sizeof err);
}

/* Expect one entry naming CLUSTER/STREAM; returns it for further checks. */
static struct ctl_entry *one(const char *text, enum ctl_kind kind,
			     const char *mp, const char *cluster,
			     const char *stream)
{
	struct ctl_entry *v = NULL;
	int n = parse(text, kind, mp, &v);
	if (n != 1)
		print_error("parse(\"%s\") = %d: %s\n", text, n, err);
	assert_int_equal(n, 1);
	assert_non_null(v);
	assert_string_equal(v[0].cluster, cluster);
	assert_string_equal(v[0].stream, stream);
	return v;
}

/*
 * Expect -EINVAL, *out untouched, and an error on one line that starts with
 * the line number and contains NEEDLE.
 */
static void bad(const char *text, enum ctl_kind kind, const char *mp,
		int line, const char *needle)
{
	struct ctl_entry *sentinel = (struct ctl_entry *)(uintptr_t)0x1234;
	struct ctl_entry *v = sentinel;
	char prefix[32];

	int rc = parse(text, kind, mp, &v);
	if (rc != -EINVAL)
		print_error("parse(\"%s\") = %d, expected -EINVAL\n", text, rc);
	assert_int_equal(rc, -EINVAL);
	assert_ptr_equal(v, sentinel);
	snprintf(prefix, sizeof prefix, "line %d: ", line);
	if (strncmp(err, prefix, strlen(prefix)) != 0 ||
	    !strstr(err, needle))
		print_error("parse(\"%s\") error \"%s\", wanted \"%s...%s\"\n",
			    text, err, prefix, needle);
	assert_true(strncmp(err, prefix, strlen(prefix)) == 0);
	assert_non_null(strstr(err, needle));
	assert_null(strchr(err, '\n'));
}

static void test_add(void **state)
{
	(void)state;
	struct ctl_entry *v = one("/mapr/newyork/activity\n", CTL_REPLICAS,
				  NULL, "newyork", "activity");
	assert_false(v[0].remove);
	assert_false(v[0].has_synchronous);
	assert_false(v[0].has_paused);
	assert_false(v[0].has_compression);
	assert_int_equal(v[0].line, 1);
	free(v);

	v = one("/mapr/newyork/activity\n", CTL_UPSTREAMS, NULL, "newyork",
		"activity");
	assert_false(v[0].remove);
	free(v);
}

static void test_add_with_keys(void **state)
{
	(void)state;
	struct ctl_entry *v =
		one("/mapr/ny/s synchronous=true paused=no "
		    "networkcompression=lz4\n",
		    CTL_REPLICAS, NULL, "ny", "s");
	assert_true(v[0].has_synchronous);
	assert_true(v[0].synchronous);
	assert_true(v[0].has_paused);
	assert_false(v[0].paused);
	assert_true(v[0].has_compression);
	assert_int_equal(v[0].compression, CTL_COMP_LZ4);
	free(v);

	/* values are case-insensitive; tabs separate like spaces */
	v = one("/mapr/ny/s\tsynchronous=YES\tpaused=False", CTL_REPLICAS, NULL,
		"ny", "s");
	assert_true(v[0].synchronous);
	assert_true(v[0].has_paused);
	assert_false(v[0].paused);
	assert_false(v[0].has_compression);
	free(v);

	/* 1 and 0 as maprcli takes them (-paused 1), and any case of the words */
	v = one("/mapr/ny/s synchronous=1 paused=0", CTL_REPLICAS, NULL, "ny", "s");
	assert_true(v[0].has_synchronous);
	assert_true(v[0].synchronous);
	assert_true(v[0].has_paused);
	assert_false(v[0].paused);
	free(v);
	v = one("/mapr/ny/s synchronous=0 paused=1", CTL_REPLICAS, NULL, "ny", "s");
	assert_false(v[0].synchronous);
	assert_true(v[0].paused);
	free(v);
	v = one("/mapr/ny/s synchronous=No paused=TRUE", CTL_REPLICAS, NULL, "ny", "s");
	assert_false(v[0].synchronous);
	assert_true(v[0].paused);
	free(v);
	v = one("/mapr/ny/s synchronous=fAlSe paused=yEs", CTL_REPLICAS, NULL, "ny", "s");
	assert_false(v[0].synchronous);
	assert_true(v[0].paused);
	free(v);

	v = one("/mapr/ny/s networkcompression=none", CTL_REPLICAS, NULL, "ny",
		"s");
	assert_true(v[0].has_compression);
	assert_int_equal(v[0].compression, CTL_COMP_OFF);
	free(v);

	v = one("/mapr/ny/s networkcompression=ZSTD", CTL_REPLICAS, NULL, "ny",
		"s");
	assert_int_equal(v[0].compression, CTL_COMP_ZSTD);
	free(v);

	v = one("/mapr/ny/s networkcompression=off paused=true", CTL_REPLICAS,
		NULL, "ny", "s");
	assert_int_equal(v[0].compression, CTL_COMP_OFF);
	assert_true(v[0].paused);
	free(v);
}

static void test_remove(void **state)
{
	(void)state;
	struct ctl_entry *v = one("-/mapr/newyork/activity\n", CTL_REPLICAS,
				  NULL, "newyork", "activity");
	assert_true(v[0].remove);
	assert_false(v[0].has_synchronous);
	free(v);

	v = one("  -/mapr/newyork/activity/  # gone\n", CTL_UPSTREAMS, NULL,
		"newyork", "activity");
	assert_true(v[0].remove);
	free(v);
}

static void test_several_lines(void **state)
{
	(void)state;
	struct ctl_entry *v = NULL;
	const char *text = "# replicas of sanfrancisco/activity\n"
			   "\n"
			   "/mapr/newyork/activity paused=true\n"
			   "   \t  \n"
			   "-/mapr/london/activity\n"
			   "/mapr/tokyo/activity";	/* no final '\n' */
	int n = parse(text, CTL_REPLICAS, NULL, &v);
	assert_int_equal(n, 3);
	assert_string_equal(v[0].cluster, "newyork");
	assert_int_equal(v[0].line, 3);
	assert_true(v[0].paused);
	assert_string_equal(v[1].cluster, "london");
	assert_true(v[1].remove);
	assert_int_equal(v[1].line, 5);
	assert_string_equal(v[2].cluster, "tokyo");
	assert_string_equal(v[2].stream, "activity");
	assert_int_equal(v[2].line, 6);
	assert_false(v[2].remove);
	free(v);
}

static void test_only_comments_and_blanks(void **state)
{
	(void)state;
	struct ctl_entry *v = (struct ctl_entry *)(uintptr_t)0x1;

	assert_int_equal(parse("", CTL_REPLICAS, NULL, &v), 0);
	assert_null(v);

	v = (struct ctl_entry *)(uintptr_t)0x1;
	assert_int_equal(parse("# nothing here\n\n   \n#/mapr/a/b\n",
			       CTL_UPSTREAMS, NULL, &v), 0);
	assert_null(v);

	v = (struct ctl_entry *)(uintptr_t)0x1;
	assert_int_equal(parse("\n", CTL_REPLICAS, MP, &v), 0);
	assert_null(v);
}

static void test_comments(void **state)
{
	(void)state;
	/* '#' ends the line even with no blank before it */
	struct ctl_entry *v = one("/mapr/ny/s#paused=true\n", CTL_REPLICAS,
				  NULL, "ny", "s");
	assert_false(v[0].has_paused);
	free(v);

	/* a bad key after '#' is not a key */
	v = one("/mapr/ny/s paused=true # bogus=1 ,,, \n", CTL_REPLICAS, NULL,
		"ny", "s");
	assert_true(v[0].paused);
	free(v);
}

/* What reading .replicas shows must parse back to the same settings. */
static void test_status_suffix(void **state)
{
	(void)state;
	struct ctl_entry *v = one(
		"/mapr/newyork/activity synchronous=false paused=false "
		"# state=REPLICATING pending=0 uptodate=true\n",
		CTL_REPLICAS, NULL, "newyork", "activity");
	assert_true(v[0].has_synchronous);
	assert_false(v[0].synchronous);
	assert_true(v[0].has_paused);
	assert_false(v[0].paused);
	assert_false(v[0].has_compression);
	free(v);

	v = one("/mapr/newyork/activity # state=ALLOWED\n", CTL_UPSTREAMS,
		NULL, "newyork", "activity");
	free(v);
}

static void test_round_trip_compression(void **state)
{
	(void)state;
	enum ctl_compression all[] = { CTL_COMP_OFF, CTL_COMP_LZ4,
				       CTL_COMP_ZSTD };
	assert_string_equal(ctl_compression_name(CTL_COMP_OFF), "off");
	assert_string_equal(ctl_compression_name(CTL_COMP_LZ4), "lz4");
	assert_string_equal(ctl_compression_name(CTL_COMP_ZSTD), "zstd");

	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
		char line[128];
		snprintf(line, sizeof line,
			 "/mapr/a/b synchronous=true paused=false "
			 "networkcompression=%s # state=x",
			 ctl_compression_name(all[i]));
		struct ctl_entry *v = one(line, CTL_REPLICAS, NULL, "a", "b");
		assert_true(v[0].has_compression);
		assert_int_equal(v[0].compression, all[i]);
		free(v);
	}
}

static void test_mountpoint_form(void **state)
{
	(void)state;
	struct ctl_entry *v = one(MP "/newyork/activity\n", CTL_REPLICAS, MP,
				  "newyork", "activity");
	free(v);

	/* the /mapr form still works with a mountpoint */
	v = one("/mapr/newyork/activity\n", CTL_REPLICAS, MP, "newyork",
		"activity");
	free(v);

	/* a mountpoint given with a trailing slash */
	v = one(MP "/newyork/activity/", CTL_REPLICAS, MP "/", "newyork",
		"activity");
	free(v);

	v = one("-" MP "/ny/s/", CTL_UPSTREAMS, MP, "ny", "s");
	assert_true(v[0].remove);
	free(v);

	/* a mountpoint under /mapr: only its reading has two components */
	v = one("/mapr/sub/ny/s", CTL_REPLICAS, "/mapr/sub", "ny", "s");
	free(v);

	/* without a mountpoint, or with /mapr, only /mapr is accepted */
	bad(MP "/newyork/activity\n", CTL_REPLICAS, NULL, 1,
	    "is not a stream path (expected /mapr/<cluster>/<stream>)");
	bad(MP "/newyork/activity\n", CTL_REPLICAS, "/mapr", 1,
	    "is not a stream path (expected /mapr/<cluster>/<stream>)");
	bad("/tmp/x/mntx/ny/s\n", CTL_REPLICAS, MP, 1,
	    "(expected /mapr/<cluster>/<stream> or " MP "/<cluster>/<stream>)");
	bad(MP "/ny\n", CTL_REPLICAS, MP, 1, "is not a stream path");
}

static void test_trailing_slash(void **state)
{
	(void)state;
	struct ctl_entry *v = one("/mapr/ny/s/", CTL_REPLICAS, NULL, "ny", "s");
	free(v);
	v = one("/mapr/ny/s/ paused=yes\n", CTL_REPLICAS, NULL, "ny", "s");
	assert_true(v[0].paused);
	free(v);

	bad("/mapr/ny/s//\n", CTL_REPLICAS, NULL, 1, "is not a stream path");
}

static void test_crlf_and_whitespace(void **state)
{
	(void)state;
	struct ctl_entry *v = NULL;
	int n = parse("  /mapr/a/b paused=true  \r\n\t-/mapr/c/d\r\n",
		      CTL_REPLICAS, NULL, &v);
	assert_int_equal(n, 2);
	assert_string_equal(v[0].cluster, "a");
	assert_true(v[0].paused);
	assert_string_equal(v[1].stream, "d");
	assert_true(v[1].remove);
	free(v);
}

/* Only LEN bytes are read: the buffer of a write() is not NUL-terminated. */
static void test_length_respected(void **state)
{
	(void)state;
	const char buf[] = "/mapr/ny/s\n/mapr/ny/t paused=maybe";
	struct ctl_entry *v = NULL;
	int n = ctl_parse(buf, strlen("/mapr/ny/s\n/mapr/ny/t"), CTL_REPLICAS,
			  NULL, &v, err, sizeof err);
	assert_int_equal(n, 2);
	assert_string_equal(v[1].stream, "t");
	assert_false(v[1].has_paused);
	free(v);

	/* a NUL inside the data is rejected, not read as end of string */
	const char nul[] = "/mapr/ny/s\0x\n";
	v = (struct ctl_entry *)(uintptr_t)0x1;
	assert_int_equal(ctl_parse(nul, sizeof nul - 1, CTL_REPLICAS, NULL, &v,
				   err, sizeof err), -EINVAL);
	assert_ptr_equal(v, (struct ctl_entry *)(uintptr_t)0x1);
	assert_non_null(strstr(err, "line 1: "));
}

static void test_many_entries(void **state)
{
	(void)state;
	char buf[100 * 32];
	size_t off = 0;
	for (int i = 0; i < 100; i++)
		off += (size_t)snprintf(buf + off, sizeof buf - off,
					"/mapr/c%d/s%d paused=yes\n", i, i);
	struct ctl_entry *v = NULL;
	int n = ctl_parse(buf, off, CTL_REPLICAS, NULL, &v, err, sizeof err);
	assert_int_equal(n, 100);
	assert_string_equal(v[99].cluster, "c99");
	assert_string_equal(v[99].stream, "s99");
	assert_int_equal(v[99].line, 100);
	free(v);

	/* a late error frees what was already collected (ASan checks) */
	off += (size_t)snprintf(buf + off, sizeof buf - off, "/mapr/x\n");
	bad(buf, CTL_REPLICAS, NULL, 101, "is not a stream path");
}

static void test_bad_path(void **state)
{
	(void)state;
	bad("/mapr/x\n", CTL_REPLICAS, NULL, 1,
	    "'/mapr/x' is not a stream path (expected "
	    "/mapr/<cluster>/<stream>)");
	bad("/mapr\n", CTL_REPLICAS, NULL, 1, "is not a stream path");
	bad("/mapr/\n", CTL_REPLICAS, NULL, 1, "is not a stream path");
	bad("/mapr/a/b/c\n", CTL_REPLICAS, NULL, 1, "is not a stream path");
	bad("/mapr/a/b/c/d\n", CTL_UPSTREAMS, NULL, 1, "is not a stream path");
	bad("/mapr//b\n", CTL_REPLICAS, NULL, 1, "is not a stream path");
	bad("/mapr/a//b\n", CTL_REPLICAS, NULL, 1, "is not a stream path");
	bad("mapr/a/b\n", CTL_REPLICAS, NULL, 1, "is not a stream path");
	bad("newyork/activity\n", CTL_REPLICAS, NULL, 1, "is not a stream path");
	bad("/maprx/a/b\n", CTL_REPLICAS, NULL, 1, "is not a stream path");
	bad("-\n", CTL_REPLICAS, NULL, 1, "is not a stream path");
	/* '-' must sit directly before the path */
	bad("- /mapr/a/b\n", CTL_REPLICAS, NULL, 1, "is not a stream path");
	/* the error names the right line */
	bad("/mapr/a/b\n# ok\n/mapr/a\n", CTL_REPLICAS, NULL, 3,
	    "'/mapr/a' is not a stream path");
}

static void test_bad_name(void **state)
{
	(void)state;
	bad("/mapr/.x/s\n", CTL_REPLICAS, NULL, 1,
	    "'.x' is not a valid cluster name");
	bad("/mapr/ny/.x\n", CTL_REPLICAS, NULL, 1,
	    "'.x' is not a valid stream name");
	bad("/mapr/ny/a$b\n", CTL_UPSTREAMS, NULL, 1,
	    "'a$b' is not a valid stream name");
	/* "a b" splits into a path and a stray word; either way it fails */
	bad("/mapr/ny/a b\n", CTL_REPLICAS, NULL, 1, "'b' is not key=value");
	bad("/mapr/a b/s\n", CTL_REPLICAS, NULL, 1, "is not a stream path");

	char path[300] = "/mapr/ny/";
	memset(path + strlen(path), 'a', 256);
	path[9 + 256] = '\0';
	bad(path, CTL_REPLICAS, NULL, 1, "is not a valid stream name");

	path[9 + 255] = '\0';
	struct ctl_entry *v = NULL;
	assert_int_equal(parse(path, CTL_REPLICAS, NULL, &v), 1);
	assert_int_equal(strlen(v[0].stream), 255);
	free(v);
}

static void test_unknown_key(void **state)
{
	(void)state;
	bad("/mapr/a/b\n/mapr/ny/s foo=1\n", CTL_REPLICAS, NULL, 2,
	    "unknown key 'foo' (expected synchronous, paused, "
	    "networkcompression)");
	bad("/mapr/ny/s =1\n", CTL_REPLICAS, NULL, 1, "unknown key ''");
}

static void test_bad_value(void **state)
{
	(void)state;
	bad("/mapr/ny/s paused=maybe\n", CTL_REPLICAS, NULL, 1,
	    "bad value 'maybe' for paused");
	bad("/mapr/ny/s synchronous=\n", CTL_REPLICAS, NULL, 1,
	    "bad value '' for synchronous");
	/* booleans as maprcli takes them: true/false, yes/no, 1/0, nothing else */
	bad("/mapr/ny/s synchronous=2\n", CTL_REPLICAS, NULL, 1,
	    "bad value '2' for synchronous (expected true, false, yes, no, 1, 0)");
	bad("/mapr/ny/s paused=on\n", CTL_REPLICAS, NULL, 1,
	    "bad value 'on' for paused");
	bad("/mapr/ny/s paused=y\n", CTL_REPLICAS, NULL, 1,
	    "bad value 'y' for paused");
	bad("/mapr/ny/s paused=01\n", CTL_REPLICAS, NULL, 1,
	    "bad value '01' for paused");
	bad("/mapr/ny/s paused=\"true\"\n", CTL_REPLICAS, NULL, 1,
	    "bad value '\"true\"' for paused");
	bad("/mapr/ny/s networkcompression=gzip\n", CTL_REPLICAS, NULL, 1,
	    "bad value 'gzip' for networkcompression (expected off, none, "
	    "lz4, zstd)");
	bad("/mapr/ny/s paused=true=false\n", CTL_REPLICAS, NULL, 1,
	    "bad value 'true=false' for paused");
}

static void test_missing_equals(void **state)
{
	(void)state;
	bad("/mapr/ny/s paused\n", CTL_REPLICAS, NULL, 1,
	    "'paused' is not key=value");
}

static void test_duplicate_key(void **state)
{
	(void)state;
	bad("/mapr/ny/s paused=true paused=true\n", CTL_REPLICAS, NULL, 1,
	    "key 'paused' given twice");
	bad("/mapr/ny/s networkcompression=lz4 synchronous=no "
	    "networkcompression=zstd\n",
	    CTL_REPLICAS, NULL, 1, "key 'networkcompression' given twice");
}

static void test_keys_on_remove(void **state)
{
	(void)state;
	bad("-/mapr/ny/s paused=true\n", CTL_REPLICAS, NULL, 1,
	    "a remove line takes no keys (got 'paused=true')");
	bad("-/mapr/ny/s x\n", CTL_UPSTREAMS, NULL, 1,
	    "a remove line takes no keys");
}

static void test_keys_in_upstreams(void **state)
{
	(void)state;
	bad("/mapr/ny/s paused=true\n", CTL_UPSTREAMS, NULL, 1,
	    ".upstreams takes no keys (got 'paused=true')");
}

/* Control characters and huge tokens never reach the one-line error. */
static void test_error_text_is_clean(void **state)
{
	(void)state;
	bad("/mapr/ny/s foo\x1b[31m=1\n", CTL_REPLICAS, NULL, 1,
	    "unknown key 'foo?[31m'");

	char line[2048] = "/mapr/ny/s ";
	memset(line + strlen(line), 'k', 1000);
	bad(line, CTL_REPLICAS, NULL, 1, "...' is not key=value");

	/* a tiny or absent error buffer is fine */
	char small[8];
	struct ctl_entry *v = NULL;
	assert_int_equal(ctl_parse("/mapr/x", 7, CTL_REPLICAS, NULL, &v, small,
				   sizeof small), -EINVAL);
	assert_true(strlen(small) < sizeof small);
	assert_int_equal(ctl_parse("/mapr/x", 7, CTL_REPLICAS, NULL, &v, NULL,
				   0), -EINVAL);
	assert_null(v);
}

/* Status text shown to readers who may not learn other streams' UUIDs. */
static void test_hide_uuids(void **state)
{
	(void)state;
	char out[256];
	ctl_hide_uuids("refused by the replica: topic t: messages of origin "
		       "1b4e28ba-2fa1-11d2-883f-0016d3cca427 jump from offset 2 to 9",
		       out, sizeof(out));
	assert_string_equal(out, "refused by the replica: topic t: messages of origin hidden jump from offset 2 to 9");
	/* two, upper case, at the very end */
	ctl_hide_uuids("A 1B4E28BA-2FA1-11D2-883F-0016D3CCA427,1b4e28ba-2fa1-11d2-883f-0016d3cca427",
		       out, sizeof(out));
	assert_string_equal(out, "A hidden,hidden");
	/* not UUIDs: too short, a dash missing, cut by the end */
	ctl_hide_uuids("1b4e28ba-2fa1-11d2-883f-0016d3cca42 1b4e28ba2fa1-11d2-883f-0016d3cca427 1b4e28ba-2f",
		       out, sizeof(out));
	assert_string_equal(out, "1b4e28ba-2fa1-11d2-883f-0016d3cca42 1b4e28ba2fa1-11d2-883f-0016d3cca427 1b4e28ba-2f");
	/* a small buffer: cut short, terminated */
	char small[8];
	ctl_hide_uuids("x 1b4e28ba-2fa1-11d2-883f-0016d3cca427", small, sizeof(small));
	assert_string_equal(small, "x hidde");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_add),
		cmocka_unit_test(test_add_with_keys),
		cmocka_unit_test(test_remove),
		cmocka_unit_test(test_several_lines),
		cmocka_unit_test(test_only_comments_and_blanks),
		cmocka_unit_test(test_comments),
		cmocka_unit_test(test_status_suffix),
		cmocka_unit_test(test_round_trip_compression),
		cmocka_unit_test(test_mountpoint_form),
		cmocka_unit_test(test_trailing_slash),
		cmocka_unit_test(test_crlf_and_whitespace),
		cmocka_unit_test(test_length_respected),
		cmocka_unit_test(test_many_entries),
		cmocka_unit_test(test_bad_path),
		cmocka_unit_test(test_bad_name),
		cmocka_unit_test(test_unknown_key),
		cmocka_unit_test(test_bad_value),
		cmocka_unit_test(test_missing_equals),
		cmocka_unit_test(test_duplicate_key),
		cmocka_unit_test(test_keys_on_remove),
		cmocka_unit_test(test_keys_in_upstreams),
		cmocka_unit_test(test_error_text_is_clean),
		cmocka_unit_test(test_hide_uuids),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
