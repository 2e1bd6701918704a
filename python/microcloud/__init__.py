"""microcloud - the facts the mcprobe flow probe writes into a cloud of Redis nodes (docs/CLOUD.md).

    from microcloud import Cloud
    cloud = Cloud(nodes="10.0.0.1:6379,10.0.0.2:6379")   # or Cloud(cluster="10.0.0.1:7000")
    cloud.host("10.0.0.5"); cloud.user_of("10.0.0.5"); cloud.probes()
    for ip, host in cloud.hosts("10.0.0.0/8"): ...      # streamed over SCAN
    cloud.set_user("alice", "10.0.0.5", group="ops")     # what RADIUS/DHCP learned: the probes export it
    for channel, event in cloud.events("events.host.*"): ...

The command-line client is mcquery (microcloud.cli, also `python3 -m microcloud`).
"""
from .client import Cloud, Error, in_networks, normalise_ip, parse_networks, parse_node
from .keyspace import crc16, fnv1a64, jump_hash, key_tag, keyslot, node_for_key

__all__ = ["Cloud", "Error", "in_networks", "normalise_ip", "parse_networks", "parse_node", "crc16", "fnv1a64",
           "jump_hash", "key_tag", "keyslot", "node_for_key"]
__version__ = "0.1.0"
