# Engine (libzoll), zollctl and the engine's unit tests.  The nginx module
# itself is built by build.sh through nginx's own build system, which links
# build/libzoll.a (see ngx_module/config).

B        ?= build
CC       ?= cc
OPT      ?= -O2 -g
CFLAGS_Z  = -std=gnu11 $(OPT) -fPIC -Wall -Wextra -Werror -Wshadow \
            -Wpointer-arith -Wformat=2 -D_FORTIFY_SOURCE=2 \
            -fstack-protector-strong -Ipolicy $(EXTRA_CFLAGS)
LIBS      = -ljansson -lcrypto -lpcre2-8 -lhs -lmaxminddb

ENGINE_SRC = $(wildcard policy/*.c)
ENGINE_OBJ = $(ENGINE_SRC:policy/%.c=$(B)/obj/%.o)
HEADERS    = $(wildcard policy/*.h)

.PHONY: all clean sanitize fuzzers

all: $(B)/libzoll.a $(B)/zollctl $(B)/test_engine $(B)/test_geoip.mmdb

$(B)/obj/%.o: policy/%.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_Z) -c -o $@ $<

$(B)/libzoll.a: $(ENGINE_OBJ)
	rm -f $@
	ar rcs $@ $^

CLI_SRC    = $(wildcard cli/*.c)

$(B)/zollctl: $(CLI_SRC) $(wildcard cli/*.h) $(B)/libzoll.a $(HEADERS)
	$(CC) $(CFLAGS_Z) -Icli -o $@ $(CLI_SRC) $(B)/libzoll.a $(LIBS)

$(B)/test_engine: $(wildcard tests/unit/*.c) $(B)/libzoll.a $(HEADERS)
	$(CC) $(CFLAGS_Z) -Itests/unit -o $@ $(wildcard tests/unit/*.c) \
	    $(B)/libzoll.a $(LIBS) -lcmocka

# the unit tests' GeoIP database, generated (never a committed binary)
$(B)/test_geoip.mmdb: tests/lib/mkgeoip.pl
	@mkdir -p $(B)
	perl tests/lib/mkgeoip.pl $@ 127.1.0.0/16=DE 127.2.0.0/16=US \
	    127.3.0.0/16=GB 127.4.0.0/16=CN 127.5.0.0/16= 2001:db8:1::/48=FR

# The sanitizer build (build.sh's "sanitize"): the engine, its unit tests
# and the libFuzzer harnesses tests/fuzz/fuzz_*.c, built by clang with
# ASan and UBSan into $(B)/asan, so the release objects stay as they are.
# A new harness is one file: tests/fuzz/fuzz_<target>.c.
SAN_FLAGS  = -fsanitize=address,undefined -fno-sanitize-recover=all \
             -fno-omit-frame-pointer -fsanitize=fuzzer-no-link
FUZZERS    = $(patsubst tests/fuzz/%.c,$(B)/%,$(wildcard tests/fuzz/fuzz_*.c))

sanitize:
	$(MAKE) B=$(B)/asan CC=clang OPT="-O1 -g" EXTRA_CFLAGS="$(SAN_FLAGS)" \
	    $(B)/asan/test_engine fuzzers

fuzzers: $(FUZZERS)

$(B)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h $(B)/libzoll.a $(HEADERS)
	$(CC) $(CFLAGS_Z) -fsanitize=fuzzer -o $@ $< $(B)/libzoll.a $(LIBS)

clean:
	rm -rf $(B)/obj $(B)/libzoll.a $(B)/zollctl $(B)/test_engine \
	    $(B)/test_geoip.mmdb
