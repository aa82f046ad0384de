/*
 * Unit tests of libzoll, the policy engine.  One binary runs every group;
 * it exits non-zero if any test failed.
 *
 *   build/test_engine                       from the repository root
 *   ZOLL_TEST_DATA=/path/to/tests/unit/data build/test_engine
 *   ZOLL_TEST_GEOIP=/path/to/test.mmdb build/test_engine
 */

#include "zt.h"


int
main(void)
{
    int  failed = 0;

    failed += zt_policy_tests();
    failed += zt_route_tests();
    failed += zt_record_tests();
    failed += zt_validate_tests();
    failed += zt_rules_tests();
    failed += zt_hs_cache_tests();
    failed += zt_redact_tests();
    failed += zt_chain_tests();
    failed += zt_geoip_tests();
    failed += zt_restore_tests();

    return failed ? 1 : 0;
}
