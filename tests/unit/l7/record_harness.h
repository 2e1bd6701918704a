/*
 * record_harness.h - what every analyzer test that exports flows shares:
 * when a flow leaves the table, the stage ends it (h_l7) and the flow
 * record's fields are read through the analyzer's getters (h_an), checked
 * against their maximum length, and kept by element name for h_rec_s and
 * h_rec_n.  Include after cmocka.h; set h_an and h_l7, and give
 * h_on_export to mc_flow_table_new.
 */
#ifndef RECORD_HARNESS_H
#define RECORD_HARNESS_H

#include <stdio.h>
#include <string.h>

#include "flow/flow.h"
#include "l7/l7.h"

static const struct mc_l7_analyzer *h_an;  /* the analyzer under test */
static struct mc_l7 *h_l7;

/* The flow record's fields of the last exported flow, by element name. */
#define H_NF 24
static char h_rec_name[H_NF][40];
static char h_rec_str[H_NF][1100];
static uint64_t h_rec_u[H_NF];
static int h_n_rec, h_exported;

static void h_on_export(void *ctx, struct mc_flow *f)
{
    (void)ctx;
    mc_l7_flow_end(h_l7, f);
    h_exported++;
    struct mc_ie_env env = { f, MC_FLOW_FWD, 1, 0, 0, 0 };
    h_n_rec = 0;
    for (size_t i = 0; i < h_an->n_fields && i < H_NF; i++) {
        const struct mc_ie *ie = &h_an->fields[i];
        struct mc_ie_val v = { 0, NULL, NULL, 0 };
        ie->get(&env, &v);
        snprintf(h_rec_name[i], sizeof(h_rec_name[i]), "%s", ie->name);
        h_rec_u[i] = v.u;
        h_rec_str[i][0] = 0;
        if (ie->type == MC_IE_T_STRING) {
            assert_non_null(v.str);
            assert_true(v.str_len <= mc_ie_max_len(ie));
            assert_true(v.str_len < sizeof(h_rec_str[i]));
            memcpy(h_rec_str[i], v.str, v.str_len);
            h_rec_str[i][v.str_len] = 0;
        }
        h_n_rec++;
    }
    /* base elements an analyzer fills through the stage: a subscriber's mobileIMSI, mobileMSISDN (the ext) */
    static const char *const base[] = { "mobileIMSI", "mobileMSISDN" };
    for (int k = 0; k < 2 && f->ext && h_n_rec < H_NF; k++, h_n_rec++) {
        snprintf(h_rec_name[h_n_rec], sizeof(h_rec_name[h_n_rec]), "%s", base[k]);
        const struct mc_flow_identity *id = f->ext->id;
        snprintf(h_rec_str[h_n_rec], sizeof(h_rec_str[h_n_rec]), "%s", !id ? "" : k ? id->msisdn : id->imsi);
        h_rec_u[h_n_rec] = 0;
    }
}

static const char *h_rec_s(const char *name)
{
    for (int i = 0; i < h_n_rec; i++)
        if (strcmp(h_rec_name[i], name) == 0)
            return h_rec_str[i];
    fail_msg("no field %s", name);
    return "";
}

static uint64_t h_rec_n(const char *name)
{
    for (int i = 0; i < h_n_rec; i++)
        if (strcmp(h_rec_name[i], name) == 0)
            return h_rec_u[i];
    fail_msg("no field %s", name);
    return 0;
}

#endif /* RECORD_HARNESS_H */
