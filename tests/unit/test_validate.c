/*
 * The validators of the PII detectors: published valid numbers pass,
 * look-alikes (a flipped digit, a wrong length, a foreign country, a
 * separator the format does not use) fail.
 *
 * Where a standard or an authority publishes examples they are used and
 * named; the remaining valid values are synthetic (built to satisfy the
 * check digit) so that no real person's number ends up in the tests.
 */

#include "zt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zoll_validate.h"


/* Runs the validator on a heap copy of exactly strlen(s) bytes (no NUL),
 * so a read past the end is visible to valgrind and ASan. */

static int
zt_run(zoll_validator_pt v, const char *s, size_t len)
{
    int             rc;
    unsigned char  *copy;

    copy = malloc(len ? len : 1);
    assert_non_null(copy);
    memcpy(copy, s, len);

    rc = v(copy, len);

    free(copy);
    return rc;
}


/* every string of the NULL-terminated list must give want */

static void
zt_check(const char *name, const char *const *list, int want)
{
    int                 rc;
    size_t              i;
    zoll_validator_pt   v;

    v = zoll_validator(name);
    assert_non_null(v);

    for (i = 0; list[i] != NULL; i++) {
        rc = zt_run(v, list[i], strlen(list[i]));

        if (rc != want) {
            fail_msg("%s(\"%s\") = %d, expected %d", name, list[i], rc,
                     want);
        }
    }
}


/* Every single-digit substitution in a valid value must be refused: each
 * check digit scheme here detects all of them (and a changed birth date
 * digit that the RVNR sum would miss makes the date impossible). */

static void
zt_check_substitutions(const char *name, const char *const *list)
{
    int                 rc;
    char                buf[64];
    size_t              i, k, len;
    zoll_validator_pt   v;
    char                d;

    v = zoll_validator(name);
    assert_non_null(v);

    for (i = 0; list[i] != NULL; i++) {
        len = strlen(list[i]);
        assert_true(len < sizeof(buf));

        for (k = 0; k < len; k++) {
            if (list[i][k] < '0' || list[i][k] > '9') {
                continue;
            }

            for (d = '0'; d <= '9'; d++) {
                if (d == list[i][k]) {
                    continue;
                }

                memcpy(buf, list[i], len + 1);
                buf[k] = d;

                rc = zt_run(v, buf, len);

                if (rc != 0) {
                    fail_msg("%s(\"%s\") accepted, a substitution in "
                             "\"%s\"", name, buf, list[i]);
                }
            }
        }
    }
}


/* IBAN: the examples of the SWIFT IBAN registry */

static const char *const zt_iban_valid[] = {
    "DE89 3704 0044 0532 0130 00",
    "GB82 WEST 1234 5698 7654 32",
    "FR14 2004 1010 0505 0001 3M02 606",
    "NL91 ABNA 0417 1643 00",
    "AT61 1904 3002 3457 3201",
    "CH93 0076 2011 6238 5295 7",
    "BE68 5390 0754 7034",
    "ES91 2100 0418 4502 0005 1332",
    "IT60 X054 2811 1010 0000 0123 456",
    "PL61 1090 1014 0000 0712 1981 2874",
    "NO93 8601 1117 947",                         /* shortest: 15 */
    "MT84 MALT 0110 0001 2345 MTLC AST0 01S",     /* longest: 31 */
    "SE45 5000 0000 0583 9825 7466",
    "IE29 AIBK 9311 5212 3456 78",
    "LU28 0019 4006 4475 0000",
    "PT50 0002 0123 1234 5678 9015 4",
    "FI21 1234 5600 0007 85",
    "DK50 0040 0440 1162 43",
    "GI75 NWBK 0000 0000 7099 453",
    "CZ65 0800 0000 1920 0014 5399",
    "HU42 1177 3016 1111 1018 0000 0000",
    "SI56 2633 0001 2039 086",
    "SK31 1200 0000 1987 4263 7541",
    "LI21 0881 0000 2324 013A A",
    "IS14 0159 2600 7654 5510 7303 39",
    "SM86 U032 2509 8000 0000 0270 100",
    "MC58 1122 2000 0101 2345 6789 030",
    "AD12 0001 2030 2003 5910 0100",
    "VA59 0011 2300 0012 3456 78",
    "BG80 BNBG 9661 1020 3456 78",
    "HR12 1001 0051 8630 0016 0",
    "CY17 0020 0128 0000 0012 0052 7600",
    "EE38 2200 2210 2014 5685",
    "GR16 0110 1250 0000 0001 2300 695",
    "LT12 1000 0111 0100 1000",
    "LV80 BANK 0000 4351 9500 1",
    "RO49 AAAA 1B31 0075 9384 0000",
    /* electronic form, lower case, odd spacing */
    "DE89370400440532013000",
    "gb82 west 1234 5698 7654 32",
    "DE89  3704 0044 05320130 00",
    /* synthetic: check digits 02, the smallest the computation yields */
    "DE02 3704 0044 0000 0000 24",
    NULL
};

