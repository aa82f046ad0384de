/*
 * Checksum and format validators of the PII redaction engine: given the
 * bytes of one regular expression match, is it really an IBAN, a card
 * number, a German tax id...?  Rejecting look-alikes here keeps ordinary
 * numbers in a prompt intact.
 *
 * Every validator is a pure function of its input: bounded reads, no
 * allocation, no locale (ctype.h would make "valid" depend on setlocale()),
 * no mutable state.  Inputs with separators are first copied without them
 * into a small stack buffer sized for the longest valid value, so longer
 * input is rejected before any arithmetic.
 */

#include "zoll_validate.h"

#include <stdint.h>
#include <string.h>


#define zoll_is_digit(c)  ((c) >= '0' && (c) <= '9')
#define zoll_is_upper(c)  ((c) >= 'A' && (c) <= 'Z')
#define zoll_is_lower(c)  ((c) >= 'a' && (c) <= 'z')
#define zoll_is_alpha(c)  (zoll_is_upper(c) || zoll_is_lower(c))
#define zoll_is_alnum(c)  (zoll_is_digit(c) || zoll_is_alpha(c))
#define zoll_to_upper(c)  (zoll_is_lower(c) ? (c) - 'a' + 'A' : (c))
#define zoll_to_lower(c)  (zoll_is_upper(c) ? (c) - 'A' + 'a' : (c))

#define zoll_nelts(a)     (sizeof(a) / sizeof((a)[0]))


static int
zoll_is_hex(unsigned char c)
{
    return zoll_is_digit(c) || (c >= 'a' && c <= 'f')
           || (c >= 'A' && c <= 'F');
}


/* strchr() would find the terminating NUL, so a NUL byte in the input
 * would count as a separator */

static int
zoll_in_set(unsigned char c, const char *set)
{
    return c != '\0' && strchr(set, c) != NULL;
}


/* Copies p without the bytes in skip into buf and returns the length, or
 * size + 1 if the rest does not fit: callers compare with their exact
 * length and need no separate overflow check. */

static size_t
zoll_compact(const unsigned char *p, size_t len, const char *skip,
    unsigned char *buf, size_t size)
{
    size_t  i, n = 0;

    for (i = 0; i < len; i++) {
        if (zoll_in_set(p[i], skip)) {
            continue;
        }

        if (n == size) {
            return size + 1;
        }

        buf[n++] = p[i];
    }

    return n;
}


static int
zoll_all_digits(const unsigned char *p, size_t len)
{
    size_t  i;

    for (i = 0; i < len; i++) {
        if (!zoll_is_digit(p[i])) {
            return 0;
        }
    }

    return 1;
}


/* ASCII case-insensitive comparison; bytes >= 0x80 must match exactly */

static int
zoll_ascii_caseeq(const unsigned char *p, const char *s, size_t n)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        if (zoll_to_lower(p[i]) != zoll_to_lower((unsigned char) s[i])) {
            return 0;
        }
    }

    return 1;
}


/* Reads up to max digits at *i into *v; returns how many were read, or 0
 * if there were none or more than max. */

static size_t
zoll_number(const unsigned char *p, size_t len, size_t *i, size_t max,
    unsigned *v)
{
    size_t  n = 0;

    *v = 0;

    while (*i < len && zoll_is_digit(p[*i])) {
        if (n == max) {
            return 0;
        }

        *v = *v * 10 + (p[*i] - '0');
        (*i)++;
        n++;
    }

    return n;
}


static size_t
zoll_skip_spaces(const unsigned char *p, size_t len, size_t *i)
{
    size_t  n = 0;

    while (*i < len && p[*i] == ' ') {
        (*i)++;
        n++;
    }

    return n;
}


/* ISO/IEC 7064 MOD 11,10 (hybrid system): the check digit of n digits */

static unsigned
zoll_iso7064_11_10(const unsigned char *d, size_t n)
{
    size_t    i;
    unsigned  product = 10, sum;

    for (i = 0; i < n; i++) {
        sum = (d[i] - '0' + product) % 10;

        if (sum == 0) {
            sum = 10;
        }

        product = sum * 2 % 11;
    }

    return (11 - product) % 10;
}


/* digit sum (Quersumme) of a product of two digits, at most 9 * 9 */

static unsigned
zoll_digit_sum(unsigned v)
{
    return v / 10 + v % 10;
}


/*
 * IBAN: ISO 13616.  The country code must be one of the SEPA countries
 * with its length from the SWIFT IBAN registry; the check digits make the
 * rearranged number (BBAN, country, check digits; letters as 10..35)
 * congruent to 1 mod 97, computed digit by digit so no bignum is needed.
 */

