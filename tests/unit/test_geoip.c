/*
 * Where the data subject is: GeoIP lookups in a MaxMind DB the build makes
 * with tests/lib/mkgeoip.pl (127.1/16 DE, 127.2/16 US, 127.3/16 GB, 127.4/16
 * CN, 127.5/16 an entry without a country, 2001:db8:1::/48 FR; the path is
 * $ZOLL_TEST_GEOIP, default build/test_geoip.mmdb), the tenant's
 * "subjects" rules, and how they narrow routing.
 */

#include "zt.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>


/* t_any (residency any) with rules by the subject's area */
#define ZT_SUBJECTS  "tenants[1].subjects"
#define ZT_RULES     "{\"eea\": \"eea_only\", \"adequacy\": \"adequate\", " \
                     "\"other\": \"any\", \"unknown\": \"eea_only\"}"


static const char *
zt_geoip_path(void)
{
    const char  *p = getenv("ZOLL_TEST_GEOIP");

    return p && p[0] ? p : "build/test_geoip.mmdb";
}


static zoll_geoip_t *
zt_geoip_open(const char *path)
{
    char           err[ZOLL_ERR_LEN];
    zoll_geoip_t  *g;

    g = zoll_geoip_open(path, err, sizeof(err));
    if (g == NULL) {
        fail_msg("%s", err);
    }

    return g;
}


static void
zt_locate(const zoll_policy_t *p, const zoll_geoip_t *g, const char *ip,
    zoll_subject_t *s)
{
    char           err[ZOLL_ERR_LEN] = "";
    unsigned char  a[16];
    int            family = strchr(ip, ':') ? 6 : 4;

    assert_int_equal(inet_pton(family == 4 ? AF_INET : AF_INET6, ip, a), 1);
    zoll_subject_locate(p, g, family, a, s, err, sizeof(err));

    if (s->lookup == ZOLL_GEO_ERROR) {
        assert_true(err[0] != '\0');
    }
}


static void
test_geoip_lookup_countries_and_areas(void **state)
{
    size_t           i;
    zoll_policy_t   *p;
    zoll_geoip_t    *g;
    zoll_subject_t   s;
    static const struct {
        const char  *ip;
        zoll_geo_e   lookup;
        const char  *country;
        zoll_area_e  area;
    } cases[] = {
        { "127.1.2.3", ZOLL_GEO_FOUND, "DE", ZOLL_AREA_EEA },
        { "127.2.0.9", ZOLL_GEO_FOUND, "US", ZOLL_AREA_ADEQUACY },
        { "127.4.0.1", ZOLL_GEO_FOUND, "CN", ZOLL_AREA_OTHER },
        { "127.5.0.1", ZOLL_GEO_NOT_FOUND, "", ZOLL_AREA_UNKNOWN },
        { "127.0.0.1", ZOLL_GEO_NOT_FOUND, "", ZOLL_AREA_UNKNOWN },
        { "2001:db8:1::7", ZOLL_GEO_FOUND, "FR", ZOLL_AREA_EEA },
        { "2001:db8:2::7", ZOLL_GEO_NOT_FOUND, "", ZOLL_AREA_UNKNOWN },
    };

    p = *state;
    g = zt_geoip_open(zt_geoip_path());

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        zt_locate(p, g, cases[i].ip, &s);
        assert_int_equal(s.lookup, cases[i].lookup);
        assert_string_equal(s.country, cases[i].country);
        assert_int_equal(s.area, cases[i].area);
        assert_string_equal(s.asserted, "");
    }

    /* no database: "off", and unknown */
    zt_locate(p, NULL, "127.1.2.3", &s);
    assert_int_equal(s.lookup, ZOLL_GEO_OFF);
    assert_int_equal(s.area, ZOLL_AREA_UNKNOWN);

    zoll_geoip_free(g);
}