static const char *const zt_iban_invalid[] = {
    "DE89 3704 0044 0532 0130 01",                /* flipped digit */
    "DE98 3704 0044 0532 0130 00",                /* swapped check */
    "GB82 WEST 1234 5698 7654 33",
    "FR14 2004 1010 0505 0001 3M02 607",
    "IT60 X054 2811 1010 0000 0123 455",
    "DE89 3704 0044 0532 0130 0",                 /* too short */
    "DE89 3704 0044 0532 0130 000",               /* too long */
    "AT61 1904 3002 3457 3201 0",
    "TR33 0006 1005 1978 6457 8413 26",           /* valid, not SEPA */
    "XX89 3704 0044 0532 0130 00",
    "DE99 3704 0044 0000 0000 24",                /* 99 = 02 mod 97 */
    "DEAB 3704 0044 0532 0130 00",
    "DE89-3704-0044-0532-0130-00",                /* only spaces */
    "DE89.3704.0044.0532.0130.00",
    "DE89\t3704 0044 0532 0130 00",
    "DE89 3704 0044 0532 0130 0\xc3\xa4",
    "DE89 3704 0044 0532 0130 0_",
    "DE",
    "89",
    "",
    "    ",
    NULL
};


static void
test_iban(void **state)
{
    (void) state;

    zt_check("iban", zt_iban_valid, 1);
    zt_check("iban", zt_iban_invalid, 0);
}


/* Payment cards: the test numbers published by the card schemes and
 * payment processors (PayPal/Braintree, Stripe, Adyen) */

static const char *const zt_card_valid[] = {
    "4111 1111 1111 1111",                        /* Visa */
    "4111-1111-1111-1111",
    "4111111111111111",
    "4012888888881881",
    "4222222222222",                              /* Visa, 13 digits */
    "5555 5555 5555 4444",                        /* Mastercard */
    "5105105105105100",
    "2223 0031 2200 3222",                        /* Mastercard 2-series */
    "3782 822463 10005",                          /* American Express */
    "371449635398431",
    "6011 1111 1111 1117",                        /* Discover */
    "6011000990139424",
    "3530111333300000",                           /* JCB */
    "30569309025904",                             /* Diners Club */
    "38520000023237",
    "6200000000000005",                           /* UnionPay */
    "6759649826438453",                           /* Maestro (lists) */
    "500000000009",                               /* Maestro, 12 (synth.) */
    "4000000000000000006",                        /* Visa, 19 (synthetic) */
    NULL
};