static const struct {
    char      cc[3];
    unsigned  len;
} zoll_iban_countries[] = {
    /* EU 27 */
    { "AT", 20 }, { "BE", 16 }, { "BG", 22 }, { "CY", 28 }, { "CZ", 24 },
    { "DE", 22 }, { "DK", 18 }, { "EE", 20 }, { "ES", 24 }, { "FI", 18 },
    { "FR", 27 }, { "GR", 27 }, { "HR", 21 }, { "HU", 28 }, { "IE", 22 },
    { "IT", 27 }, { "LT", 20 }, { "LU", 20 }, { "LV", 21 }, { "MT", 31 },
    { "NL", 18 }, { "PL", 28 }, { "PT", 25 }, { "RO", 24 }, { "SE", 24 },
    { "SI", 19 }, { "SK", 24 },
    /* EEA EFTA */
    { "IS", 26 }, { "LI", 21 }, { "NO", 15 },
    /* other SEPA countries */
    { "AD", 24 }, { "CH", 21 }, { "GB", 22 }, { "GI", 23 }, { "MC", 27 },
    { "SM", 27 }, { "VA", 22 },
};

#define ZOLL_IBAN_MAX  34


int
zoll_valid_iban(const unsigned char *p, size_t len)
{
    size_t         i, n, k;
    unsigned       r, v;
    unsigned char  c, buf[ZOLL_IBAN_MAX];

    n = zoll_compact(p, len, " ", buf, sizeof(buf));

    if (n < 5 || n > ZOLL_IBAN_MAX) {
        return 0;
    }

    for (i = 0; i < n; i++) {
        buf[i] = zoll_to_upper(buf[i]);
    }

    for (k = 0; k < zoll_nelts(zoll_iban_countries); k++) {
        if (buf[0] == zoll_iban_countries[k].cc[0]
            && buf[1] == zoll_iban_countries[k].cc[1])
        {
            break;
        }
    }

    if (k == zoll_nelts(zoll_iban_countries)
        || n != zoll_iban_countries[k].len)
    {
        return 0;
    }

    if (!zoll_is_digit(buf[2]) || !zoll_is_digit(buf[3])) {
        return 0;
    }

    /* ISO 13616 check digits are 02-98; 00, 01 and 99 are never issued */
    v = (buf[2] - '0') * 10 + (buf[3] - '0');

    if (v < 2 || v > 98) {
        return 0;
    }

    r = 0;

    for (i = 4; i < n + 4; i++) {
        c = buf[i % n];

        if (zoll_is_digit(c)) {
            r = (r * 10 + (c - '0')) % 97;

        } else if (zoll_is_upper(c)) {
            r = (r * 100 + (c - 'A' + 10)) % 97;

        } else {
            return 0;
        }
    }

    return r == 1;
}


/*
 * Payment card number (PAN): ISO/IEC 7812 Luhn check digit, and an issuer
 * identification number of a scheme that issues cards of that length.  A
 * Luhn check alone passes one random number in ten.
 */

#define zoll_lens(lo, hi)  ((((uint32_t) 1 << ((hi) + 1)) - 1)              \
                            & ~(((uint32_t) 1 << (lo)) - 1))
#define zoll_len(n)        ((uint32_t) 1 << (n))

static const struct {
    unsigned  lo;
    unsigned  hi;
    unsigned  digits;        /* of lo and hi */
    uint32_t  lens;          /* bit n: n digits are valid */
} zoll_card_issuers[] = {
    /* Visa */
    { 4, 4, 1, zoll_len(13) | zoll_len(16) | zoll_len(19) },
    /* Mastercard */
    { 51, 55, 2, zoll_len(16) },
    { 2221, 2720, 4, zoll_len(16) },
    /* American Express */
    { 34, 34, 2, zoll_len(15) },
    { 37, 37, 2, zoll_len(15) },
    /* Discover */
    { 6011, 6011, 4, zoll_lens(16, 19) },
    { 644, 649, 3, zoll_lens(16, 19) },
    { 65, 65, 2, zoll_lens(16, 19) },
    /* JCB */
    { 3528, 3589, 4, zoll_lens(16, 19) },
    /* Diners Club */
    { 300, 305, 3, zoll_lens(14, 19) },
    { 36, 36, 2, zoll_lens(14, 19) },
    { 38, 39, 2, zoll_lens(14, 19) },
    /* Maestro */
    { 50, 50, 2, zoll_lens(12, 19) },
    { 56, 69, 2, zoll_lens(12, 19) },
    /* UnionPay */
    { 62, 62, 2, zoll_lens(16, 19) },
};

