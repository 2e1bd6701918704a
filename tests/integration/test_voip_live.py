#!/usr/bin/python3
"""test_voip_live.py - live calls on lo: sipp (Debian sip-tester) as UAS and UAC, mcprobe writing the cloud.

mcprobe captures on `lo` with --redis (a private redis-server) while SIPp
places CALLS concurrent calls through its UAC to its UAS on 127.0.0.1: the
UAC sends an INVITE with an SDP offer, the UAS answers 180 and 200 with its
own SDP, the UAC acks, plays RTP (a generated G.711 A-law stream) which the
UAS echoes back (-rtp_echo), and hangs up after a few seconds.  Checked:
  * a subscriber gets events.voip.call.start for every call within 100 ms of
    the INVITE (its packet time in the event against the subscriber's clock;
    measured and printed);
  * while each call runs, its voip.call.<id> hash shows it answered and its
    RTP figures (rtp_to_caller_*, rtp_to_callee_*) are updated, not only at
    its end;
  * afterwards every call is ended (BYE from the caller) with both streams'
    packets counted, the callee and caller are in voip.users, and the events
    say start, answer and end once per call;
  * the calls are what SIPp says it did (its successful-call count);
  * two more probes on lo share a second cloud, one seeing only the SIP
    (-f on SIPp's signalling ports), the other only the media: the media
    probe ties its RTP flows to their calls through voip.rtp.* in the cloud
    while they run (each call's RTP figures in that cloud move while it
    runs), and exports them with their rtpCallId.
Needs root (capture on lo) and sipp; skipped otherwise.
"""
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import mctest  # noqa: E402
import mcredis  # noqa: E402
import mcpcap  # noqa: E402

CALLS = 5
TALK_MS = 6000

UAC = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="mcprobe test UAC with media">
  <send retrans="500">
    <![CDATA[
      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: [service] <sip:[service]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: sip:sipp@[local_ip]:[local_port]
      Max-Forwards: 70
      Subject: Performance Test
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=user1 53655765 2353687637 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [auto_media_port] RTP/AVP 8
      a=rtpmap:8 PCMA/8000
    ]]>
  </send>
  <recv response="100" optional="true"></recv>
  <recv response="180" optional="true"></recv>
  <recv response="200" rtd="true"></recv>
  <send>
    <![CDATA[
      ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: [service] <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Contact: sip:sipp@[local_ip]:[local_port]
      Max-Forwards: 70
      Content-Length: 0
    ]]>
  </send>
  <nop><action><exec play_pcap_audio="%(pcap)s"/></action></nop>
  <pause milliseconds="%(talk)d"/>
  <send retrans="500">
    <![CDATA[
      BYE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: [service] <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 2 BYE
      Contact: sip:sipp@[local_ip]:[local_port]
      Max-Forwards: 70
      Content-Length: 0
    ]]>
  </send>
  <recv response="200" crlf="true"></recv>
</scenario>
"""


def g711a_pcap(path, seconds):
    """RTP A-law (PT 8) every 20 ms: what SIPp plays to the callee's media port (it rewrites addresses)."""
    frames = []
    for k in range(int(seconds * 50)):
        rtp = bytes([0x80, 8 | (0x80 if k == 0 else 0)]) + (k & 0xFFFF).to_bytes(2, "big") + \
            (k * 160).to_bytes(4, "big") + (0x1234ABCD).to_bytes(4, "big") + bytes([0xD5]) * 160
        frames.append((1_700_000_000_000_000 + k * 20_000,
                       mcpcap.udp_frame((127, 0, 0, 1), (127, 0, 0, 1), 6000, 6002, rtp)))
    mcpcap.write_pcap(path, frames)