static const char *const zt_card_invalid[] = {
    "4111 1111 1111 1112",                        /* Luhn */
    "5555 5555 5555 4445",
    "3782 822463 10006",
    "40000000000002",                             /* Luhn ok; Visa, 14 */
    "3700000000000007",                           /* Luhn ok; Amex, 16 */
    "51000000000000003",                          /* Luhn ok; MC, 17 */
    "9000000000000001",                           /* Luhn ok; no issuer */
    "1234567812345670",
    "0000000000000000",
    "4111 1111 1111 111",                         /* 15 digits */
    "41111111111",                                /* 11 digits */
    "41111111111111111111",                       /* 20 digits */
    "4111_1111_1111_1111",
    "4111.1111.1111.1111",
    "4111/1111/1111/1111",
    "4111 1111 1111 111a",
    "",
    " - - ",
    NULL
};


static void
test_credit_card(void **state)
{
    (void) state;

    zt_check("credit_card", zt_card_valid, 1);
    zt_check("credit_card", zt_card_invalid, 0);
}


/* Steuerliche Identifikationsnummer; 36574261809 is python-stdnum's
 * example, 12131456787 and 11234567890 are synthetic */

static const char *const zt_tax_valid[] = {
    "86095742719",
    "47036892816",
    "65929970489",                                /* 9 three times */
    "57549285017",
    "25768131411",
    "36574261809",
    "36 574 261 809",
    "12131456787",
    "11234567890",                                /* a pair side by side */
    NULL
};

static const char *const zt_tax_invalid[] = {
    "86095742718",                                /* check digit */
    "47036892817",
    "36574261890",
    "01234567888",                                /* leading zero */
    "12345678903",                                /* no digit repeated */
    "36554266806",                                /* two repeated */
    "11223456785",
    "11123456786",                                /* three in a row */
    "11112345678",                                /* four times */
    "8609574271",                                 /* 10 digits */
    "860957427190",                               /* 12 digits */
    "86/095/742/719",                             /* only spaces */
    "86-095-742-719",
    "8609574271a",
    "",
    NULL
};


static void
test_de_tax_id(void **state)
{
    (void) state;

    zt_check("de_tax_id", zt_tax_valid, 1);
    zt_check("de_tax_id", zt_tax_invalid, 0);
}


/* Rentenversicherungsnummer (section 2 VKVV).  10010490A443 is the
 * worked example of kryptografie.de's check digit page.  65170839J003 and
 * 15070649C103 are examples in circulation whose origin is unconfirmed;
 * both check by hand with section 2 (6) VKVV.  The DRV glossary (quoted
 * by kbs.de) prints "65 170839 J 08 8", but section 2 (6) gives 1 as its
 * check digit, so it is an illustration, not a number (invalid list).
 * Day + 32/64/96 values are synthetic. */

static const char *const zt_rvnr_valid[] = {
    "65170839J003",
    "15070649C103",
    "10010490A443",
    "65 170839 J 003",
    "65330139J008",                               /* day 1 + 32 */
    "65650139J006",                               /* day 1 + 64 */
    "65970139J003",                               /* day 1 + 96 */
    NULL
};

static const char *const zt_rvnr_invalid[] = {
    "65170839J004",                               /* check digit */
    "65170839J088",
    "15070649C104",
    "65170839K003",                               /* other letter */
    "65170839j003",                               /* lower case */
    "651708390003",                               /* no letter */
    "65320839J000",                               /* day 32 */
    "65960839J005",                               /* day 96 */
    "65980139J009",                               /* day 98 */
    "65000839J00",
    "65171339J005",                               /* month 13 */
    "65170839J00",                                /* 11 characters */
    "65170839J0030",
    "65-170839-J-003",
    "",
    NULL
};


static void
test_de_rvnr(void **state)
{
    (void) state;

    zt_check("de_rvnr", zt_rvnr_valid, 1);
    zt_check("de_rvnr", zt_rvnr_invalid, 0);
}


/* Krankenversichertennummer: A123456780 is the usual documentation
 * example; C345678908 and D456789013 are gematik's VSDM test insurants
 * (gematik/spec-VSDM2) */

static const char *const zt_kvnr_valid[] = {
    "A123456780",
    "C345678908",
    "D456789013",
    NULL
};