#define ZOLL_CARD_MAX  19


int
zoll_valid_credit_card(const unsigned char *p, size_t len)
{
    size_t         i, k, n;
    unsigned       d, sum, prefix;
    unsigned char  buf[ZOLL_CARD_MAX];

    n = zoll_compact(p, len, " -", buf, sizeof(buf));

    if (n < 12 || n > ZOLL_CARD_MAX || !zoll_all_digits(buf, n)) {
        return 0;
    }

    /* Luhn: double every second digit from the right */
    sum = 0;

    for (i = 0; i < n; i++) {
        d = buf[n - 1 - i] - '0';

        if (i % 2) {
            d *= 2;

            if (d > 9) {
                d -= 9;
            }
        }

        sum += d;
    }

    if (sum % 10 != 0) {
        return 0;
    }

    for (k = 0; k < zoll_nelts(zoll_card_issuers); k++) {
        prefix = 0;

        for (i = 0; i < zoll_card_issuers[k].digits; i++) {
            prefix = prefix * 10 + (buf[i] - '0');
        }

        if (prefix >= zoll_card_issuers[k].lo
            && prefix <= zoll_card_issuers[k].hi
            && (zoll_card_issuers[k].lens & zoll_len(n)))
        {
            return 1;
        }
    }

    return 0;
}


/*
 * Steuerliche Identifikationsnummer (IdNr, section 139b AO): 11 digits, no
 * leading zero.  In the first ten digits exactly one digit occurs twice or
 * three times (three times, not all side by side), every other at most
 * once; the eleventh is an ISO/IEC 7064 MOD 11,10 check digit.
 */

int
zoll_valid_de_tax_id(const unsigned char *p, size_t len)
{
    size_t         i, n, repeated;
    unsigned       count[10];
    unsigned char  buf[11];

    n = zoll_compact(p, len, " ", buf, sizeof(buf));

    if (n != 11 || !zoll_all_digits(buf, n) || buf[0] == '0') {
        return 0;
    }

    memset(count, 0, sizeof(count));

    for (i = 0; i < 10; i++) {
        count[buf[i] - '0']++;
    }

    repeated = 0;

    for (i = 0; i < 10; i++) {
        if (count[i] > 3) {
            return 0;
        }

        if (count[i] > 1) {
            repeated++;
        }
    }

    if (repeated != 1) {
        return 0;
    }

    /* a digit that occurs three times must not occur three in a row */
    for (i = 0; i + 2 < 10; i++) {
        if (buf[i] == buf[i + 1] && buf[i] == buf[i + 2]) {
            return 0;
        }
    }

    return zoll_iso7064_11_10(buf, 10) == (unsigned) (buf[10] - '0');
}


/*
 * Versicherungsnummer of the German pension insurance (RVNR, also called
 * Sozialversicherungsnummer), section 147 SGB VI and section 2 VKVV: area
 * number (2), birth date DDMMYY (6), initial of the birth name (A-Z),
 * serial (2) and a check digit.  The letter becomes its two-digit
 * position in the alphabet; the twelve digits are weighted
 * 2,1,2,5,7,1,2,1,2,1,2,1, the digit sums of the products added up, and
 * the sum mod 10 is the check digit (section 2 (6) VKVV).
 *
 * When the serial numbers of a birth date are used up, the day is raised
 * by 32, then by 64, and the first of a month also by 96 (the rules the
 * insurers agreed under section 2 (5) VKVV), so DD is 01-31, 33-63, 65-95
 * or 97 in real numbers; refusing those would leak them unredacted.
 */

int
zoll_valid_de_rvnr(const unsigned char *p, size_t len)
{
    static const unsigned  weights[12] = { 2, 1, 2, 5, 7, 1, 2, 1, 2, 1,
                                           2, 1 };
    size_t                 i;
    unsigned               day, month, letter, sum;
    unsigned char          buf[12], d[12];

    if (zoll_compact(p, len, " ", buf, sizeof(buf)) != 12) {
        return 0;
    }

    if (!zoll_all_digits(buf, 8) || !zoll_is_upper(buf[8])
        || !zoll_all_digits(buf + 9, 3))
    {
        return 0;
    }

    day = (buf[2] - '0') * 10 + (buf[3] - '0');
    month = (buf[4] - '0') * 10 + (buf[5] - '0');

    /* 97 is 1 + 96; 96 itself and every multiple of 32 are no day */
    if (day > 97 || day % 32 == 0 || month < 1 || month > 12) {
        return 0;
    }

    letter = buf[8] - 'A' + 1;

    memcpy(d, buf, 8);
    d[8] = (unsigned char) ('0' + letter / 10);
    d[9] = (unsigned char) ('0' + letter % 10);
    d[10] = buf[9];
    d[11] = buf[10];

    sum = 0;

    for (i = 0; i < 12; i++) {
        sum += zoll_digit_sum((d[i] - '0') * weights[i]);
    }

    return sum % 10 == (unsigned) (buf[11] - '0');
}