def main():
    if os.geteuid() != 0:
        mctest.skip("capturing on lo needs root (CI runs as root)")
    mctest.need_tool("sipp")
    mcredis.need_redis()
    c = mctest.Checker()
    wd = tempfile.mkdtemp(prefix="mcvoiplive")
    pcap = os.path.join(wd, "g711a.pcap")
    g711a_pcap(pcap, TALK_MS / 1000.0 - 0.5)
    scen = os.path.join(wd, "uac.xml")
    open(scen, "w").write(UAC % {"pcap": pcap, "talk": TALK_MS})
    srv = mcredis.Server()
    uas_port, uac_port = mctest.free_port(socket.SOCK_DGRAM), mctest.free_port(socket.SOCK_DGRAM)
    counters = os.path.join(wd, "counters.txt")
    probe = subprocess.Popen([mctest.MCPROBE, "-i", "lo", "-q", "--stats-interval", "0", "--redis", srv.addr,
                              "-f", "udp", "--counters", counters, "--no-cloud-lookups"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    # the two probes of one cloud: signalling only, media only
    srv2 = mcredis.Server()
    sip_ports = "udp and (port %d or port %d)" % (uas_port, uac_port)
    media_json = os.path.join(wd, "media.json")
    sig_probe = subprocess.Popen([mctest.MCPROBE, "-i", "lo", "-q", "--stats-interval", "0", "--redis", srv2.addr,
                                  "-f", sip_ports, "--no-cloud-lookups"], stdout=subprocess.DEVNULL,
                                 stderr=subprocess.PIPE)
    media_probe = subprocess.Popen([mctest.MCPROBE, "-i", "lo", "-q", "--stats-interval", "0", "--redis", srv2.addr,
                                    "-f", "udp and not (%s)" % sip_ports[len("udp and "):], "--json", media_json,
                                    "-T", "sourceTransportPort,destinationTransportPort,rtpPackets,reverseRtpPackets,"
                                    "rtpCallId"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    procs = [probe]
    starts, kinds = {}, []
    try:
        r = srv.client()
        ps = r.pubsub()
        ps.psubscribe("events.voip.call.*")

        def listen():
            try:
                follow()
            except Exception:  # the server stops at the end: the listener just ends
                pass

        def follow():
            # polled, not ps.listen(): the client's socket timeout would end a listen through a quiet call
            while True:
                m = ps.get_message(timeout=0.5)
                if not m or m["type"] != "pmessage":
                    continue
                now = int(time.time() * 1000)
                ev = json.loads(m["data"])
                kinds.append((m["channel"].split(".")[-1], ev.get("call_id")))
                if m["channel"].endswith(".start"):
                    starts[ev["call_id"]] = now - ev["invite_ms"]
        threading.Thread(target=listen, daemon=True).start()
        time.sleep(2.0)  # the capture is open
        uas = subprocess.Popen(["sipp", "-sn", "uas", "-i", "127.0.0.1", "-p", str(uas_port), "-rtp_echo",
                                "-mi", "127.0.0.1", "-nostdin"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, cwd=wd)
        procs.append(uas)
        time.sleep(0.5)
        uac = subprocess.Popen(["sipp", "-sf", scen, "-i", "127.0.0.1", "-p", str(uac_port), "-m", str(CALLS),
                                "-l", str(CALLS), "-r", "10", "-mi", "127.0.0.1", "-nostdin",
                                "-trace_stat", "-stf", os.path.join(wd, "stat.csv"),
                                "127.0.0.1:%d" % uas_port], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               cwd=wd)
        procs.append(uac)
        # while the calls run: answered, and their media figures move
        time.sleep(2.5)
        mid = {}
        for k in r.scan_iter("voip.call.*"):
            mid[k[len("voip.call."):]] = r.hgetall(k)
        r2 = srv2.client()
        mid2 = {k: r2.hgetall("voip.call." + k) for k in mid}
        # a running call's figures go out once a second (packet-driven) and show at the next flush (500 ms):
        # up to 1.5 s apart, so they are read again until they moved, while the media still runs
        def updated(h):
            return int(h.get("rtp_to_callee_updated_ms", 0))

        def moved(a, b):  # the one probe's figures: there at the first read, newer now
            return updated(b) > updated(a) > 0

        def arrived(a, b):  # the two probes': there now, newer if they were there already
            return updated(b) > 0 and (updated(a) == 0 or updated(b) > updated(a))
        deadline = time.time() + 2.5
        while True:
            time.sleep(0.1)
            later = {k: r.hgetall("voip.call." + k) for k in mid}
            later2 = {k: r2.hgetall("voip.call." + k) for k in mid}
            if time.time() > deadline or all(moved(mid[k], later[k]) and arrived(mid2[k], later2[k]) for k in mid):
                break
        rc = uac.wait(timeout=60)
        c.check(rc == 0, "sipp UAC: every call succeeded (exit %d): %s" % (rc, uac.stderr.read().decode()[-300:]))
        c.check(len(mid) == CALLS, "%d calls in the cloud while they run (%d)" % (CALLS, len(mid)))
        for cid, h in mid.items():
            c.check(h.get("state") == "answered", "%s: answered while it runs (%s)" % (cid, h.get("state")))
            p0, p1 = int(h.get("rtp_to_callee_packets", 0)), int(later[cid].get("rtp_to_callee_packets", 0))
            c.check(moved(h, later[cid]) and p1 > p0 > 0,
                    "%s: media figures updated while the call runs (%d -> %d packets)" % (cid, p0, p1))
        for cid, h in mid2.items():
            # a loaded machine may tie the media a moment later than the first snapshot: the figures must be
            # there while the call is still answered, and move when they were there already
            c.check(later2[cid].get("state") == "answered" and arrived(h, later2[cid]),
                    "%s: two probes: the signalling probe's call (%s) gets the media probe's figures while it runs "
                    "(updated %d -> %d)" % (cid, later2[cid].get("state"), updated(h), updated(later2[cid])))
        time.sleep(1.5)  # the last flushes and events
        for cid in mid:
            h = r.hgetall("voip.call." + cid)
            c.check(h.get("state") == "ended" and h.get("hangup_by") == "caller" and h.get("end_cause") == "bye",
                    "%s: ended by the caller's BYE (%s, %s)" % (cid, h.get("state"), h.get("hangup_by")))
            for side in ("caller", "callee"):
                c.check(int(h.get("rtp_to_%s_packets" % side, 0)) >= 100,
                        "%s: the %s received RTP (%s packets)" % (cid, side, h.get("rtp_to_%s_packets" % side)))
        users = set(r.zrange("voip.users", 0, -1))
        c.check(any(u.startswith("sip:sipp@") for u in users) and any(u.startswith("sip:service@") for u in users),
                "caller and callee in voip.users: %s" % sorted(users))
        for what in ("start", "answer", "end"):
            got = sorted(cid for k, cid in kinds if k == what)
            c.check(got == sorted(mid), "one voip.call.%s per call (%d)" % (what, len(got)))
        lat = sorted(starts.values())
        if lat:
            print("events.voip.call.start after the INVITE: min %d ms, max %d ms (%d calls)" % (lat[0], lat[-1],
                                                                                                 len(lat)))
        c.check(len(lat) == CALLS and lat[-1] <= 100, "every call.start within 100 ms of its INVITE: %s" % lat)
    finally:
        for p in procs[1:]:
            if p.poll() is None:
                p.terminate()
                p.wait(timeout=10)
        for p in (probe, sig_probe, media_probe):
            p.terminate()
            p.wait(timeout=30)
        srv.stop()
        srv2.stop()
    for p in (probe, sig_probe, media_probe):
        c.check(p.returncode == 0, "mcprobe exits 0: %s" % p.stderr.read().decode()[-300:])
    rtp = [f for f in map(json.loads, open(media_json)) if f.get("rtpPackets") or f.get("reverseRtpPackets")]
    c.check(len(rtp) >= CALLS and all(f.get("rtpCallId") in mid for f in rtp),
            "two probes: the media probe's %d RTP flows carry their calls' ids: %s" %
            (len(rtp), sorted(set(f.get("rtpCallId") for f in rtp))))
    c.done()


if __name__ == "__main__":
    main()