static const char *const zt_kvnr_invalid[] = {
    "A123456781",                                 /* check digit */
    "A123456708",                                 /* swapped */
    "B123456780",                                 /* other letter */
    "a123456780",                                 /* lower case */
    "0123456780",
    "AA23456780",
    "A12345678",                                  /* short */
    "A1234567800",                                /* long */
    "A 123456780",
    "A12345678\xc3\xa4",
    "",
    NULL
};


static void
test_de_kvnr(void **state)
{
    (void) state;

    zt_check("de_kvnr", zt_kvnr_valid, 1);
    zt_check("de_kvnr", zt_kvnr_invalid, 0);
}


/* ICAO 9303 check digit of German document numbers: the specimen
 * identity card (T220001293) and passport (C01X00T478) of the BMI */

static const char *const zt_icao_valid[] = {
    "T220001293",
    "C01X00T478",
    "1234567897",                                 /* synthetic, digits */
    NULL
};

static const char *const zt_icao_invalid[] = {
    "T220001294",                                 /* check digit */
    "C01X00T477",
    "T220001239",
    "t220001293",                                 /* lower case */
    "A220001290",                                 /* A: not German */
    "E220001290",
    "T22000129",                                  /* short */
    "T2200012930",                                /* long */
    "T22000129X",                                 /* letter check digit */
    "T22000 1293",
    "",
    NULL
};


static void
test_icao_check(void **state)
{
    (void) state;

    zt_check("icao_check", zt_icao_valid, 1);
    zt_check("icao_check", zt_icao_invalid, 0);
}


/* USt-IdNr.: DE136695976 is python-stdnum's example */

static const char *const zt_vat_valid[] = {
    "DE136695976",
    "DE129273398",
    "DE 136 695 976",
    "DE136695 976",
    NULL
};

static const char *const zt_vat_invalid[] = {
    "DE136695977",                                /* check digit */
    "DE129273399",
    "DE036695975",                                /* leading zero */
    "de136695976",
    "AT136695976",
    "136695976",                                  /* no prefix */
    "DE13669597",                                 /* 8 digits */
    "DE1366959760",                               /* 10 digits */
    "DE136-695-976",
    "D E136695976",
    "DE",
    "D",
    "",
    NULL
};


static void
test_de_vat_id(void **state)
{
    (void) state;

    zt_check("de_vat_id", zt_vat_valid, 1);
    zt_check("de_vat_id", zt_vat_invalid, 0);
}


/* IP addresses: documentation ranges (RFC 5737, RFC 3849) */

static const char *const zt_ipv4_valid[] = {
    "192.0.2.1",
    "198.51.100.254",
    "203.0.113.0",
    "0.0.0.0",
    "255.255.255.255",
    "10.0.0.10",
    NULL
};

static const char *const zt_ipv4_invalid[] = {
    "256.1.1.1",
    "1.2.3.300",
    "01.2.3.4",                                   /* leading zero */
    "1.2.3.00",
    "1.2.3",
    "1.2.3.4.5",
    "1..2.3",
    "1.2.3.",
    ".1.2.3",
    "1234.1.1.1",
    " 1.2.3.4",
    "1.2.3.4 ",
    "1.2.3.-4",
    "a.b.c.d",
    "1.2.3.4/24",
    "",
    NULL
};

static const char *const zt_ipv6_valid[] = {
    "2001:db8::1",
    "2001:0db8:0000:0000:0000:ff00:0042:8329",
    "2001:DB8:0:0:8:800:200C:417A",
    "::1",
    "fe80::",
    "1::",
    "::ffff:192.0.2.1",
    "64:ff9b::192.0.2.33",
    "1:2:3:4:5:6:192.0.2.1",
    "1:2:3:4:5:6:7::",
    "::2:3:4:5:6:7:8",
    NULL
};