/*
 * Krankenversichertennummer, the unchangeable part (section 290 SGB V,
 * check digit as specified by the GKV-Spitzenverband): an uppercase
 * letter, eight digits and a check digit.  The letter becomes its two-digit
 * position in the alphabet; these ten digits are weighted 1,2,1,2,..., the
 * digit sums of the products added up, and the sum mod 10 is the check
 * digit (a modified Luhn check).
 */

int
zoll_valid_de_kvnr(const unsigned char *p, size_t len)
{
    size_t         i;
    unsigned       letter, sum;
    unsigned char  d[10];

    if (len != 10 || !zoll_is_upper(p[0]) || !zoll_all_digits(p + 1, 9)) {
        return 0;
    }

    letter = p[0] - 'A' + 1;

    d[0] = (unsigned char) ('0' + letter / 10);
    d[1] = (unsigned char) ('0' + letter % 10);
    memcpy(d + 2, p + 1, 8);

    sum = 0;

    for (i = 0; i < 10; i++) {
        sum += zoll_digit_sum((d[i] - '0') * (i % 2 ? 2 : 1));
    }

    return sum % 10 == (unsigned) (p[9] - '0');
}


/*
 * Serial number of a German identity card or passport with its check
 * digit: ICAO Doc 9303 part 3, weights 7,3,1 repeating, digits count as
 * their value and letters as A = 10 ... Z = 35, sum mod 10.  German
 * documents use only the digits and C F G H J K L M N P R T V W X Y Z
 * (no vowels, no letters that look like digits), which rules out most
 * words and codes of ten characters.
 */

int
zoll_valid_icao_check(const unsigned char *p, size_t len)
{
    static const unsigned  weights[3] = { 7, 3, 1 };
    size_t                 i;
    unsigned               v, sum;

    if (len != 10 || !zoll_is_digit(p[9])) {
        return 0;
    }

    sum = 0;

    for (i = 0; i < 9; i++) {
        if (zoll_is_digit(p[i])) {
            v = p[i] - '0';

        } else if (zoll_is_upper(p[i])
                   && zoll_in_set(p[i], "CFGHJKLMNPRTVWXYZ"))
        {
            v = p[i] - 'A' + 10;

        } else {
            return 0;
        }

        sum += v * weights[i % 3];
    }

    return sum % 10 == (unsigned) (p[9] - '0');
}


/*
 * Umsatzsteuer-Identifikationsnummer (USt-IdNr.): "DE" and nine digits,
 * no leading zero; the ninth is an ISO/IEC 7064 MOD 11,10 check digit over
 * the first eight (the procedure of the Bundeszentralamt fuer Steuern).
 */

int
zoll_valid_de_vat_id(const unsigned char *p, size_t len)
{
    unsigned char  buf[9];

    if (len < 2 || p[0] != 'D' || p[1] != 'E') {
        return 0;
    }

    if (zoll_compact(p + 2, len - 2, " ", buf, sizeof(buf)) != 9
        || !zoll_all_digits(buf, 9) || buf[0] == '0')
    {
        return 0;
    }

    return zoll_iso7064_11_10(buf, 8) == (unsigned) (buf[8] - '0');
}


/*
 * IPv4 address in dotted-quad notation (RFC 791 text form as written by
 * inet_ntop): four decimal octets 0-255 without leading zeros.  Leading
 * zeros are refused because libcs disagree on whether "010" is octal.
 */

int
zoll_valid_ipv4(const unsigned char *p, size_t len)
{
    size_t    i = 0, k, n, start;
    unsigned  v;

    for (k = 0; k < 4; k++) {
        if (k > 0) {
            if (i == len || p[i] != '.') {
                return 0;
            }

            i++;
        }

        start = i;
        n = zoll_number(p, len, &i, 3, &v);

        if (n == 0 || v > 255 || (n > 1 && p[start] == '0')) {
            return 0;
        }
    }

    return i == len;
}


