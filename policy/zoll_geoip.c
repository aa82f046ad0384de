/*
 * Where the data subject is: the client address looked up in a MaxMind DB
 * (libmaxminddb), and the country's area under the policy's lists (EEA,
 * adequacy, other).  The connector hands over the address after its own
 * trusted-proxy handling (nginx's realip); the engine never keeps or
 * records it, only the country.
 *
 * The database is mapped once (at nginx configuration time, inherited by
 * the workers) and never changes under a lookup.  A file that is replaced,
 * rewritten, truncated, removed or made unreadable afterwards is noticed by
 * comparing its stat(2) with the one taken at open: the lookup then fails
 * (ZOLL_GEO_ERROR) and routing follows the tenant's strictest rule until a
 * reload maps the new file.  Reading a mapping whose file was truncated
 * would be SIGBUS, so the check comes first.
 */

#include "zoll_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>

#include <maxminddb.h>


struct zoll_geoip_s {
    MMDB_s       mmdb;
    char        *path;
    struct stat  st;         /* the file as it was when mapped */
};


static const char *const  zoll_areas[] = {
    "eea", "adequacy", "other", "unknown"
};

static const char *const  zoll_lookups[] = {
    "off", "found", "not_found", "error", "given"
};


const char *
zoll_area_name(zoll_area_e a)
{
    return zoll_areas[a];
}


const char *
zoll_geo_name(zoll_geo_e g)
{
    return zoll_lookups[g];
}


zoll_geoip_t *
zoll_geoip_open(const char *path, char *err, size_t errlen)
{
    int            rc;
    zoll_geoip_t  *g;

    g = calloc(1, sizeof(zoll_geoip_t));
    if (g == NULL || (g->path = strdup(path)) == NULL) {
        free(g);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }

    if (stat(path, &g->st) != 0) {
        snprintf(err, errlen, "cannot read \"%s\": %s", path,
                 strerror(errno));
        goto failed;
    }

    if (!S_ISREG(g->st.st_mode)) {
        snprintf(err, errlen, "\"%s\" is not a regular file", path);
        goto failed;
    }

    rc = MMDB_open(path, MMDB_MODE_MMAP, &g->mmdb);

    if (rc != MMDB_SUCCESS) {
        snprintf(err, errlen, "cannot open the MaxMind DB \"%s\": %s%s%s",
                 path, MMDB_strerror(rc), rc == MMDB_IO_ERROR ? ": " : "",
                 rc == MMDB_IO_ERROR ? strerror(errno) : "");
        goto failed;
    }

    /* the identity to compare with before every lookup: taken after the
     * mapping, so a file replaced in between is caught at the first one */
    if (stat(path, &g->st) != 0) {
        snprintf(err, errlen, "cannot read \"%s\": %s", path,
                 strerror(errno));
        MMDB_close(&g->mmdb);
        goto failed;
    }

    return g;

failed:

    free(g->path);
    free(g);
    return NULL;
}


void
zoll_geoip_free(zoll_geoip_t *g)
{
    if (g == NULL) {
        return;
    }

    MMDB_close(&g->mmdb);
    free(g->path);
    free(g);
}


static int
zoll_geoip_unchanged(const zoll_geoip_t *g, char *err, size_t errlen)
{
    struct stat  st;

    if (stat(g->path, &st) != 0) {
        snprintf(err, errlen, "the GeoIP database \"%s\" cannot be read any "
                 "more (%s): reload nginx once it is back", g->path,
                 strerror(errno));
        return 0;
    }

    /* ctime also moves on chmod and chown */
    if (st.st_dev != g->st.st_dev || st.st_ino != g->st.st_ino
        || st.st_size != g->st.st_size
        || st.st_mtim.tv_sec != g->st.st_mtim.tv_sec
        || st.st_mtim.tv_nsec != g->st.st_mtim.tv_nsec
        || st.st_ctim.tv_sec != g->st.st_ctim.tv_sec
        || st.st_ctim.tv_nsec != g->st.st_ctim.tv_nsec)
    {
        snprintf(err, errlen, "the GeoIP database \"%s\" changed since it "
                 "was loaded: reload nginx to use the new one", g->path);
        return 0;
    }

    return 1;
}


/* The country of an address: ZOLL_GEO_FOUND with cc set, NOT_FOUND, or
 * ERROR with err set. */