static const char *const zt_ipv6_invalid[] = {
    "12:30:45",                                   /* a time */
    "00:1a:2b:3c:4d:5e",                          /* a MAC address */
    "::",
    ":::",
    "1:2:3:4:5:6:7:8:9",
    "1:2:3:4:5:6:7",
    "1:2:3:4:5:6:7:8::",
    "2001:db8::1::1",
    "2001:db8:::1",
    "fe80::1%eth0",                               /* zone id */
    "12345::1",
    ":1:2:3:4:5:6:7",
    "1:2:3:4:5:6:7:",
    "::ffff:192.0.2.256",
    "::ffff:192.0.2",
    "::ffff:1.2.3.4:5",
    "1:2:3:4:5:6:7:1.2.3.4",
    "g::1",
    "2001:db8::1 ",
    "",
    NULL
};


static void
test_ip(void **state)
{
    (void) state;

    zt_check("ipv4", zt_ipv4_valid, 1);
    zt_check("ipv4", zt_ipv4_invalid, 0);
    zt_check("ipv6", zt_ipv6_valid, 1);
    zt_check("ipv6", zt_ipv6_invalid, 0);
}


/* Telephone numbers: Ofcom's drama range 020 7946 0xxx, the US 555-01xx
 * fiction range, otherwise made-up subscriber numbers */

static const char *const zt_phone_valid[] = {
    "+49 30 1234567",
    "+49 (0)30 1234567",
    "+49(0)30-123456-78",
    "0049 30 12345678",
    "030 1234567",
    "(030) 123 45 67",
    "0171/1234567",
    "030-123456",
    "089.123.456",
    "+44 20 7946 0958",
    "+1 202-555-0143",
    "+352 123456",
    NULL
};

static const char *const zt_phone_invalid[] = {
    "+49 (0)30 (123) 4567",                       /* two pairs */
    "(030 1234567",                               /* unbalanced */
    "030) 1234567",
    "()030 1234567",
    "1234567",                                    /* no trunk prefix */
    "0030",
    "00301234",
    "030 12",                                     /* 5 digits */
    "030 1234 5678 9012",                         /* 15 digits */
    "+49 30 1234 5678 9012",                      /* 16 digits */
    "+0 123 456 789",                             /* no country code 0 */
    "+49 30",
    "0000000000",
    "+1111111111",                                /* all the same */
    "030 123a567",
    "+49+30 1234567",
    "49 30 1234567+",
    "030_1234567",
    "",
    NULL
};


static void
test_phone(void **state)
{
    (void) state;

    zt_check("phone", zt_phone_valid, 1);
    zt_check("phone", zt_phone_invalid, 0);
}


/* E.164 numbers as bare digits: the same drama and fiction ranges with
 * their country codes, as a JSON number would carry them */

static const char *const zt_e164_valid[] = {
    "441632960961",                                /* +44 1632 960961 */
    "12025550143",                                 /* +1 202-555-0143 */
    "4930123456",
    "4915123456789",
    "352123456",
    "861012345678901",                             /* 15 digits */
    NULL
};

static const char *const zt_e164_invalid[] = {
    "1234567",                                     /* 7 digits */
    "4915123456789012",                            /* 16 digits */
    "04930123456",                                 /* no country code 0 */
    "11111111",                                    /* all the same */
    "+4930123456",                                 /* digits only */
    "49 30 123456",
    "4930123456.5",
    "",
    NULL
};


static void
test_e164_digits(void **state)
{
    (void) state;

    zt_check("e164_digits", zt_e164_valid, 1);
    zt_check("e164_digits", zt_e164_invalid, 0);
}


/* US SSNs: structurally valid, synthetic */

static const char *const zt_ssn_valid[] = {
    "123-45-6789",
    "123 45 6789",
    "123456789",
    "001-01-0001",
    "665-99-9999",
    "899-01-0001",
    NULL
};

