"""microcloud - read the facts the mcprobe flow probe writes into a cloud of Redis nodes.

    from microcloud import Cloud
    cloud = Cloud(nodes="10.0.0.1:6379,10.0.0.2:6379")   # or Cloud(cluster="10.0.0.1:7000")
    cloud.host("10.0.0.5"); cloud.hosts(); cloud.user_of("10.0.0.5"); cloud.probes()
    for channel, event in cloud.events("events.host.*"): ...
"""
from .client import Cloud, Error, normalise_ip, parse_node
from .keyspace import crc16, fnv1a64, jump_hash, key_tag, keyslot, node_for_key

__all__ = ["Cloud", "Error", "normalise_ip", "parse_node", "crc16", "fnv1a64", "jump_hash", "key_tag", "keyslot",
           "node_for_key"]
__version__ = "0.1.0"
