/*
 * fuzz_frame.c - libFuzzer target: the gateway's frame decoder
 * (replication/frame.c), which reads what a remote peer sends.
 *
 * Input layout (docs/fuzzing.md):
 *   byte 0   bit 0: 0 = the rest is a whole frame (header and body: the
 *            header is decoded, and the body too when the header's length
 *            is what follows it); 1 = the rest is a body, under a header
 *            built from bits 1-3 (type 0-7: 1-7 are the frame types, 0
 *            must be refused), bits 4-5 (compression 0-3: 3 must be
 *            refused) and bit 6 (the header's length one more than the
 *            body's: must be refused)
 *   rest     the frame or the body, passed with its exact length
 *
 * Checked beyond "no crash, leak or hang": gw_header_decode returns 0,
 * -EPROTO or -EMSGSIZE, gw_body_decode 0, -EPROTO, -EMSGSIZE or -ENOMEM;
 * on error the frame holds nothing to free; on success the fields of the
 * type are valid (names pass name_valid, the status is 0 .. -4095, the
 * message at most 1023 bytes, each payload lies inside the body or the
 * scratch buffer) and the others are zero; re-encoding the frame (with
 * GW_COMP_NONE, and for GW_APPEND also with the input's compression) and
 * decoding that gives the same fields, and the plain re-encoding is the
 * plain body byte for byte (canonical), except for what a decoder keeps
 * apart from the bytes: a HELLO version other than GW_VERSION and a
 * RESULT or FSREPLY message cut at a NUL. A GW_FS request's names are
 * names, or a control file's for its last part, and never a name without
 * its stream; its data and an FSREPLY's lie inside the body.
 */
#include "fuzz_common.h"

#include "ctlfiles.h"
#include "frame.h"
#include "names.h"

/* Reused by every input, as the gateway reuses it per connection: a
 * decoder must not depend on what an earlier frame left in it. */
static struct gw_buf scratch;

static void free_scratch(void)
{
	gw_buf_free(&scratch);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	atexit(free_scratch);
	return 0;
}

static bool has_names(enum gw_type t)
{
	return t == GW_OPEN || t == GW_TOPIC || t == GW_APPEND;
}

static bool has_topic(enum gw_type t)
{
	return t == GW_TOPIC || t == GW_APPEND;
}

/* A field that is a name when the type has it, else empty. */
static void check_name(const char s[256], bool present)
{
	FUZZ_CHECK(memchr(s, '\0', 256));
	if (present)
		FUZZ_CHECK(name_valid(s));
	else
		FUZZ_CHECK(s[0] == '\0');
}

/* Bytes P/N lie inside [BASE, BASE + LEN). */
static bool inside(const uint8_t *p, size_t n, const uint8_t *base, size_t len)
{
	return !n || (p >= base && n <= len && p - base <= (ptrdiff_t)(len - n));
}

/* check_fs - the fields of a GW_FS or GW_FSREPLY (and of no other type). */
static void check_fs(const struct gw_frame *f, const uint8_t *base, size_t len)
{
	const struct fs_req *q = &f->fs;
	const struct fs_rep *a = &f->fsrep;
	if (f->type != GW_FS)
		FUZZ_CHECK(q->op == 0 && !q->data && !q->len && !q->cluster[0]);
	if (f->type != GW_FSREPLY)
		FUZZ_CHECK(a->status == 0 && !a->data && !a->len && !a->message[0]);
	if (f->type == GW_FS) {
		FUZZ_CHECK(q->op >= 1 && q->op <= FS_OP_MAX);
		FUZZ_CHECK(q->who.ngroups <= FS_MAX_GROUPS);
		FUZZ_CHECK(name_valid(q->cluster));
		FUZZ_CHECK(!q->stream[0] || name_valid(q->stream));
		FUZZ_CHECK(!q->name[0] || name_valid(q->name) || ctlfile_by_name(q->name) >= 0);
		FUZZ_CHECK(q->stream[0] || !q->name[0]);
		FUZZ_CHECK(q->size <= (q->name[0] == '.' ? FS_CTL_READ_MAX : FS_READ_MAX));
		FUZZ_CHECK(q->mode <= 07777);
		/* a control file only read, stat'ed, opened or written whole */
		if (q->name[0] == '.')
			FUZZ_CHECK(q->op == FS_GETATTR || q->op == FS_READ || q->op == FS_OPEN ||
				   q->op == FS_WRITECTL);
		FUZZ_CHECK(!q->len || q->op == FS_APPEND || q->op == FS_WRITECTL);
		FUZZ_CHECK(inside(q->data, q->len, base, len));
	}
	if (f->type == GW_FSREPLY) {
		FUZZ_CHECK(a->status >= -4095);
		FUZZ_CHECK(a->len <= FS_DATA_MAX && inside(a->data, a->len, base, len));
		FUZZ_CHECK(memchr(a->message, '\0', sizeof(a->message)));
	}
}