static void
test_geoip_area_follows_suspension(void **state)
{
    zoll_policy_t  *p;

    (void) state;

    /* the US is an adequacy country only while the DPF stands */
    p = zt_base_with("legal_bases[1].suspended", "true");
    assert_int_equal(zoll_policy_area(p, "US"), ZOLL_AREA_OTHER);
    assert_int_equal(zoll_policy_area(p, "CH"), ZOLL_AREA_ADEQUACY);
    assert_int_equal(zoll_policy_area(p, "IE"), ZOLL_AREA_EEA);
    assert_int_equal(zoll_policy_area(p, ""), ZOLL_AREA_UNKNOWN);
    zoll_policy_free(p);
}


static void
test_geoip_open_errors(void **state)
{
    char           err[ZOLL_ERR_LEN], path[] = "/tmp/zt-geoip-XXXXXX";
    int            fd;
    zoll_geoip_t  *g;

    (void) state;

    g = zoll_geoip_open("/nonexistent/x.mmdb", err, sizeof(err));
    assert_null(g);
    zt_assert_contains(err, "cannot read \"/nonexistent/x.mmdb\"");

    g = zoll_geoip_open("/tmp", err, sizeof(err));
    assert_null(g);
    zt_assert_contains(err, "is not a regular file");

    fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "not a maxmind db\n", 17), 17);
    close(fd);

    g = zoll_geoip_open(path, err, sizeof(err));
    assert_null(g);
    zt_assert_contains(err, "cannot open the MaxMind DB");
    unlink(path);
}


static void
zt_copy(const char *from, const char *to)
{
    char    buf[4096];
    size_t  n;
    FILE   *in, *out;

    in = fopen(from, "rb");
    out = fopen(to, "wb");
    assert_non_null(in);
    assert_non_null(out);

    while ((n = fread(buf, 1, sizeof(buf), in)) > 0) {
        assert_int_equal(fwrite(buf, 1, n, out), n);
    }

    fclose(in);
    assert_int_equal(fclose(out), 0);
}


/* A database changed, removed or made unreadable after it was opened is
 * not read again: the lookup fails, and routing goes strict. */

static void
test_geoip_changed_database_fails(void **state)
{
    char             path[] = "/tmp/zt-geoip-XXXXXX";
    int              fd;
    zoll_geoip_t    *g;
    zoll_subject_t   s;

    fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);

    zt_copy(zt_geoip_path(), path);
    g = zt_geoip_open(path);
    zt_locate(*state, g, "127.1.0.1", &s);
    assert_int_equal(s.lookup, ZOLL_GEO_FOUND);

    assert_int_equal(chmod(path, 0), 0);
    zt_locate(*state, g, "127.1.0.1", &s);
    assert_int_equal(s.lookup, ZOLL_GEO_ERROR);
    assert_string_equal(s.country, "");
    assert_int_equal(s.area, ZOLL_AREA_UNKNOWN);
    zoll_geoip_free(g);

    assert_int_equal(chmod(path, 0644), 0);
    g = zt_geoip_open(path);
    unlink(path);
    zt_locate(*state, g, "127.1.0.1", &s);
    assert_int_equal(s.lookup, ZOLL_GEO_ERROR);
    zoll_geoip_free(g);
}


static void
test_geoip_assertion(void **state)
{
    zoll_subject_t  s;

    zt_locate(*state, NULL, "127.0.0.1", &s);

    assert_int_equal(zoll_subject_assert(*state, &s, "de", 2), 0);
    assert_string_equal(s.asserted, "DE");
    assert_int_equal(s.asserted_area, ZOLL_AREA_EEA);

    assert_int_equal(zoll_subject_assert(*state, &s, "US", 2), 0);
    assert_int_equal(s.asserted_area, ZOLL_AREA_ADEQUACY);

    assert_int_equal(zoll_subject_assert(*state, &s, "DEU", 3), -1);
    assert_int_equal(zoll_subject_assert(*state, &s, "D1", 2), -1);
    assert_int_equal(zoll_subject_assert(*state, &s, "", 0), -1);
    assert_int_equal(zoll_subject_assert(*state, &s, "\xc3\x84", 2), -1);
}


