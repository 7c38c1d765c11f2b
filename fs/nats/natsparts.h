/*
 * natsparts.h - chunks longer than one NATS message (fs/nats/natsparts.c):
 * their parts and head, and the fetch of a chunk's pieces. Included by
 * natshome.h, after the types it names; only fs/nats/ includes it.
 */
#ifndef STREAMFS_NATSPARTS_H
#define STREAMFS_NATSPARTS_H

/* nats_part_max - the most bytes one NATS message of NC carries as a
 * chunk's payload or a part: max_payload less NATS_HEADER_ROOM. */
size_t nats_part_max(const struct nats_cluster *nc);

/* nats_chunk_max - the most bytes one chunk of NC may hold, in parts: as
 * many parts of nats_part_max bytes as the head's Sfs-Parts can list in
 * one message (worst case 21 bytes a part), at most NATS_PARTS_MAX
 * (docs/nats.md). At least nats_part_max. */
size_t nats_chunk_max(const struct nats_cluster *nc);

/* nats_parts_subject - the parts subject of topic subject SUBJECT (SUBJECT
 * and ".p") into OUT (N bytes). */
void nats_parts_subject(const char *subject, char *out, size_t n);

/* What a chunk's head is published with: DATA (LEN bytes) as its payload,
 * or (PARTS not NULL) no payload and PARTS (malloc'd) as its Sfs-Parts,
 * LEN its Sfs-Len in both cases. */
struct nats_body {
	const char *data;
	size_t len;
	char *parts;
	char by[96];	/* the writer id of the parts (Sfs-Parts-By) */
};

/*
 * nats_body_make - what a chunk of BUF (LEN bytes, borrowed until
 * nats_body_free) is published with: BUF itself when it fits one NATS
 * message; else BUF's bytes published first as parts on NT's parts
 * subject (each acknowledged within nats_timeout_ms, retried with a
 * Nats-Msg-Id made of WRITER), and *B lists them. 0, -EMSGSIZE (longer
 * than nats_chunk_max, logged), -ENOENT (the topic or its data stream is
 * gone), -EIO (NATS away or refused, logged), -ENOMEM. Parts stored
 * before an error, or of a head never published, are never read
 * (docs/nats.md: freed with the topic).
 */
int nats_body_make(struct nats_topic *nt, const char *buf, size_t len, const char *writer,
		   struct nats_body *b);

/* nats_body_free - free what nats_body_make allocated in B. */
void nats_body_free(struct nats_body *b);

/*
 * nats_parts_parse - the parts named by the Sfs-Parts header of head M at
 * stream sequence HEAD_SEQ whose chunk holds LEN bytes: *OUT NULL (no such
 * header: the head is the payload) or a new struct nats_parts (the caller
 * frees it). 0, -EPROTO (a list that cannot be a writer's: not LEN bytes,
 * a part not before its head, more than NATS_PARTS_MAX), -ENOMEM.
 */
int nats_parts_parse(natsMsg *m, uint64_t head_seq, uint32_t len, struct nats_parts **out);

/* nats_parts_dup - a copy of P (NULL for NULL, or when out of memory). */
struct nats_parts *nats_parts_dup(const struct nats_parts *p);

/* nats_chunks_free_parts - free the parts lists of chunks C[0..N). */
void nats_chunks_free_parts(struct nats_chunk *c, size_t n);

/* What one JetStream message of a chunk holds: the chunk itself (PART
 * false) or one of its parts, LEN bytes from byte position POS of the
 * topic file, at stream sequence SEQ. */
struct nats_piece {
	uint64_t seq, pos;
	uint32_t len;
	bool part;
	uint64_t ts;	/* a head's Sfs-Ts, checked when fetched; 0 a part */
	uint64_t by;	/* a part's: its chunk's nats_parts.by (0: unchecked) */
	uint32_t index;	/* a part's index in its chunk */
};

/* nats_parts_by - the non-zero hash of writer id ID (LEN bytes) that a
 * chunk's parts are checked against (XXH3, bit 0 set). */
uint64_t nats_parts_by(const char *id, size_t len);

/* nats_part_is - is message M part INDEX of the parts of the writer
 * hashed BY (nats_parts_by), its Nats-Msg-Id "<writer>.p<INDEX>" as
 * publish_part (natsparts.c) makes it? A part a head names is checked so
 * when fetched: another message at its sequence is never served. */
bool nats_part_is(natsMsg *m, uint64_t by, uint32_t index);

/* nats_piece_at - the piece of chunk C that holds byte position AT (C's
 * first byte at or before it) into *PC. */
void nats_piece_at(const struct nats_chunk *c, uint64_t at, struct nats_piece *pc);

/*
 * nats_piece_fetch - piece PC's bytes (PC->len of them) read from
 * JetStream into DST, checking that the message is on NT's subject (its
 * parts subject for a part) and of that length, tried again in slices
 * until nats_timeout_ms. 0, -ENOENT (gone: the topic removed, here or
 * by another daemon), -EIO (logged: no answer in time, a wrong message,
 * or "no such message" while the topic's key still names it: a piece
 * NATS lost), -EINTR (a signal to the caller).
 */
int nats_piece_fetch(struct nats_topic *nt, const struct nats_piece *pc, uint8_t *dst);

/* nats_chunk_fetch - all of chunk C's bytes (its payload or its parts'),
 * into a new buffer *OUT (C->len bytes; the caller frees it). Errors as
 * nats_piece_fetch's, -ENOMEM. */
int nats_chunk_fetch(struct nats_topic *nt, const struct nats_chunk *c, uint8_t **out);

/*
 * nats_subject_purge - remove every message on SUBJECT ("sfs.<stream>.
 * <topic>", or its parts subject) of data stream JSNAME: a topic's
 * removal. 0 (also when the stream is gone), -EINVAL for a subject not of
 * that form, or a negative errno from NATS.
 *
 * The purge names the subject with its first token a wildcard
 * ("*.<stream>.<topic>"): the same messages (the data stream holds only
 * "sfs." subjects), but not a subset of the consumers' filter
 * "sfs.<stream>.>". nats-server 2.9.10 moves every consumer whose filter
 * covers a purged subject to the end of the stream (fixed in 2.9.15,
 * "Fix current consumers not getting messages after purge"): a daemon
 * whose consumer had not delivered every chunk yet, of any topic, would
 * never index the rest (docs/nats.md, "Creation, removal and races").
 */
int nats_subject_purge(struct nats_cluster *nc, const char *jsname, const char *subject);

/* nats_chunks_seqs - the sequences of chunks C[0..N) and of their parts,
 * in a new array (the caller frees it), their count in *COUNT; NULL with
 * *COUNT > 0: out of memory. */
uint64_t *nats_chunks_seqs(const struct nats_chunk *c, size_t n, size_t *count);

/*
 * nats_seqs_delete - remove the messages at sequences SEQS (N of them) of
 * data stream JSNAME, one request each, until DEADLINE (mono_ns): a
 * topic's removal from a data stream a JetStream cluster keeps. A purge
 * there is unsafe: nats-server 2.9.10 replays a purge from its raft log,
 * after a server's restart without a snapshot (kill -9), as the removal
 * of every message before it, whatever its subject (fixed upstream in
 * 2.9.18, "Make sure to process extended purge operations correctly when
 * being replayed on a restart"); a message's removal replays as itself.
 * Returns how many are left (not answered in time, or refused); one
 * already gone counts as removed.
 */
size_t nats_seqs_delete(struct nats_cluster *nc, const char *jsname, const uint64_t *seqs,
			size_t n, uint64_t deadline);

#endif
