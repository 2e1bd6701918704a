/*
 * fields.h - the one table of information elements (IEs) the exporter knows.
 *
 * Each row gives an IE's IANA id, enterprise number, exact IANA name, length,
 * abstract type and the getter that reads its value from a flow in a given
 * direction.  The table drives the IPFIX and v9 templates (template.c), the
 * -T parser, the JSON keys (json.c) and mc_exporter_list_fields, so adding an
 * element is one row here (see docs/internals/exporter.md).
 *
 * References: IANA "IPFIX Information Elements" registry, RFC 7012 (types),
 * RFC 5103 (reverse elements, PEN 29305), RFC 3954 (v9 field types 21/22).
 */
#ifndef MC_EXPORT_FIELDS_H
#define MC_EXPORT_FIELDS_H

#include <stddef.h>
#include <stdint.h>

#include "flow/flow.h"
#include "flow/ie.h"

/* The table, and its size. */
extern const struct mc_ie mc_export_ies[];
extern const size_t mc_export_n_ies;

/* The catalogue: the table above, then the L7 stage's elements (l7/l7.h). */
size_t mc_export_n_all(void);
const struct mc_ie *mc_export_ie_at(size_t i);

/* Looks an element up in the catalogue by exact name (case-sensitive); NULL when unknown. */
const struct mc_ie *mc_export_ie_find(const char *name, size_t len);

/*
 * Looks an element up in the catalogue by (enterprise number, element id)
 * (the id without the enterprise bit); NULL when unknown.  The collector
 * names decoded fields with it, so it writes the probe's JSON keys.
 */
const struct mc_ie *mc_export_ie_find_id(uint32_t pen, uint16_t id);

/* Reads the value of ie for env into out. */
void mc_export_ie_value(const struct mc_ie *ie, const struct mc_ie_env *env, struct mc_ie_val *out);

/*
 * Encodes the value of ie for env in `len` bytes at out (len is the template
 * length: MC_IE_VARLEN writes the RFC 7011 one- or three-byte length prefix
 * and the string).  Returns the bytes written; the caller has checked room
 * with mc_export_ie_size.
 */
size_t mc_export_ie_encode(const struct mc_ie *ie, uint16_t len, const struct mc_ie_env *env,
                           uint8_t *out);

/* Bytes mc_export_ie_encode will write for this element and flow. */
size_t mc_export_ie_size(const struct mc_ie *ie, uint16_t len, const struct mc_ie_env *env);

#endif /* MC_EXPORT_FIELDS_H */