/* check_fields - F, decoded from a plain body of LEN bytes at BASE. */
static void check_fields(const struct gw_frame *f, const uint8_t *base,
			 size_t len)
{
	static const uuid_t zero;
	enum gw_type t = f->type;
	FUZZ_CHECK(t >= GW_HELLO && t <= GW_FSREPLY);
	check_fs(f, base, len);
	check_name(f->dst_cluster, t == GW_HELLO);
	check_name(f->src_cluster, has_names(t));
	check_name(f->src_stream, has_names(t));
	check_name(f->dst_stream, has_names(t));
	check_name(f->topic, has_topic(t));
	FUZZ_CHECK(memchr(f->message, '\0', sizeof(f->message)));
	if (t != GW_RESULT)
		FUZZ_CHECK(!f->message[0] && !f->status && !f->applied);
	if (t != GW_RESULT && !has_topic(t))
		FUZZ_CHECK(!memcmp(f->uuid, zero, 16));
	if (t != GW_HELLO)
		FUZZ_CHECK(f->version == 0);
	if (t == GW_RESULT)
		FUZZ_CHECK(f->status <= 0 && f->status >= -4095);
	FUZZ_CHECK((f->nmsgs == 0) == (f->msgs == NULL));
	FUZZ_CHECK(t == GW_APPEND || f->nmsgs == 0);
	FUZZ_CHECK(f->nmsgs <= len / 52);
	for (size_t i = 0; i < f->nmsgs; i++) {
		const struct topic_msg *m = &f->msgs[i];
		FUZZ_CHECK(m->offset == 0);
		FUZZ_CHECK(m->payload >= base && m->len <= len &&
			   m->payload - base <= (ptrdiff_t)(len - m->len));
	}
}

/* encode - F as a frame into OUT, the APPEND body compressed by COMP. */
static int encode(const struct gw_frame *f, enum gw_compression comp,
		  struct gw_buf *out)
{
	switch (f->type) {
	case GW_HELLO:
		return gw_encode_hello(out, f->dst_cluster);
	case GW_OPEN:
		return gw_encode_open(out, f->src_cluster, f->src_stream,
				      f->dst_stream);
	case GW_TOPIC:
		return gw_encode_topic(out, f->src_cluster, f->src_stream,
				       f->dst_stream, f->uuid, f->topic, f->uid,
				       f->gid, f->mode);
	case GW_APPEND:
		return gw_encode_append(out, comp, f->src_cluster, f->src_stream,
					f->dst_stream, f->uuid, f->topic, f->uid,
					f->gid, f->mode, f->msgs, f->nmsgs);
	case GW_RESULT:
		return gw_encode_result(out, f->status, f->applied, f->uuid,
					f->message);
	case GW_FS:
		return gw_encode_fs(out, &f->fs);
	case GW_FSREPLY:
		return gw_encode_fsreply(out, &f->fsrep);
	}
	return -EINVAL;
}