static const char *const zt_ssn_invalid[] = {
    "000-12-3456",                                /* area 000 */
    "666-12-3456",                                /* area 666 */
    "900-12-3456",                                /* area 9xx */
    "999-99-9999",
    "123-00-4567",                                /* group 00 */
    "123-45-0000",                                /* serial 0000 */
    "078-05-1120",                                /* Woolworth */
    "078051120",
    "219-09-9999",                                /* SSA advertisement */
    "123-45 6789",                                /* mixed */
    "123-456-789",
    "12-345-6789",
    "123-45-678a",
    "1234567890",
    "12345678",
    "",
    NULL
};


static void
test_us_ssn(void **state)
{
    (void) state;

    zt_check("us_ssn", zt_ssn_valid, 1);
    zt_check("us_ssn", zt_ssn_invalid, 0);
}


static const char *const zt_date_valid[] = {
    "03.03.1985",
    "3.3.1985",
    "03.03.85",
    "29.02.2000",                                 /* leap, 400 */
    "29.02.2024",
    "29.02.24",
    "31.12.1900",
    "01.01.2030",
    "1985-03-03",
    "2024-02-29",
    "03/12/1985",
    "31/12/1999",                                 /* day first */
    "12/31/1999",                                 /* month first */
    "3. M\xc3\xa4rz 1985",
    "3. Maerz 1985",
    "3.M\xc3\xa4rz 1985",
    "03. Januar 1990",
    "1. Jan. 2000",
    "1. Jan 2000",
    "24. Dez. 1999",
    "15. Mai 1970",
    "2. J\xc3\xa4nner 1980",
    "3 M\xc3\x84RZ 1985",
    "March 3, 1985",
    "March 3 1985",
    "3 March 1985",
    "Mar 3, 1985",
    "Mar. 3, 1985",
    "3rd March 1985",
    "1st May 2001",
    "22nd June 1990",
    "11th November 1918",
    "September 21st, 1999",
    "Sept. 9, 1999",
    NULL
};

static const char *const zt_date_invalid[] = {
    "29.02.1900",                                 /* not leap, 100 */
    "29.02.2023",
    "29.02.23",
    "31.04.2020",
    "32.01.2020",
    "00.01.2020",
    "01.00.2020",
    "01.13.2020",
    "01.01.1899",                                 /* year range */
    "01.01.2031",
    "01.01.985",
    "01.01.19850",
    "001.01.1985",
    "03-03-1985",                                 /* only ISO order */
    "1985-3-3",
    "1985/03/03",
    "03.03/1985",
    "13/13/2000",
    "03/03/85",
    "3.3.",
    "31. Februar 2000",
    "3. Marz 1985",
    "3 Marchy 1985",
    "3rd Mar 19",
    "3st March 1985",                             /* wrong suffix */
    "3March 1985",
    "March 3,1985x",
    "March, 1985",
    "Sept 31, 1999",
    "Mai. 3 1985",                                /* not abbreviated */
    "3. M\xc3\xa4rz",
    "",
    ".",
    NULL
};


static void
test_date(void **state)
{
    (void) state;

    zt_check("date", zt_date_valid, 1);
    zt_check("date", zt_date_invalid, 0);
}


/* E-mail: RFC 2606 example domains */

static const char *const zt_email_valid[] = {
    "user@example.com",
    "first.last@sub.example.co.uk",
    "a@b.de",
    "x+tag@example.org",
    "o'brien@example.ie",
    "{}!#$%&*/=?^_`|~-@example.net",
    "user@xn--mller-kva.example",
    "user@example.xn--p1ai",
    "user@a-b.example.com",
    "1234567890123456789012345678901234567890123456789012345678901234"
        "@example.com",                           /* 64 */
    NULL
};