/*
 * IPv6 address, RFC 4291 section 2.2 text forms: eight groups of 1-4 hex
 * digits, "::" for one or more zero groups (at most once), an IPv4 address
 * in place of the last two groups.  Zone ids (RFC 4007) are refused.  An
 * address needs "::" or all eight groups, so "12:30:45" (a time) and MAC
 * addresses are no addresses.
 */

int
zoll_valid_ipv6(const unsigned char *p, size_t len)
{
    size_t  i = 0, start, groups = 0;
    int     compressed = 0;

    if (len >= 2 && p[0] == ':' && p[1] == ':') {
        compressed = 1;
        i = 2;

        /* "::" alone is the unspecified address, not worth redacting and
         * mostly seen in code */
        if (i == len) {
            return 0;
        }

    } else if (len == 0 || p[0] == ':') {
        return 0;
    }

    for ( ;; ) {
        start = i;

        while (i < len && zoll_is_hex(p[i])) {
            i++;
        }

        if (i < len && p[i] == '.') {
            /* the IPv4 tail ends the address and counts as two groups */
            if (!zoll_valid_ipv4(p + start, len - start)) {
                return 0;
            }

            groups += 2;
            break;
        }

        if (i == start || i - start > 4 || ++groups > 8) {
            return 0;
        }

        if (i == len) {
            break;
        }

        if (p[i] != ':') {
            return 0;
        }

        i++;

        if (i < len && p[i] == ':') {
            if (compressed) {
                return 0;
            }

            compressed = 1;
            i++;

            if (i == len) {
                break;
            }

        } else if (i == len) {
            return 0;
        }
    }

    return compressed ? groups <= 7 : groups == 8;
}


/*
 * Telephone number, ITU-T E.123 / E.164 and German national notation.
 * Separators " -/." and one pair of parentheses are allowed.  An
 * international number ("+" or "00") has 8-15 digits including the
 * country code, where a "(0)" right after the country code is the trunk
 * prefix and is dropped; a national number starts with the trunk prefix 0
 * followed by a non-zero digit and has 6-14 digits.
 */

#define ZOLL_PHONE_MAX  18      /* "00", 15 digits and the "(0)" */


int
zoll_valid_phone(const unsigned char *p, size_t len)
{
    size_t         i, n, first, ndigits, open = 0, close = 0;
    int            intl = 0, paren = 0, same;
    size_t         drop = (size_t) -1;
    unsigned char  c, d[ZOLL_PHONE_MAX];

    i = 0;
    n = 0;

    if (len > 0 && p[0] == '+') {
        intl = 1;
        i = 1;
    }

    for ( /* void */ ; i < len; i++) {
        c = p[i];

        if (zoll_is_digit(c)) {
            if (n == ZOLL_PHONE_MAX) {
                return 0;
            }

            d[n++] = c;

        } else if (c == '(') {
            if (paren != 0) {
                return 0;
            }

            paren = 1;
            open = n;

        } else if (c == ')') {
            if (paren != 1 || n == open) {
                return 0;
            }

            paren = 2;
            close = n;

        } else if (!zoll_in_set(c, " -/.")) {
            return 0;
        }
    }

    if (paren == 1) {
        return 0;
    }

    first = 0;

    if (!intl && n >= 2 && d[0] == '0' && d[1] == '0') {
        intl = 1;
        first = 2;
    }

    if (intl) {
        /* "+49 (0)30 ...": the 0 after a country code of 1-3 digits */
        if (paren == 2 && close - open == 1 && d[open] == '0'
            && open > first && open - first <= 3)
        {
            drop = open;
        }

        ndigits = n - first - (drop != (size_t) -1);

        if (ndigits < 8 || ndigits > 15 || d[first] == '0') {
            return 0;
        }

    } else {
        ndigits = n;

        if (ndigits < 6 || ndigits > 14 || d[0] != '0' || d[1] == '0') {
            return 0;
        }
    }

    same = 1;

    for (i = first + 1; i < n; i++) {
        if (i != drop && d[i] != d[first]) {
            same = 0;
            break;
        }
    }

    return !same;
}


/*
 * An E.164 number written as bare digits, without "+" or "00" (a phone
 * number stored as a JSON number: 4915123456789): 8 to 15 digits, a
 * country code never starts with 0, and not one digit repeated.
 */

