/*
 * keyspace.c - the documented key -> node mapping of the cloud.
 *
 * References: Redis Cluster specification, "Keys distribution model" and
 * "Hash tags" (https://redis.io/docs/reference/cluster-spec/), whose slot
 * function is CRC16-XMODEM (Redis src/crc16.c: polynomial 0x1021, initial
 * value 0, no reflection, no final xor) of the hash tag, mod 16384;
 * FNV-1a 64 (Fowler, Noll, Vo: offset basis 0xcbf29ce484222325, prime
 * 0x100000001b3); "A Fast, Minimal Memory, Consistent Hash Algorithm"
 * (Lamping and Veach, 2014) for the jump hash.  The Python client in
 * tests/lib implements the same functions: change both or neither.
 */
#include "cloud/keyspace.h"

/*
 * The hash tag rule of the cluster spec: when key holds a '{' and a later
 * '}' with at least one byte between them, only the bytes between the first
 * '{' and the first '}' after it are hashed; otherwise the whole key.
 * key may hold any bytes (no NUL needed).  *tag points into key.
 */
void mc_cloud_key_tag(const char *key, size_t len, const char **tag, size_t *taglen)
{
    size_t open = 0;
    while (open < len && key[open] != '{')
        open++;
    if (open < len) {
        size_t close = open + 1;
        while (close < len && key[close] != '}')
            close++;
        /* "{}" or an unclosed '{': the whole key is hashed, as Redis does */
        if (close < len && close > open + 1) {
            *tag = key + open + 1;
            *taglen = close - open - 1;
            return;
        }
    }
    *tag = key;
    *taglen = len;
}

/* FNV-1a 64 of the key's hash tag (the whole key when it has none). */
uint64_t mc_cloud_key_hash(const char *key, size_t len)
{
    const char *tag;
    size_t n;
    mc_cloud_key_tag(key, len, &tag, &n);
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= (uint8_t)tag[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

/*
 * Jump consistent hash: a bucket in [0, n) for key; n <= 0 returns 0 rather
 * than -1 so that a caller's table index is never negative (callers check
 * n >= 1 themselves).  Growing n to n + 1 moves a key only to bucket n.
 */
int mc_cloud_jump_hash(uint64_t key, int n)
{
    int64_t b = -1, j = 0;
    if (n <= 0)
        return 0;
    while (j < n) {
        b = j;
        key = key * 2862933555777941757ULL + 1;
        j = (int64_t)((double)(b + 1) * ((double)(1LL << 31) / (double)((key >> 33) + 1)));
    }
    return (int)b;
}

/* The standalone node index for key among n_nodes (>= 1) --redis nodes. */
int mc_cloud_node_for_key(const char *key, size_t len, int n_nodes)
{
    if (n_nodes <= 1)
        return 0; /* what the jump hash gives for one node, without hashing */
    return mc_cloud_jump_hash(mc_cloud_key_hash(key, len), n_nodes);
}

/* CRC16-XMODEM, bit by bit: the cluster hashes only short tags, so a
 * 512-byte table buys nothing measurable here. */
uint16_t mc_cloud_crc16(const uint8_t *buf, size_t len)
{
    uint16_t crc = 0;
    for (size_t i = 0; i < len; i++) {
        crc ^= (uint16_t)(buf[i] << 8);
        for (int k = 0; k < 8; k++)
            crc = (crc & 0x8000) ? (uint16_t)((crc << 1) ^ 0x1021) : (uint16_t)(crc << 1);
    }
    return crc;
}

/* The Redis Cluster slot (0..16383) of key, as CLUSTER KEYSLOT answers. */
uint16_t mc_cloud_keyslot(const char *key, size_t len)
{
    const char *tag;
    size_t n;
    mc_cloud_key_tag(key, len, &tag, &n);
    return mc_cloud_crc16((const uint8_t *)tag, n) & 16383;
}