static const char *const zt_email_invalid[] = {
    ".a@example.com",
    "a.@example.com",
    "a..b@example.com",
    "a@example",                                  /* one label */
    "a@-example.com",
    "a@example-.com",
    "a@example.c",
    "a@example.c0m",
    "a@example.xn--",
    "a@example..com",
    "a@.example.com",
    "a@example.com.",
    "a@exa_mple.com",
    "@example.com",
    "a@",
    "a@@example.com",
    "a@b@example.com",
    "a b@example.com",
    "a\"b@example.com",
    "m\xc3\xbcller@example.com",
    "example.com",
    "12345678901234567890123456789012345678901234567890123456789012345"
        "@example.com",                           /* 65 */
    "a@1234567890123456789012345678901234567890123456789012345678901234"
        ".com",                                   /* label of 64 */
    "",
    NULL
};


static void
test_email(void **state)
{
    char                *s;
    size_t               len;
    zoll_validator_pt    v;

    (void) state;

    zt_check("email", zt_email_valid, 1);
    zt_check("email", zt_email_invalid, 0);

    /* the domain may have 253 characters, not 254: three labels of 63
     * "b"s, then 58 or 59 and a last label "bb" */
    v = zoll_validator("email");
    s = malloc(2 + 254);
    assert_non_null(s);

    memcpy(s, "a@", 2);
    memset(s + 2, 'b', 254);
    s[2 + 63] = '.';
    s[2 + 127] = '.';
    s[2 + 191] = '.';
    s[2 + 250] = '.';           /* 253 in all */

    len = 2 + 253;
    assert_int_equal(v((unsigned char *) s, len), 1);

    s[2 + 250] = 'b';
    s[2 + 251] = '.';           /* 254 in all */
    len = 2 + 254;
    assert_int_equal(v((unsigned char *) s, len), 0);

    free(s);
}


/* Secrets: AWS's documented example credentials */

static const char *const zt_secret_valid[] = {
    "AKIAIOSFODNN7EXAMPLE",
    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "sk-proj-abc123DEF456ghi789JKL",
    "ghp_0123456789abcdefghijklmnopqrstuvwxyz",
    "xoxb-1234-5678-abcdefghijkl",
    "-----BEGIN RSA PRIVATE KEY-----",
    "-----BEGIN",
    "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAA=\n",
    "0123456789abcdeg",                           /* 16, not hex */
    NULL
};

static const char *const zt_secret_invalid[] = {
    "da39a3ee5e6b4b0d3255bfef95601890afd80709",   /* SHA-1 */
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "DA39A3EE5E6B4B0D3255BFEF95601890AFD80709",
    "123e4567-e89b-12d3-a456-426614174000",       /* UUID */
    "123E4567-E89B-12D3-A456-426614174000",
    "abcdefghijklmnopqrstuvwxyz",                 /* no digit */
    "1234567890123456789",                        /* no letter */
    "----------------------",
    "abc123def456ghi",                            /* 15 */
    "-----BEGI",
    "",
    NULL
};


static void
test_secret(void **state)
{
    (void) state;

    zt_check("secret", zt_secret_valid, 1);
    zt_check("secret", zt_secret_invalid, 0);
}


/* single-digit errors in the published values of the check digit
 * validators */

static void
test_substitutions(void **state)
{
    static const char *const  kvnr[] = { "A123456780", "C345678908",
                                         "D456789013", NULL };
    static const char *const  icao[] = { "T220001293", "C01X00T478",
                                         NULL };
    static const char *const  vat[] = { "DE136695976", "DE129273398",
                                        NULL };

    (void) state;

    zt_check_substitutions("iban", zt_iban_valid);
    zt_check_substitutions("credit_card", zt_card_valid);
    zt_check_substitutions("de_tax_id", zt_tax_valid);
    zt_check_substitutions("de_rvnr", zt_rvnr_valid);
    zt_check_substitutions("de_kvnr", kvnr);
    zt_check_substitutions("icao_check", icao);
    zt_check_substitutions("de_vat_id", vat);
}


static const char *const zt_names[] = {
    "iban", "credit_card", "de_tax_id", "de_rvnr", "de_kvnr", "icao_check",
    "de_vat_id", "ipv4", "ipv6", "phone", "e164_digits", "us_ssn", "date",
    "email", "secret", NULL
};


