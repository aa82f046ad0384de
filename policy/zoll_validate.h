/*
 * Checksum and format validators of the PII redaction engine.
 *
 * A detector's regular expression finds candidates; its validator decides
 * whether the matched bytes really are such a value (a check digit, a
 * calendar date, a known issuer), so ordinary numbers in a prompt are not
 * redacted.  Each validator takes the exact bytes of one match, reads
 * nothing outside [p, p + len), allocates nothing, and returns 1 if the
 * value is valid, 0 if not, for any input (empty, garbage, non-UTF-8).
 */

#ifndef ZOLL_VALIDATE_H
#define ZOLL_VALIDATE_H

#include <stddef.h>


typedef int (*zoll_validator_pt)(const unsigned char *p, size_t len);

/* the validator of that name, or NULL if there is none */
zoll_validator_pt zoll_validator(const char *name);


int zoll_valid_iban(const unsigned char *p, size_t len);
int zoll_valid_credit_card(const unsigned char *p, size_t len);
int zoll_valid_de_tax_id(const unsigned char *p, size_t len);
int zoll_valid_de_rvnr(const unsigned char *p, size_t len);
int zoll_valid_de_kvnr(const unsigned char *p, size_t len);
int zoll_valid_icao_check(const unsigned char *p, size_t len);
int zoll_valid_de_vat_id(const unsigned char *p, size_t len);
int zoll_valid_ipv4(const unsigned char *p, size_t len);
int zoll_valid_ipv6(const unsigned char *p, size_t len);
int zoll_valid_phone(const unsigned char *p, size_t len);
int zoll_valid_e164_digits(const unsigned char *p, size_t len);
int zoll_valid_us_ssn(const unsigned char *p, size_t len);
int zoll_valid_date(const unsigned char *p, size_t len);
int zoll_valid_email(const unsigned char *p, size_t len);
int zoll_valid_secret(const unsigned char *p, size_t len);

#endif /* ZOLL_VALIDATE_H */