int
zoll_valid_e164_digits(const unsigned char *p, size_t len)
{
    size_t  i;
    int     same = 1;

    if (len < 8 || len > 15 || p[0] == '0') {
        return 0;
    }

    for (i = 0; i < len; i++) {
        if (!zoll_is_digit(p[i])) {
            return 0;
        }

        if (p[i] != p[0]) {
            same = 0;
        }
    }

    return !same;
}


/*
 * US Social Security Number, "AAA-GG-SSSS", with spaces or without
 * separators: the SSA never issues area 000, 666 or 900-999, group 00 or
 * serial 0000; 078-05-1120 (the Woolworth wallet card) and 219-09-9999 (an
 * SSA advertisement) were published and then voided.
 */

int
zoll_valid_us_ssn(const unsigned char *p, size_t len)
{
    unsigned char  buf[9];
    unsigned       area, group, serial;

    if (len == 9) {
        memcpy(buf, p, 9);

    } else if (len == 11 && (p[3] == '-' || p[3] == ' ') && p[6] == p[3]) {
        memcpy(buf, p, 3);
        memcpy(buf + 3, p + 4, 2);
        memcpy(buf + 5, p + 7, 4);

    } else {
        return 0;
    }

    if (!zoll_all_digits(buf, 9)) {
        return 0;
    }

    area = (buf[0] - '0') * 100 + (buf[1] - '0') * 10 + (buf[2] - '0');
    group = (buf[3] - '0') * 10 + (buf[4] - '0');
    serial = (buf[5] - '0') * 1000 + (buf[6] - '0') * 100
             + (buf[7] - '0') * 10 + (buf[8] - '0');

    if (area == 0 || area == 666 || area >= 900 || group == 0
        || serial == 0)
    {
        return 0;
    }

    if ((area == 78 && group == 5 && serial == 1120)
        || (area == 219 && group == 9 && serial == 9999))
    {
        return 0;
    }

    return 1;
}


/*
 * Calendar date (proleptic Gregorian calendar) in German, ISO 8601 and
 * English notations: "3.3.1985", "03.03.85", "1985-03-03", "03/03/1985"
 * (day or month first), "3. Maerz 1985", "3 March 1985", "3rd March 1985",
 * "March 3, 1985", "Mar. 3, 1985".  Four-digit years must lie in 1900-2030,
 * the range in which a date in a prompt is likely a birth date or similar
 * personal date rather than history or a far deadline.
 */

static const struct {
    const char  *name;
    unsigned     month;
    unsigned     abbrev;       /* may be followed by "." */
} zoll_months[] = {
    { "januar", 1, 0 }, { "j\xc3\xa4nner", 1, 0 }, { "jaenner", 1, 0 },
    { "january", 1, 0 }, { "jan", 1, 1 },
    { "februar", 2, 0 }, { "february", 2, 0 }, { "feb", 2, 1 },
    { "m\xc3\xa4rz", 3, 0 }, { "m\xc3\x84rz", 3, 0 }, { "maerz", 3, 0 },
    { "march", 3, 0 }, { "m\xc3\xa4r", 3, 1 }, { "m\xc3\x84r", 3, 1 },
    { "mrz", 3, 1 }, { "mar", 3, 1 },
    { "april", 4, 0 }, { "apr", 4, 1 },
    { "mai", 5, 0 }, { "may", 5, 0 },
    { "juni", 6, 0 }, { "june", 6, 0 }, { "jun", 6, 1 },
    { "juli", 7, 0 }, { "july", 7, 0 }, { "jul", 7, 1 },
    { "august", 8, 0 }, { "aug", 8, 1 },
    { "september", 9, 0 }, { "sept", 9, 1 }, { "sep", 9, 1 },
    { "oktober", 10, 0 }, { "october", 10, 0 }, { "okt", 10, 1 },
    { "oct", 10, 1 },
    { "november", 11, 0 }, { "nov", 11, 1 },
    { "dezember", 12, 0 }, { "december", 12, 0 }, { "dez", 12, 1 },
    { "dec", 12, 1 },
};


static int
zoll_date_ok(unsigned year, unsigned month, unsigned day, int full_year)
{
    static const unsigned  days[12] = { 31, 29, 31, 30, 31, 30, 31, 31, 30,
                                        31, 30, 31 };
    int                    leap;

    if (full_year && (year < 1900 || year > 2030)) {
        return 0;
    }

    if (month < 1 || month > 12 || day < 1 || day > days[month - 1]) {
        return 0;
    }

    /* a two-digit year's century is unknown: "00" counts as 2000 */
    leap = full_year ? (year % 4 == 0 && (year % 100 != 0 || year % 400 == 0))
                     : year % 4 == 0;

    return month != 2 || day != 29 || leap;
}