static void check_same_msgs(const struct gw_frame *a, const struct gw_frame *b)
{
	FUZZ_CHECK(a->nmsgs == b->nmsgs);
	for (size_t i = 0; i < a->nmsgs; i++) {
		const struct topic_msg *x = &a->msgs[i], *y = &b->msgs[i];
		FUZZ_CHECK(x->len == y->len);
		FUZZ_CHECK(!x->len || !memcmp(x->payload, y->payload, x->len));
		FUZZ_CHECK(x->origin_offset == y->origin_offset);
		FUZZ_CHECK(x->timestamp_ns == y->timestamp_ns);
		FUZZ_CHECK(!memcmp(x->origin_stream, y->origin_stream, 16));
		FUZZ_CHECK(!memcmp(x->origin_topic, y->origin_topic, 16));
	}
}

/* check_same - B decoded from an encoding of A. */
static void check_same(const struct gw_frame *a, const struct gw_frame *b)
{
	FUZZ_CHECK(a->type == b->type);
	FUZZ_CHECK(b->version == (a->type == GW_HELLO ? GW_VERSION : 0));
	FUZZ_CHECK(!strcmp(a->dst_cluster, b->dst_cluster));
	FUZZ_CHECK(!strcmp(a->src_cluster, b->src_cluster));
	FUZZ_CHECK(!strcmp(a->src_stream, b->src_stream));
	FUZZ_CHECK(!strcmp(a->dst_stream, b->dst_stream));
	FUZZ_CHECK(!memcmp(a->uuid, b->uuid, 16));
	FUZZ_CHECK(!strcmp(a->topic, b->topic));
	FUZZ_CHECK(a->uid == b->uid && a->gid == b->gid && a->mode == b->mode);
	FUZZ_CHECK(a->status == b->status && a->applied == b->applied);
	FUZZ_CHECK(!strcmp(a->message, b->message));
	check_same_msgs(a, b);
	const struct fs_req *q = &a->fs, *r = &b->fs;
	FUZZ_CHECK(q->op == r->op && !memcmp(&q->who, &r->who, sizeof(q->who)));
	FUZZ_CHECK(!strcmp(q->cluster, r->cluster) && !strcmp(q->stream, r->stream) &&
		   !strcmp(q->name, r->name));
	FUZZ_CHECK(q->offset == r->offset && q->size == r->size && q->mode == r->mode &&
		   q->owner == r->owner && q->group == r->group && q->flags == r->flags);
	FUZZ_CHECK(!memcmp(q->expect, r->expect, 16));
	FUZZ_CHECK(q->len == r->len && (!q->len || !memcmp(q->data, r->data, q->len)));
	const struct fs_rep *x = &a->fsrep, *y = &b->fsrep;
	FUZZ_CHECK(!memcmp(x->topic, y->topic, 16));
	FUZZ_CHECK(x->status == y->status && !memcmp(&x->attr, &y->attr, sizeof(x->attr)) &&
		   !memcmp(&x->sv, &y->sv, sizeof(x->sv)));
	FUZZ_CHECK(x->len == y->len && (!x->len || !memcmp(x->data, y->data, x->len)));
	FUZZ_CHECK(!strcmp(x->message, y->message));
}

/* canonical - whether encoding F must give back exactly its plain body:
 * not when the decoder kept apart from the bytes (see the top). */
static bool canonical(const struct gw_frame *f, size_t len)
{
	if (f->type == GW_HELLO)
		return f->version == GW_VERSION;
	if (f->type == GW_RESULT)
		return strlen(f->message) + 26 == len;
	if (f->type == GW_FSREPLY)
		return strlen(f->fsrep.message) + 2 + f->fsrep.len + (4 + 16 + 32 + 16 + 64 + 4) == len;
	return true;
}

/*
 * roundtrip - encode F (plain body of LEN bytes at BASE) with COMP,
 * decode the result, and compare.
 */
