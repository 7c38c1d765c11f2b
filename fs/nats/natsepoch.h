/*
 * natsepoch.h - epochs of a NATS-backed topic's own origin
 * (fs/nats/natsepoch.c). Included by natshome.h, after the types it
 * names; only fs/nats/ includes it.
 */
#ifndef STREAMFS_NATSEPOCH_H
#define STREAMFS_NATSEPOCH_H

/*
 * Epochs of a topic's own origin. A crash of every server that lost
 * acknowledged messages makes JetStream give their offsets again; a
 * replica that received the lost ones holds those origin offsets, and
 * its marks would drop what is appended now at the same offsets. So the
 * daemon that finds the loss starts a new epoch: a new random origin key
 * (the origin topic UUID of own messages) whose offsets start at 0,
 * which every replica takes as a new origin (docs/nats.md, "Durability").
 */

/* nats_epoch_load - take the epoch named in topic metadata META (its
 * "epoch" and "epoch_key", written by nats_epoch_bump) into TD if newer
 * than the one TD knows. Takes td->mu. */
void nats_epoch_load(struct nats_tdata *td, json_t *meta);

/* nats_topic_meta - T's metadata as JSON (a new reference: the
 * caller's), with its own origin's epoch; NULL out of memory. */
json_t *nats_topic_meta(struct topic *t);

/* nats_topic_apply_locked - topic NT as its metadata META (the key's
 * value at the revision it is taken at) says: owner, group, mode, change
 * time, and its own origin's epoch if newer (nats_epoch_load). For
 * another daemon's change (the watcher), and for a value this daemon
 * stored over one (a merge, an epoch's write). nt->mu held (lock order:
 * nt->mu, then td->mu). */
void nats_topic_apply_locked(struct nats_topic *nt, json_t *meta);

/* nats_epoch_meta - add TD's latest known epoch to topic metadata META
 * (nothing while there is none). 0 or -ENOMEM. Takes td->mu. */
int nats_epoch_meta(struct nats_tdata *td, json_t *meta);

/*
 * nats_epoch_own - the origin of the next own chunk of TD (td->mu held):
 * KEY and *OFF, the origin offset of its first line, *GEN its epoch: the
 * chunks' own origin where they are, or offset 0 of a newer epoch the
 * bucket names. A chunk's place is checked by JetStream (the expected last
 * subject sequence), so every daemon goes on from the chunks it indexed
 * and no writer goes back to an older epoch.
 */
void nats_epoch_own(const struct nats_tdata *td, uuid_t key, uint64_t *off, uint32_t *gen);

/* nats_epoch_index - chunk C of origin O was indexed in TD (td->mu
 * held): if it is an own chunk, the own origin moves to its epoch. */
void nats_epoch_index(struct nats_tdata *td, const struct nats_chunk *c,
		      const struct nats_origin *o);

/*
 * nats_epoch_bump - start a new epoch of topic NT's own origin: the
 * bucket's key of the topic gets one more than the newest epoch there or
 * known here, with a new random key, by compare-and-set (tried again over
 * another daemon's change; done if one started a newer epoch meanwhile),
 * within nats_timeout_ms. 0 with the epoch written here in *GEN and its
 * key in OUT (*GEN 0: another daemon's was found), -ENOENT (the topic's
 * key is gone), or a negative errno (NATS did not answer).
 */
int nats_epoch_bump(struct nats_topic *nt, uint32_t *gen, uuid_t out);

/* nats_tdata_put - drop a reference; the last frees. */
void nats_tdata_put(struct nats_tdata *td);

#endif