static void
test_geoip_policy_keys(void **state)
{
    zoll_policy_t       *p;
    const zoll_tenant_t *t;

    (void) state;

    zt_base_error("geoip", "{\"database\": \"missing.mmdb\"}",
                  "$.geoip.database: cannot read \"tests/unit/data/"
                  "missing.mmdb\": No such file or directory");
    zt_base_error("geoip", "{\"db\": \"x\"}",
                  "$.geoip: unknown key \"db\"");
    zt_base_error("geoip", "{}", "$.geoip.database: is required");

    zt_base_error(ZT_SUBJECTS, "{\"eea\": \"anywhere\"}",
                  "$.tenants[1].subjects.eea: must be one of eea_only, "
                  "adequate, any");
    zt_base_error(ZT_SUBJECTS, "{\"europe\": \"eea_only\"}",
                  "$.tenants[1].subjects: unknown key \"europe\"");
    zt_base_error("tenants[0].subjects", "{\"other\": \"any\"}",
                  "$.tenants[0].subjects.other: \"any\" is wider than the "
                  "tenant's residency \"eea_only\"");

    /* areas left out get the strictest rule */
    p = zt_base_with(ZT_SUBJECTS, "{\"other\": \"any\"}");
    t = zoll_policy_tenant_by_id(p, "t_any");
    assert_true(t->has_subjects);
    assert_int_equal(t->subjects[ZOLL_AREA_OTHER], ZOLL_RESIDENCY_ANY);
    assert_int_equal(t->subjects[ZOLL_AREA_EEA], ZOLL_RESIDENCY_EEA_ONLY);
    assert_int_equal(t->subjects[ZOLL_AREA_UNKNOWN],
                     ZOLL_RESIDENCY_EEA_ONLY);
    zoll_policy_free(p);

    /* without rules the subject's location does not matter */
    p = zt_load_base();
    t = zoll_policy_tenant_by_id(p, "t_any");
    assert_false(t->has_subjects);
    assert_int_equal(t->subjects[ZOLL_AREA_UNKNOWN], ZOLL_RESIDENCY_ANY);
    zoll_policy_free(p);
}


/* routes t_any with the rules above for a subject at ip (NULL: not
 * located) asserting asserted (NULL: none) */

static void
zt_route_subject(const zoll_policy_t *p, const zoll_geoip_t *g,
    const char *ip, const char *asserted, const char *region,
    const char *basis, zoll_residency_e residency, zoll_decision_t *d)
{
    zoll_subject_t  s;

    zt_locate(p, g, ip, &s);

    if (asserted) {
        assert_int_equal(zoll_subject_assert(p, &s, asserted, 2), 0);
    }

    assert_int_equal(zoll_route(p, zt_tenant(p, "t_any"),
                                zt_sp(p, "llm"), &s, d), ZOLL_OK);
    assert_string_equal(d->region->id, region);
    assert_string_equal(d->basis->id, basis);
    assert_int_equal(d->residency, residency);
    assert_true(d->has_subject);
}


static void
test_geoip_route_by_subject(void **state)
{
    zoll_policy_t   *p;
    zoll_geoip_t    *g;
    zoll_decision_t  d;

    (void) state;

    p = zt_base_with(ZT_SUBJECTS, ZT_RULES);
    g = zt_geoip_open(zt_geoip_path());

    /* EEA subject: EEA endpoint only */
    zt_route_subject(p, g, "127.1.0.1", NULL, "eu", "eea_art28",
                     ZOLL_RESIDENCY_EEA_ONLY, &d);
    zt_assert_contains(d.reason, "subject located in DE (eea): residency "
                       "eea_only; region \"us\" (US): outside the EEA, "
                       "subject's residency is eea_only");
    assert_string_equal(d.subject.country, "DE");

    /* adequacy subject: adequacy decision */
    zt_route_subject(p, g, "127.2.0.1", NULL, "us", "dpf",
                     ZOLL_RESIDENCY_ADEQUATE, &d);

    /* other: any lawful region */
    zt_route_subject(p, g, "127.4.0.1", NULL, "us", "dpf",
                     ZOLL_RESIDENCY_ANY, &d);

    /* unknown: the stated default (here eea_only) */
    zt_route_subject(p, g, "127.5.0.1", NULL, "eu", "eea_art28",
                     ZOLL_RESIDENCY_EEA_ONLY, &d);
    zt_assert_contains(d.reason, "subject location unknown (GeoIP "
                       "not_found)");

    /* the assertion narrows ... */
    zt_route_subject(p, g, "127.4.0.1", "DE", "eu", "eea_art28",
                     ZOLL_RESIDENCY_EEA_ONLY, &d);
    zt_assert_contains(d.reason, "subject located in CN (other), asserted "
                       "DE (eea): residency eea_only");

    /* ... and never widens */
    zt_route_subject(p, g, "127.1.0.1", "CN", "eu", "eea_art28",
                     ZOLL_RESIDENCY_EEA_ONLY, &d);
    assert_string_equal(d.subject.asserted, "CN");

    zoll_geoip_free(g);
    zoll_policy_free(p);
}