static void roundtrip(const struct gw_frame *f, enum gw_compression comp,
		      const uint8_t *base, size_t len)
{
	struct gw_buf out = { 0 }, scratch2 = { 0 };
	struct gw_frame g;
	int rc = encode(f, comp, &out);
	FUZZ_CHECK(rc == 0 || rc == -ENOMEM);
	if (rc < 0)
		goto out;
	struct gw_header h;
	FUZZ_CHECK(out.len >= GW_FRAME_HEADER);
	FUZZ_CHECK(gw_header_decode(out.p, &h) == 0);
	FUZZ_CHECK(h.type == f->type);
	FUZZ_CHECK(h.length == out.len - GW_FRAME_HEADER);
	FUZZ_CHECK(h.compression == GW_COMP_NONE || h.compression == comp);
	if (h.compression == GW_COMP_NONE && canonical(f, len))
		FUZZ_CHECK(h.length == len &&
			   !memcmp(out.p + GW_FRAME_HEADER, base, len));
	rc = gw_body_decode(&h, out.p + GW_FRAME_HEADER, h.length, &scratch2, &g);
	FUZZ_CHECK(rc == 0 || rc == -ENOMEM);
	if (rc == 0) {
		check_same(f, &g);
		gw_frame_free(&g);
	}
out:
	gw_buf_free(&out);
	gw_buf_free(&scratch2);
}

/* decode_body - decode and check the body of LEN bytes at BODY under H. */
static void decode_body(const struct gw_header *h, const uint8_t *body,
			size_t len, bool must_fail)
{
	struct gw_frame f;
	int rc = gw_body_decode(h, body, len, &scratch, &f);
	FUZZ_CHECK(rc == 0 || rc == -EPROTO || rc == -EMSGSIZE || rc == -ENOMEM);
	if (rc < 0) {
		FUZZ_CHECK(f.msgs == NULL && f.nmsgs == 0);
		return;
	}
	FUZZ_CHECK(!must_fail);
	FUZZ_CHECK(f.type == h->type);
	/* The plain body: the input, or what scratch holds. */
	const uint8_t *base = body;
	size_t plain = len;
	if (h->compression != GW_COMP_NONE) {
		base = scratch.p;
		plain = scratch.len;
		FUZZ_CHECK(plain <= GW_FRAME_MAX_BODY);
	}
	check_fields(&f, base, plain);
	roundtrip(&f, GW_COMP_NONE, base, plain);
	if (f.type == GW_APPEND && h->compression != GW_COMP_NONE)
		roundtrip(&f, h->compression, base, plain);
	gw_frame_free(&f);
}

/* A whole frame: its header, then its body if the length matches. */
static void fuzz_raw(const uint8_t *p, size_t n)
{
	if (n < GW_FRAME_HEADER)
		return;
	struct gw_header h = { .type = 0xee, .compression = 0xee, .length = 7 };
	int rc = gw_header_decode(p, &h);
	FUZZ_CHECK(rc == 0 || rc == -EPROTO || rc == -EMSGSIZE);
	if (rc < 0) {
		FUZZ_CHECK(h.type == 0xee && h.compression == 0xee && h.length == 7);
		return;
	}
	FUZZ_CHECK(h.type >= GW_HELLO && h.type <= GW_FSREPLY);
	FUZZ_CHECK(h.compression <= GW_COMP_ZSTD);
	FUZZ_CHECK(h.length <= GW_FRAME_MAX_BODY);
	if (h.length == n - GW_FRAME_HEADER)
		decode_body(&h, p + GW_FRAME_HEADER, n - GW_FRAME_HEADER, false);
}

/* A body under a header built from OPT (see the top). */
static void fuzz_body(uint8_t opt, const uint8_t *p, size_t n)
{
	struct gw_header h = {
		.type = (opt >> 1) & 7,
		.compression = (opt >> 4) & 3,
		.length = (uint32_t)n + ((opt >> 6) & 1),
	};
	bool bad = h.type < GW_HELLO || h.type > GW_FSREPLY ||
		   h.compression > GW_COMP_ZSTD || h.length != n;
	decode_body(&h, p, n, bad);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	if (data[0] & 1)
		fuzz_body(data[0], data + 1, size - 1);
	else
		fuzz_raw(data + 1, size - 1);
	return 0;
}
