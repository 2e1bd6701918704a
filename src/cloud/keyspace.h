/*
 * keyspace.h - where a cloud key lives: the documented node mapping.
 *
 * Standalone nodes (--redis a,b,c): node = jump_consistent_hash(fnv1a64(tag),
 * n_nodes), where tag is the key's Redis hash tag (the part between the
 * first '{' and the next '}' when non-empty, else the whole key).  Jump
 * consistent hashing (Lamping and Veach, 2014) moves only 1/(n+1) of the
 * keys when a node is added.  Redis Cluster: slot = CRC16-XMODEM(tag) mod
 * 16384, as Redis itself computes it.  docs/CLOUD.md states both, and the
 * Python client implements the same functions (tests check they agree).
 */
#ifndef MC_CLOUD_KEYSPACE_H
#define MC_CLOUD_KEYSPACE_H

#include <stddef.h>
#include <stdint.h>

/* The hash tag of key: tag and taglen (OUT) receive the part that is hashed. */
void mc_cloud_key_tag(const char *key, size_t len, const char **tag, size_t *taglen);

/* FNV-1a 64-bit of the key's hash tag. */
uint64_t mc_cloud_key_hash(const char *key, size_t len);

/* Jump consistent hash: a bucket in [0, n) for a 64-bit key; n >= 1. */
int mc_cloud_jump_hash(uint64_t key, int n);

/* The standalone node (index in --redis order) that holds key. */
int mc_cloud_node_for_key(const char *key, size_t len, int n_nodes);

/* CRC16-XMODEM (the Redis Cluster key hash) and the cluster slot of key. */
uint16_t mc_cloud_crc16(const uint8_t *buf, size_t len);
uint16_t mc_cloud_keyslot(const char *key, size_t len);

#endif