static void
test_lookup(void **state)
{
    size_t  i, k;

    (void) state;

    for (i = 0; zt_names[i] != NULL; i++) {
        if (zoll_validator(zt_names[i]) == NULL) {
            fail_msg("no validator \"%s\"", zt_names[i]);
        }

        /* distinct names, distinct functions */
        for (k = 0; k < i; k++) {
            assert_ptr_not_equal(zoll_validator(zt_names[i]),
                                 zoll_validator(zt_names[k]));
        }
    }

    assert_ptr_equal(zoll_validator("iban"), zoll_valid_iban);
    assert_ptr_equal(zoll_validator("secret"), zoll_valid_secret);

    assert_null(zoll_validator("nope"));
    assert_null(zoll_validator(""));
    assert_null(zoll_validator("IBAN"));
    assert_null(zoll_validator("iban "));
    assert_null(zoll_validator(NULL));
}


/* Empty input, every single byte, every prefix of every valid example and
 * pseudo-random bytes: no crash, no read outside the input (under
 * valgrind or ASan), and always 0 or 1. */

static void
test_garbage(void **state)
{
    static const char *const *const  lists[] = {
        zt_iban_valid, zt_card_valid, zt_tax_valid, zt_rvnr_valid,
        zt_kvnr_valid, zt_icao_valid, zt_vat_valid, zt_ipv4_valid,
        zt_ipv6_valid, zt_phone_valid, zt_e164_valid, zt_ssn_valid,
        zt_date_valid, zt_email_valid, zt_secret_valid, NULL
    };
    static const char                alphabet[] = "0123456789 -./:()+@,"
                                                  "ADEFJTXaefz\xc3\xa4\x80";
    int                              rc;
    char                             buf[80];
    size_t                           i, k, n, len, l;
    uint32_t                         seed = 12345;
    zoll_validator_pt                v;

    (void) state;

    for (i = 0; zt_names[i] != NULL; i++) {
        v = zoll_validator(zt_names[i]);

        assert_int_equal(v(NULL, 0), 0);
        assert_int_equal(v((const unsigned char *) "", 0), 0);

        for (k = 0; k < 256; k++) {
            buf[0] = (char) k;
            rc = zt_run(v, buf, 1);
            assert_true(rc == 0 || rc == 1);
        }

        for (l = 0; lists[l] != NULL; l++) {
            for (k = 0; lists[l][k] != NULL; k++) {
                len = strlen(lists[l][k]);

                for (n = 0; n <= len; n++) {
                    rc = zt_run(v, lists[l][k], n);
                    assert_true(rc == 0 || rc == 1);
                }
            }
        }

        for (k = 0; k < 20000; k++) {
            seed = seed * 1103515245 + 12345;
            len = (seed >> 16) % sizeof(buf);

            for (n = 0; n < len; n++) {
                seed = seed * 1103515245 + 12345;
                buf[n] = alphabet[(seed >> 16) % (sizeof(alphabet) - 1)];
            }

            rc = zt_run(v, buf, len);
            assert_true(rc == 0 || rc == 1);
        }
    }
}


int
zt_validate_tests(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_lookup),
        cmocka_unit_test(test_iban),
        cmocka_unit_test(test_credit_card),
        cmocka_unit_test(test_de_tax_id),
        cmocka_unit_test(test_de_rvnr),
        cmocka_unit_test(test_de_kvnr),
        cmocka_unit_test(test_icao_check),
        cmocka_unit_test(test_de_vat_id),
        cmocka_unit_test(test_ip),
        cmocka_unit_test(test_phone),
        cmocka_unit_test(test_e164_digits),
        cmocka_unit_test(test_us_ssn),
        cmocka_unit_test(test_date),
        cmocka_unit_test(test_email),
        cmocka_unit_test(test_secret),
        cmocka_unit_test(test_substitutions),
        cmocka_unit_test(test_garbage),
    };

    return cmocka_run_group_tests_name("validate", tests, NULL, NULL);
}
