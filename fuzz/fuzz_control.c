/*
 * fuzz_control.c - libFuzzer target: ctl_parse (fs/control.c), the parser
 * of what is written to .replicas and .upstreams.
 *
 * Input layout (docs/fuzzing.md):
 *   byte 0   bit 0 kind (0 .replicas, 1 .upstreams); bits 1-3 mountpoint
 *            (none, "/mapr", "/mapr/", "/tmp/x/mnt", "/tmp/x/mnt//", "/",
 *            "", "mnt"); bits 4-5 size of the error buffer (256, 16, 1, 0)
 *   rest     the text written (passed with its exact length, not
 *            NUL-terminated, so a read past it is an ASan report)
 *
 * Checked beyond "no crash, leak or hang": the result is -EINVAL, -ENOMEM
 * or the entry count; on success every entry names a valid cluster and
 * stream (name_valid), a remove line carries no settings, .upstreams
 * entries carry no settings, and line numbers rise; on error *out is
 * untouched and the message is one NUL-terminated line, free of control
 * characters, within the buffer.
 */
#include "fuzz_common.h"

#include "control.h"
#include "names.h"

static const char *const mountpoints[8] = {
	NULL, "/mapr", "/mapr/", "/tmp/x/mnt", "/tmp/x/mnt//", "/", "", "mnt",
};
static const size_t errlens[4] = { 256, 16, 1, 0 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t opt = data[0];
	enum ctl_kind kind = (opt & 1) ? CTL_UPSTREAMS : CTL_REPLICAS;
	const char *mp = mountpoints[(opt >> 1) & 7];
	size_t errlen = errlens[(opt >> 4) & 3];

	/* The error buffer lives on the heap at its exact size. */
	char *err = errlen ? malloc(errlen) : NULL;
	if (errlen) {
		FUZZ_CHECK(err);
		memset(err, 'X', errlen);
	}
	struct ctl_entry *sentinel = (struct ctl_entry *)(uintptr_t)0x1234;
	struct ctl_entry *v = sentinel;
	int rc = ctl_parse((const char *)data + 1, size - 1, kind, mp, &v, err,
			   errlen);

	if (rc >= 0) {
		FUZZ_CHECK((rc == 0) == (v == NULL));
		int last_line = 0;
		for (int i = 0; i < rc; i++) {
			const struct ctl_entry *e = &v[i];
			FUZZ_CHECK(memchr(e->cluster, '\0', sizeof(e->cluster)));
			FUZZ_CHECK(memchr(e->stream, '\0', sizeof(e->stream)));
			FUZZ_CHECK(name_valid(e->cluster) && name_valid(e->stream));
			FUZZ_CHECK(e->line > last_line);
			last_line = e->line;
			if (e->remove || kind == CTL_UPSTREAMS)
				FUZZ_CHECK(!e->has_synchronous && !e->has_paused &&
					   !e->has_compression);
			if (e->has_compression)
				FUZZ_CHECK(e->compression == CTL_COMP_OFF ||
					   e->compression == CTL_COMP_LZ4 ||
					   e->compression == CTL_COMP_ZSTD);
			(void)ctl_compression_name(e->compression);
		}
		free(v);
	} else {
		FUZZ_CHECK(rc == -EINVAL || rc == -ENOMEM);
		FUZZ_CHECK(v == sentinel);
		/* One printable line: input is quoted with control
		 * characters replaced, as it goes to a log line. */
		if (errlen) {
			FUZZ_CHECK(memchr(err, '\0', errlen));
			for (const char *c = err; *c; c++)
				FUZZ_CHECK((unsigned char)*c >= 0x20 && *c != 0x7f);
		}
	}
	free(err);
	return 0;
}
