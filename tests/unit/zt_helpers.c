/*
 * Helpers shared by the unit tests: fixture paths, editing the base policy
 * and reading back JSON output.
 */

#include "zt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>


const char *
zt_data(const char *name)
{
    static char  path[ZT_PATH_LEN];
    const char  *dir;

    dir = getenv("ZOLL_TEST_DATA");
    if (dir == NULL || dir[0] == '\0') {
        dir = "tests/unit/data";
    }

    snprintf(path, sizeof(path), "%s%s%s", dir, name[0] ? "/" : "", name);
    return path;
}


zoll_policy_t *
zt_load_base(void)
{
    char            err[ZOLL_ERR_LEN];
    zoll_policy_t  *p;

    p = zoll_policy_load(zt_data("policy.json"), err, sizeof(err));
    if (p == NULL) {
        fail_msg("%s", err);
    }

    return p;
}


int
zt_setup_base(void **state)
{
    *state = zt_load_base();
    return *state ? 0 : -1;
}


int
zt_teardown_policy(void **state)
{
    zoll_policy_free(*state);
    return 0;
}


json_t *
zt_base(void)
{
    json_t        *root;
    json_error_t   jerr;

    root = json_load_file(zt_data("policy.json"), JSON_REJECT_DUPLICATES,
                          &jerr);
    if (root == NULL) {
        fail_msg("%s: %s", zt_data("policy.json"), jerr.text);
    }

    return root;
}


/* One step of a path: ".name" (or "name" at the start) or "[index]".
 * Returns the rest of the path, or NULL on a malformed path. */

static const char *
zt_step(const char *p, char *name, size_t *index, int *is_index)
{
    char    *end;
    size_t   n;

    if (*p == '[') {
        *is_index = 1;
        *index = strtoul(p + 1, &end, 10);
        return *end == ']' ? end + 1 : NULL;
    }

    if (*p == '.') {
        p++;
    }

    n = strcspn(p, ".[");
    if (n == 0 || n >= 128) {
        return NULL;
    }

    *is_index = 0;
    memcpy(name, p, n);
    name[n] = '\0';
    return p + n;
}


json_t *
zt_get(json_t *root, const char *path)
{
    int      is_index;
    char     name[128];
    size_t   index;
    json_t  *cur = root;

    while (cur && *path) {
        path = zt_step(path, name, &index, &is_index);
        if (path == NULL) {
            return NULL;
        }

        cur = is_index ? json_array_get(cur, index)
                       : json_object_get(cur, name);
    }

    return cur;
}


const char *
zt_str(json_t *root, const char *path)
{
    return json_string_value(zt_get(root, path));
}


void
zt_set(json_t *root, const char *path, const char *value)
{
    int           is_index = 0;
    char          name[128], parent[256];
    size_t        index = 0;
    json_t       *v = NULL, *cur;
    const char   *p, *last = path, *rest;
    json_error_t  jerr;

    /* the last step names what changes; the steps before it, its parent */
    for (p = path; *p; p = rest) {
        last = p;
        rest = zt_step(p, name, &index, &is_index);
        if (rest == NULL) {
            fail_msg("bad path \"%s\"", path);
            return;
        }
    }

    snprintf(parent, sizeof(parent), "%.*s", (int) (last - path), path);
    cur = zt_get(root, parent);

    if (cur == NULL) {
        fail_msg("no \"%s\" in the policy", parent);
        return;
    }

    if (value) {
        v = json_loads(value, JSON_DECODE_ANY, &jerr);
        if (v == NULL) {
            fail_msg("bad JSON value %s: %s", value, jerr.text);
            return;
        }
    }

    if (!is_index) {
        assert_true(json_is_object(cur));
        assert_int_equal(v ? json_object_set_new(cur, name, v)
                           : json_object_del(cur, name), 0);
        return;
    }

    assert_true(json_is_array(cur));

    if (v == NULL) {
        assert_int_equal(json_array_remove(cur, index), 0);

    } else if (index == json_array_size(cur)) {
        assert_int_equal(json_array_append_new(cur, v), 0);

    } else {
        assert_int_equal(json_array_set_new(cur, index, v), 0);
    }
}


zoll_policy_t *
zt_parse(json_t *root, char err[ZOLL_ERR_LEN])
{
    char           *text, dir[ZT_PATH_LEN];
    zoll_policy_t  *p;

    text = json_dumps(root, JSON_INDENT(1));
    json_decref(root);
    assert_non_null(text);

    snprintf(dir, sizeof(dir), "%s", zt_data(""));
    err[0] = '\0';
    p = zoll_policy_parse(text, strlen(text), dir, err, ZOLL_ERR_LEN);

    free(text);
    return p;
}


void
zt_expect_error(json_t *root, const char *want)
{
    char            err[ZOLL_ERR_LEN];
    zoll_policy_t  *p;

    p = zt_parse(root, err);

    if (p != NULL) {
        zoll_policy_free(p);
        fail_msg("policy loaded; expected \"%s\"", want);
    }

    assert_string_equal(err, want);
}


zoll_policy_t *
zt_base_with(const char *path, const char *value)
{
    char            err[ZOLL_ERR_LEN];
    json_t         *root;
    zoll_policy_t  *p;

    root = zt_base();
    zt_set(root, path, value);
    p = zt_parse(root, err);

    if (p == NULL) {
        fail_msg("%s", err);
    }

    return p;
}


void
zt_base_error(const char *path, const char *value, const char *want)
{
    json_t  *root;

    root = zt_base();
    zt_set(root, path, value);
    zt_expect_error(root, want);
}


json_t *
zt_json_line(const char *buf, size_t len)
{
    json_t        *root;
    json_error_t   jerr;

    assert_int_equal(strlen(buf), len);
    assert_true(len > 0 && buf[len - 1] == '\n');

    /* exactly one line: any newline inside a value must be escaped */
    assert_ptr_equal(strchr(buf, '\n'), buf + len - 1);

    /* a client may send a NUL byte, which the record escapes as \u0000 */
    root = json_loadb(buf, len, JSON_ALLOW_NUL | JSON_REJECT_DUPLICATES,
                      &jerr);
    if (root == NULL) {
        fail_msg("not JSON (%s): %s", jerr.text, buf);
    }

    assert_true(json_is_object(root));
    return root;
}


const zoll_tenant_t *
zt_tenant(const zoll_policy_t *p, const char *id)
{
    const zoll_tenant_t  *t;

    t = zoll_policy_tenant_by_id(p, id);
    if (t == NULL) {
        fail_msg("no tenant \"%s\"", id);
    }

    return t;
}


const zoll_subprocessor_t *
zt_sp(const zoll_policy_t *p, const char *id)
{
    const zoll_subprocessor_t  *sp;

    sp = zoll_policy_subprocessor(p, id);
    if (sp == NULL) {
        fail_msg("no subprocessor \"%s\"", id);
    }

    return sp;
}