static void
test_geoip_route_defaults(void **state)
{
    json_t          *root;
    zoll_policy_t   *p;
    zoll_geoip_t    *g;
    zoll_decision_t  d;
    zoll_subject_t   s;
    char             err[ZOLL_ERR_LEN];

    (void) state;

    /* unknown defaults to the strictest rule */
    p = zt_base_with(ZT_SUBJECTS, "{\"other\": \"any\"}");
    zt_route_subject(p, NULL, "127.4.0.1", NULL, "eu", "eea_art28",
                     ZOLL_RESIDENCY_EEA_ONLY, &d);
    assert_int_equal(d.subject.lookup, ZOLL_GEO_OFF);

    /* a failed lookup takes the strictest rule, even where the tenant's
     * default for unknown subjects is "any" */
    zoll_policy_free(p);
    p = zt_base_with(ZT_SUBJECTS, "{\"eea\": \"adequate\", \"other\": "
                     "\"any\", \"adequacy\": \"any\", \"unknown\": \"any\"}");
    memset(&s, 0, sizeof(s));
    s.lookup = ZOLL_GEO_ERROR;
    s.area = ZOLL_AREA_UNKNOWN;
    assert_int_equal(zoll_route(p, zt_tenant(p, "t_any"), zt_sp(p, "llm"),
                                &s, &d), ZOLL_OK);
    assert_int_equal(d.residency, ZOLL_RESIDENCY_ADEQUATE);
    assert_string_equal(d.basis->id, "dpf");
    zt_assert_contains(d.reason, "GeoIP error: strictest rule");
    zoll_policy_free(p);

    /* a tenant without rules: location and assertion change nothing */
    p = zt_load_base();
    zt_locate(p, NULL, "127.1.0.1", &s);
    assert_int_equal(zoll_subject_assert(p, &s, "DE", 2), 0);
    assert_int_equal(zoll_route(p, zt_tenant(p, "t_any"), zt_sp(p, "llm"),
                                &s, &d), ZOLL_OK);
    assert_string_equal(d.region->id, "us");
    assert_int_equal(d.residency, ZOLL_RESIDENCY_ANY);
    zoll_policy_free(p);

    /* the DPF suspended: a US subject is no adequacy subject any more,
     * and its transfer goes on under the SCCs */
    root = zt_base();
    zt_set(root, ZT_SUBJECTS, ZT_RULES);
    zt_set(root, "legal_bases[1].suspended", "true");
    p = zt_parse(root, err);
    assert_non_null(p);
    g = zt_geoip_open(zt_geoip_path());
    zt_route_subject(p, g, "127.2.0.1", NULL, "us", "scc",
                     ZOLL_RESIDENCY_ANY, &d);
    assert_int_equal(d.subject.area, ZOLL_AREA_OTHER);
    zoll_geoip_free(g);
    zoll_policy_free(p);
}


int
zt_geoip_tests(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_geoip_lookup_countries_and_areas),
        cmocka_unit_test(test_geoip_area_follows_suspension),
        cmocka_unit_test(test_geoip_open_errors),
        cmocka_unit_test(test_geoip_changed_database_fails),
        cmocka_unit_test(test_geoip_assertion),
        cmocka_unit_test(test_geoip_policy_keys),
        cmocka_unit_test(test_geoip_route_by_subject),
        cmocka_unit_test(test_geoip_route_defaults),
    };

    return cmocka_run_group_tests_name("geoip", tests,
                                       zt_setup_base, zt_teardown_policy);
}