static zoll_geo_e
zoll_geoip_country(const zoll_geoip_t *g, int family,
    const unsigned char *addr, char cc[3], char *err, size_t errlen)
{
    int                    gai, rc;
    MMDB_entry_data_s      data;
    struct sockaddr_in     sin;
    struct sockaddr_in6    sin6;
    struct sockaddr       *sa;
    MMDB_lookup_result_s   res;

    if (!zoll_geoip_unchanged(g, err, errlen)) {
        return ZOLL_GEO_ERROR;
    }

    if (family == 4) {
        memset(&sin, 0, sizeof(sin));
        sin.sin_family = AF_INET;
        memcpy(&sin.sin_addr, addr, 4);
        sa = (struct sockaddr *) &sin;

    } else {
        memset(&sin6, 0, sizeof(sin6));
        sin6.sin6_family = AF_INET6;
        memcpy(&sin6.sin6_addr, addr, 16);
        sa = (struct sockaddr *) &sin6;
    }

    res = MMDB_lookup_sockaddr(&g->mmdb, sa, &rc);

    if (rc == MMDB_IPV6_LOOKUP_IN_IPV4_DATABASE_ERROR) {
        return ZOLL_GEO_NOT_FOUND;
    }

    if (rc != MMDB_SUCCESS) {
        snprintf(err, errlen, "GeoIP lookup in \"%s\": %s", g->path,
                 MMDB_strerror(rc));
        return ZOLL_GEO_ERROR;
    }

    if (!res.found_entry) {
        return ZOLL_GEO_NOT_FOUND;
    }

    gai = MMDB_get_value(&res.entry, &data, "country", "iso_code", NULL);

    if (gai == MMDB_LOOKUP_PATH_DOES_NOT_MATCH_DATA_ERROR
        || (gai == MMDB_SUCCESS && !data.has_data))
    {
        return ZOLL_GEO_NOT_FOUND;
    }

    if (gai != MMDB_SUCCESS || data.type != MMDB_DATA_TYPE_UTF8_STRING
        || data.data_size != 2)
    {
        snprintf(err, errlen, "GeoIP database \"%s\": country.iso_code is "
                 "not a two-letter code (%s)", g->path,
                 gai != MMDB_SUCCESS ? MMDB_strerror(gai) : "bad value");
        return ZOLL_GEO_ERROR;
    }

    cc[0] = data.utf8_string[0];
    cc[1] = data.utf8_string[1];
    cc[2] = '\0';

    if (!zoll_is_country(cc)) {
        snprintf(err, errlen, "GeoIP database \"%s\": country.iso_code is "
                 "not a two-letter code", g->path);
        cc[0] = '\0';
        return ZOLL_GEO_ERROR;
    }

    return ZOLL_GEO_FOUND;
}


zoll_area_e
zoll_policy_area(const zoll_policy_t *p, const char *cc)
{
    size_t  i;

    if (cc == NULL || cc[0] == '\0') {
        return ZOLL_AREA_UNKNOWN;
    }

    if (zoll_policy_is_eea(p, cc)) {
        return ZOLL_AREA_EEA;
    }

    /* an adequacy decision counts while its legal basis stands */
    for (i = 0; i < p->nadequacy; i++) {
        if (strcmp(p->adequacy[i].country, cc) == 0
            && !p->adequacy[i].basis->suspended)
        {
            return ZOLL_AREA_ADEQUACY;
        }
    }

    return ZOLL_AREA_OTHER;
}


void
zoll_subject_locate(const zoll_policy_t *p, const zoll_geoip_t *g,
    int family, const unsigned char *addr, zoll_subject_t *s, char *err,
    size_t errlen)
{
    memset(s, 0, sizeof(zoll_subject_t));
    s->area = ZOLL_AREA_UNKNOWN;
    s->asserted_area = ZOLL_AREA_UNKNOWN;

    if (g == NULL || (family != 4 && family != 6)) {
        s->lookup = g ? ZOLL_GEO_NOT_FOUND : ZOLL_GEO_OFF;
        return;
    }

    s->lookup = zoll_geoip_country(g, family, addr, s->country, err, errlen);

    if (s->lookup == ZOLL_GEO_FOUND) {
        s->area = zoll_policy_area(p, s->country);
    }
}


/* "de" or "DE" as "DE"; -1 if it is no two-letter code */

static int
zoll_country_code(const char *value, size_t len, char cc[3])
{
    if (len != 2) {
        return -1;
    }

    cc[0] = value[0] & ~0x20;
    cc[1] = value[1] & ~0x20;
    cc[2] = '\0';

    return zoll_is_country(cc) ? 0 : -1;
}


int
zoll_subject_in(const zoll_policy_t *p, zoll_subject_t *s,
    const char *country)
{
    char  cc[3];

    memset(s, 0, sizeof(zoll_subject_t));
    s->asserted_area = ZOLL_AREA_UNKNOWN;

    if (zoll_country_code(country, strlen(country), cc) != 0) {
        s->area = ZOLL_AREA_UNKNOWN;
        return -1;
    }

    s->lookup = ZOLL_GEO_GIVEN;
    memcpy(s->country, cc, 3);
    s->area = zoll_policy_area(p, cc);

    return 0;
}


int
zoll_subject_assert(const zoll_policy_t *p, zoll_subject_t *s,
    const char *value, size_t len)
{
    char  cc[3];

    if (zoll_country_code(value, len, cc) != 0) {
        return -1;
    }

    memcpy(s->asserted, cc, 3);
    s->asserted_area = zoll_policy_area(p, cc);

    return 0;
}
