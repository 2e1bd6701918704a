"""keyspace.py - where a cloud key lives (the same mapping as src/cloud/keyspace.h).

Standalone nodes given as a list: node = jump_hash(fnv1a64(tag), n_nodes).
Redis Cluster: slot = crc16(tag) & 16383.  tag is the key's Redis hash tag: the
part between the first '{' and the first '}' after it when non-empty, else the
whole key.  Keys may be str (hashed as UTF-8) or bytes.
"""
from typing import List, Union

Key = Union[str, bytes, bytearray, memoryview]

FNV_OFFSET = 0xCBF29CE484222325
FNV_PRIME = 0x100000001B3
_M64 = (1 << 64) - 1


def _bytes(key: Key) -> bytes:
    if isinstance(key, (bytes, bytearray, memoryview)):
        return bytes(key)
    return str(key).encode("utf-8")


def fnv1a64(data: Key) -> int:
    """FNV-1a 64-bit of data (bytes, or str hashed as UTF-8)."""
    h = FNV_OFFSET
    for b in _bytes(data):
        h = ((h ^ b) * FNV_PRIME) & _M64
    return h


def jump_hash(key: int, n: int) -> int:
    """Jump consistent hash (Lamping and Veach, 2014): a bucket in [0, n) for a 64-bit key."""
    if n < 1:
        raise ValueError("jump_hash needs n >= 1")
    key &= _M64
    b, j = -1, 0
    while j < n:
        b = j
        key = (key * 2862933555777941757 + 1) & _M64
        j = int((b + 1) * (float(1 << 31) / float((key >> 33) + 1)))
    return b


def key_tag(key: Key) -> bytes:
    """The bytes of key that are hashed: its hash tag when it has a non-empty one, else the whole key."""
    k = _bytes(key)
    s = k.find(b"{")
    if s >= 0:
        e = k.find(b"}", s + 1)
        if e > s + 1:
            return k[s + 1:e]
    return k


def node_for_key(key: Key, n_nodes: int) -> int:
    """Index (in the --redis order) of the standalone node that holds key."""
    return jump_hash(fnv1a64(key_tag(key)), n_nodes)


def _crc16_table() -> List[int]:
    table = []
    for i in range(256):
        crc = i << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
        table.append(crc & 0xFFFF)
    return table


_CRC16 = _crc16_table()


def crc16(data: Key) -> int:
    """CRC16-XMODEM (polynomial 0x1021, initial 0), the Redis Cluster key hash."""
    crc = 0
    for b in _bytes(data):
        crc = ((crc << 8) & 0xFFFF) ^ _CRC16[((crc >> 8) ^ b) & 0xFF]
    return crc


def keyslot(key: Key) -> int:
    """Redis Cluster hash slot of key."""
    return crc16(key_tag(key)) & 16383
