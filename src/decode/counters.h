/*
 * counters.h - the decode stage's named counters (rule 5: every rejection
 * is a counter with a stable dotted name, never a log line per packet).
 *
 * One line per counter: X(S, <enum id>, "<dotted name>").  The dotted names
 * are a public contract (stats line, --json stats, cloud); add, never rename.
 * Per layer: decode.<layer>.packets counts headers the decoder was asked to
 * read, decode.<layer>.<reason> counts each rejection.  decode.nonip.<name>
 * counts frames that ended in a known non-IP payload, and the three
 * decode.{ip,nonip,bad}.frames totals count mc_decode_packet() results.
 */
#ifndef MC_DECODE_COUNTERS_H
#define MC_DECODE_COUNTERS_H

#include "common/ctr_macros.h"

#define MC_DECODE_CTRS(X, S)                                                   \
    /* results of mc_decode_packet() */                                       \
    X(S, ip_frames, "decode.ip.frames")                                        \
    X(S, nonip_frames, "decode.nonip.frames")                                  \
    X(S, bad_frames, "decode.bad.frames")                                      \
    X(S, depth_exceeded, "decode.depth_exceeded")                              \
    X(S, unsupported_dlt, "decode.unsupported_dlt")                            \
    X(S, ip_other_proto, "decode.ip.other_proto")                              \
    /* link layers */                                                          \
    X(S, ether_packets, "decode.ether.packets")                                \
    X(S, ether_too_short, "decode.ether.too_short")                            \
    X(S, ether_bad_length, "decode.ether.bad_length")                          \
    X(S, sll_packets, "decode.sll.packets")                                    \
    X(S, sll_too_short, "decode.sll.too_short")                                \
    X(S, sll2_packets, "decode.sll2.packets")                                  \
    X(S, sll2_too_short, "decode.sll2.too_short")                              \
    X(S, null_packets, "decode.null.packets")                                  \
    X(S, null_too_short, "decode.null.too_short")                              \
    X(S, raw_packets, "decode.raw.packets")                                    \
    X(S, raw_too_short, "decode.raw.too_short")                                \
    X(S, raw_bad_version, "decode.raw.bad_version")                            \
    X(S, vlan_packets, "decode.vlan.packets")                                  \
    X(S, vlan_too_short, "decode.vlan.too_short")                              \
    X(S, mpls_packets, "decode.mpls.packets")                                  \
    X(S, mpls_too_short, "decode.mpls.too_short")                              \
    X(S, mpls_too_many_labels, "decode.mpls.too_many_labels")                  \
    X(S, mpls_pw_ether, "decode.mpls.pw_ether")                                \
    X(S, pppoe_packets, "decode.pppoe.packets")                                \
    X(S, pppoe_too_short, "decode.pppoe.too_short")                            \
    X(S, pppoe_bad_version, "decode.pppoe.bad_version")                        \
    X(S, pppoe_bad_code, "decode.pppoe.bad_code")                              \
    X(S, pppoe_bad_length, "decode.pppoe.bad_length")                          \
    X(S, ppp_packets, "decode.ppp.packets")                                    \
    X(S, ppp_too_short, "decode.ppp.too_short")                                \
    /* IP */                                                                   \
    X(S, ipv4_packets, "decode.ipv4.packets")                                  \
    X(S, ipv4_too_short, "decode.ipv4.too_short")                              \
    X(S, ipv4_header_unusable, "decode.ipv4.header_unusable")                \
    X(S, ipv4_bad_version, "decode.ipv4.bad_version")                          \
    X(S, ipv4_bad_ihl, "decode.ipv4.bad_ihl")                                  \
    X(S, ipv4_bad_total_length, "decode.ipv4.bad_total_length")                \
    X(S, ipv4_zero_total_length, "decode.ipv4.zero_total_length")              \
    X(S, ipv4_truncated, "decode.ipv4.truncated")                              \
    X(S, ipv4_fragments, "decode.ipv4.fragments")                              \
    X(S, ipv6_packets, "decode.ipv6.packets")                                  \
    X(S, ipv6_too_short, "decode.ipv6.too_short")                              \
    X(S, ipv6_header_unusable, "decode.ipv6.header_unusable")                \
    X(S, ipv6_bad_version, "decode.ipv6.bad_version")                          \
    X(S, ipv6_zero_payload_length, "decode.ipv6.zero_payload_length")          \
    X(S, ipv6_truncated, "decode.ipv6.truncated")                              \
    X(S, ipv6_ext_too_short, "decode.ipv6.ext_too_short")                      \
    X(S, ipv6_too_many_ext_headers, "decode.ipv6.too_many_ext_headers")        \
    X(S, ipv6_fragments, "decode.ipv6.fragments")                              \
    /* transports */                                                           \
    X(S, tcp_packets, "decode.tcp.packets")                                    \
    X(S, tcp_too_short, "decode.tcp.too_short")                                \
    X(S, tcp_bad_offset, "decode.tcp.bad_offset")                              \
    X(S, tcp_options_truncated, "decode.tcp.options_truncated")                \
    X(S, udp_packets, "decode.udp.packets")                                    \
    X(S, udp_too_short, "decode.udp.too_short")                                \
    X(S, udp_bad_length, "decode.udp.bad_length")                              \
    X(S, icmp_packets, "decode.icmp.packets")                                  \
    X(S, icmp_too_short, "decode.icmp.too_short")                              \
    X(S, icmpv6_packets, "decode.icmpv6.packets")                              \
    X(S, icmpv6_too_short, "decode.icmpv6.too_short")                          \
    X(S, sctp_packets, "decode.sctp.packets")                                  \
    X(S, sctp_too_short, "decode.sctp.too_short")                              \
    /* tunnels */                                                              \
    X(S, gre_packets, "decode.gre.packets")                                    \
    X(S, gre_too_short, "decode.gre.too_short")                                \
    X(S, gre_bad_version, "decode.gre.bad_version")                            \
    X(S, gre_bad_pptp, "decode.gre.bad_pptp")                                  \
    X(S, gre_too_many_sre, "decode.gre.too_many_sre")                          \
    X(S, gtpu_packets, "decode.gtpu.packets")                                  \
    X(S, gtpu_too_short, "decode.gtpu.too_short")                              \
    X(S, gtpu_bad_version, "decode.gtpu.bad_version")                          \
    X(S, gtpu_bad_ext_length, "decode.gtpu.bad_ext_length")                    \
    X(S, gtpu_too_many_ext_headers, "decode.gtpu.too_many_ext_headers")        \
    X(S, gtpu_non_gpdu, "decode.gtpu.non_gpdu")                                \
    X(S, gtpu_non_ip_payload, "decode.gtpu.non_ip_payload")                    \
    X(S, vxlan_packets, "decode.vxlan.packets")                                \
    X(S, vxlan_too_short, "decode.vxlan.too_short")                            \
    X(S, vxlan_bad_flags, "decode.vxlan.bad_flags")                            \
    X(S, erspan_packets, "decode.erspan.packets")                              \
    X(S, erspan_too_short, "decode.erspan.too_short")                          \
    X(S, erspan_bad_version, "decode.erspan.bad_version")                      \
    X(S, erspan_non_ether, "decode.erspan.non_ether")                          \
    /* fragment reassembly (reasm.c) */                                        \
    X(S, reasm_fragments, "decode.reasm.fragments")                            \
    X(S, reasm_datagrams, "decode.reasm.datagrams")                            \
    X(S, reasm_completed, "decode.reasm.completed")                            \
    X(S, reasm_given_up, "decode.reasm.given_up")                              \
    X(S, reasm_released_frames, "decode.reasm.released_frames")                \
    X(S, reasm_timeouts, "decode.reasm.timeouts")                              \
    X(S, reasm_flushed, "decode.reasm.flushed")                                \
    X(S, reasm_evicted_datagrams, "decode.reasm.evicted_datagrams")            \
    X(S, reasm_evicted_memory, "decode.reasm.evicted_memory")                  \
    X(S, reasm_no_memory, "decode.reasm.no_memory")                            \
    X(S, reasm_truncated, "decode.reasm.truncated")                            \
    X(S, reasm_bad_length, "decode.reasm.bad_length")                          \
    X(S, reasm_too_big, "decode.reasm.too_big")                                \
    X(S, reasm_bad_header, "decode.reasm.bad_header")                          \
    X(S, reasm_too_many_frames, "decode.reasm.too_many_frames")                \
    X(S, reasm_last_conflict, "decode.reasm.last_conflict")                    \
    X(S, reasm_duplicates, "decode.reasm.duplicates")                          \
    X(S, reasm_overlaps, "decode.reasm.overlaps")                              \
    X(S, reasm_overlap_conflicts, "decode.reasm.overlap_conflicts")            \
    X(S, reasm_too_many_holes, "decode.reasm.too_many_holes")                  \
    /* frames that ended in a known non-IP payload */                          \
    X(S, nonip_llc, "decode.nonip.llc")                                        \
    X(S, nonip_arp, "decode.nonip.arp")                                        \
    X(S, nonip_rarp, "decode.nonip.rarp")                                      \
    X(S, nonip_lldp, "decode.nonip.lldp")                                      \
    X(S, nonip_pppoe_discovery, "decode.nonip.pppoe_discovery")                \
    X(S, nonip_ipx, "decode.nonip.ipx")                                        \
    X(S, nonip_loopback, "decode.nonip.loopback")                              \
    X(S, nonip_eapol, "decode.nonip.eapol")                                    \
    X(S, nonip_slow_protocols, "decode.nonip.slow_protocols")                  \
    X(S, nonip_ptp, "decode.nonip.ptp")                                        \
    X(S, nonip_cfm, "decode.nonip.cfm")                                        \
    X(S, nonip_macsec, "decode.nonip.macsec")                                  \
    X(S, nonip_fcoe, "decode.nonip.fcoe")                                      \
    X(S, nonip_appletalk, "decode.nonip.appletalk")                            \
    X(S, nonip_wol, "decode.nonip.wol")                                        \
    X(S, nonip_profinet, "decode.nonip.profinet")                              \
    X(S, nonip_ethercat, "decode.nonip.ethercat")                              \
    X(S, nonip_other_ethertype, "decode.nonip.other_ethertype")                \
    X(S, nonip_other_af, "decode.nonip.other_af")                              \
    X(S, nonip_ppp_control, "decode.nonip.ppp_control")                        \
    X(S, nonip_ppp_other, "decode.nonip.ppp_other")                            \
    X(S, nonip_mpls_other, "decode.nonip.mpls_other")

MC_CTR_DECLARE(decode, MC_DECODE_CTRS)

#endif /* MC_DECODE_COUNTERS_H */