static int
zoll_date_numeric(const unsigned char *p, size_t len)
{
    size_t         i = 0, n1, n2, n3;
    unsigned       a, b, c;
    unsigned char  sep;

    n1 = zoll_number(p, len, &i, 4, &a);

    if (n1 == 0 || i == len) {
        return 0;
    }

    sep = p[i++];
    n2 = zoll_number(p, len, &i, 2, &b);

    if (n2 == 0 || i == len || p[i] != sep) {
        return 0;
    }

    i++;
    n3 = zoll_number(p, len, &i, 4, &c);

    if (n3 == 0 || i != len) {
        return 0;
    }

    switch (sep) {

    case '.':
        if (n1 > 2 || (n3 != 2 && n3 != 4)) {
            return 0;
        }

        return zoll_date_ok(c, b, a, n3 == 4);

    case '-':
        if (n1 != 4 || n2 != 2 || n3 != 2) {
            return 0;
        }

        return zoll_date_ok(a, b, c, 1);

    case '/':
        if (n1 > 2 || n3 != 4) {
            return 0;
        }

        /* day or month first: either reading makes it a date */
        return zoll_date_ok(c, b, a, 1) || zoll_date_ok(c, a, b, 1);

    default:
        return 0;
    }
}


/* the month named at *i, 0 if none; an abbreviation's "." is consumed */

static unsigned
zoll_date_month(const unsigned char *p, size_t len, size_t *i)
{
    size_t  k, n, end;

    for (k = 0; k < zoll_nelts(zoll_months); k++) {
        n = strlen(zoll_months[k].name);

        if (len - *i < n || !zoll_ascii_caseeq(p + *i, zoll_months[k].name,
                                               n))
        {
            continue;
        }

        end = *i + n;

        /* a whole word: "Mar" must not match the start of "March" */
        if (end < len && (zoll_is_alpha(p[end]) || p[end] >= 0x80)) {
            continue;
        }

        if (zoll_months[k].abbrev && end < len && p[end] == '.') {
            end++;
        }

        *i = end;
        return zoll_months[k].month;
    }

    return 0;
}


/* consumes the English ordinal suffix of day at *i, if it is the right
 * one: "1st", "2nd", "3rd", "4th", "11th", "21st" */

static void
zoll_date_ordinal(const unsigned char *p, size_t len, size_t *i,
    unsigned day)
{
    const char  *suffix;

    if (day % 10 == 1 && day != 11) {
        suffix = "st";

    } else if (day % 10 == 2 && day != 12) {
        suffix = "nd";

    } else if (day % 10 == 3 && day != 13) {
        suffix = "rd";

    } else {
        suffix = "th";
    }

    if (len - *i >= 2 && zoll_ascii_caseeq(p + *i, suffix, 2)) {
        *i += 2;
    }
}


static int
zoll_date_named(const unsigned char *p, size_t len)
{
    size_t    i = 0;
    unsigned  day, month, year;
    int       dot = 0;

    if (len > 0 && zoll_is_digit(p[0])) {
        /* "3. Maerz 1985", "3.Maerz 1985", "3 March 1985", "3rd March" */
        if (zoll_number(p, len, &i, 2, &day) == 0) {
            return 0;
        }

        if (i < len && p[i] == '.') {
            dot = 1;
            i++;

        } else {
            zoll_date_ordinal(p, len, &i, day);
        }

        if (zoll_skip_spaces(p, len, &i) == 0 && !dot) {
            return 0;
        }

        month = zoll_date_month(p, len, &i);

        if (month == 0) {
            return 0;
        }

    } else {
        /* "March 3, 1985", "Mar. 3 1985", "March 3rd, 1985" */
        month = zoll_date_month(p, len, &i);

        if (month == 0 || zoll_skip_spaces(p, len, &i) == 0) {
            return 0;
        }

        if (zoll_number(p, len, &i, 2, &day) == 0) {
            return 0;
        }

        zoll_date_ordinal(p, len, &i, day);

        if (i < len && p[i] == ',') {
            i++;
        }
    }

    if (zoll_skip_spaces(p, len, &i) == 0) {
        return 0;
    }

    if (zoll_number(p, len, &i, 4, &year) != 4 || i != len) {
        return 0;
    }

    return zoll_date_ok(year, month, day, 1);
}


int
zoll_valid_date(const unsigned char *p, size_t len)
{
    return zoll_date_numeric(p, len) || zoll_date_named(p, len);
}


/*
 * E-mail address, the common subset of RFC 5321/5322: a dot-atom local
 * part of 1-64 characters, a domain name of at most 253 characters with at
 * least two labels (RFC 1035: 1-63 letters, digits and hyphens, no hyphen
 * at either end), and an alphabetic top-level domain of two or more
 * letters or an IDNA A-label ("xn--", RFC 5890).  Quoted local parts and
 * address literals are left out: they are rare in text and the regex
 * would not match them.
 */

int
zoll_valid_email(const unsigned char *p, size_t len)
{
    size_t               i, at, label, tld;
    const unsigned char  *d;
    size_t               dlen;

    for (at = 0; at < len && p[at] != '@'; at++) {
        /* void */
    }

    if (at == 0 || at > 64 || at == len) {
        return 0;
    }

    for (i = 0; i < at; i++) {
        if (p[i] == '.') {
            if (i == 0 || i == at - 1 || p[i - 1] == '.') {
                return 0;
            }

        } else if (!zoll_is_alnum(p[i])
                   && !zoll_in_set(p[i], "!#$%&'*+/=?^_`{|}~-"))
        {
            return 0;
        }
    }

    d = p + at + 1;
    dlen = len - at - 1;

    if (dlen == 0 || dlen > 253) {
        return 0;
    }

    label = 0;
    tld = 0;

    for (i = 0; i <= dlen; i++) {
        if (i == dlen || d[i] == '.') {
            if (i == label || i - label > 63 || d[label] == '-'
                || d[i - 1] == '-')
            {
                return 0;
            }

            tld = label;
            label = i + 1;
            continue;
        }

        if (!zoll_is_alnum(d[i]) && d[i] != '-') {
            return 0;
        }
    }

    if (tld == 0) {
        return 0;    /* a single label */
    }

    if (dlen - tld > 4 && zoll_ascii_caseeq(d + tld, "xn--", 4)) {
        return 1;
    }

    if (dlen - tld < 2) {
        return 0;
    }

    for (i = tld; i < dlen; i++) {
        if (!zoll_is_alpha(d[i])) {
            return 0;
        }
    }

    return 1;
}


/*
 * Generic secret (API key, token, password-like string): at least 16
 * bytes with letters and digits.  Hex strings (git object ids, SHA-256
 * digests) and UUIDs are identifiers that appear in every code review, not
 * credentials, so they are not secrets.  A PEM block always is one.
 */

static int
zoll_is_uuid(const unsigned char *p, size_t len)
{
    size_t  i;

    if (len != 36) {
        return 0;
    }

    for (i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (p[i] != '-') {
                return 0;
            }

        } else if (!zoll_is_hex(p[i])) {
            return 0;
        }
    }

    return 1;
}


int
zoll_valid_secret(const unsigned char *p, size_t len)
{
    size_t  i;
    int     digit = 0, alpha = 0, hex = 1;

    if (len >= 10 && memcmp(p, "-----BEGIN", 10) == 0) {
        return 1;
    }

    if (len < 16 || zoll_is_uuid(p, len)) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        if (zoll_is_digit(p[i])) {
            digit = 1;

        } else if (zoll_is_alpha(p[i])) {
            alpha = 1;
        }

        if (!zoll_is_hex(p[i])) {
            hex = 0;
        }
    }

    return digit && alpha && !hex;
}


static const struct {
    const char         *name;
    zoll_validator_pt   handler;
} zoll_validators[] = {
    { "iban", zoll_valid_iban },
    { "credit_card", zoll_valid_credit_card },
    { "de_tax_id", zoll_valid_de_tax_id },
    { "de_rvnr", zoll_valid_de_rvnr },
    { "de_kvnr", zoll_valid_de_kvnr },
    { "icao_check", zoll_valid_icao_check },
    { "de_vat_id", zoll_valid_de_vat_id },
    { "ipv4", zoll_valid_ipv4 },
    { "ipv6", zoll_valid_ipv6 },
    { "phone", zoll_valid_phone },
    { "e164_digits", zoll_valid_e164_digits },
    { "us_ssn", zoll_valid_us_ssn },
    { "date", zoll_valid_date },
    { "email", zoll_valid_email },
    { "secret", zoll_valid_secret },
};


zoll_validator_pt
zoll_validator(const char *name)
{
    size_t  i;

    if (name == NULL) {
        return NULL;
    }

    for (i = 0; i < zoll_nelts(zoll_validators); i++) {
        if (strcmp(zoll_validators[i].name, name) == 0) {
            return zoll_validators[i].handler;
        }
    }

    return NULL;
}
