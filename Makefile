# smartlayer_dht: PGXS build.
#
# Every C file under src/ is part of the module and every SQL file under src/sql/
# is part of the install script, concatenated in file-name order (the numeric
# prefixes fix the order).  A new concern is a new file: the Makefile does not
# need to change.
#
#   make            build the module and the install script
#   make install    install into the server found by PG_CONFIG (router/ too:
#                   the extension smartlayer_dht_router)
#   make test       install dependencies, build, install, run every test
#   make demo       run the demo on a throwaway cluster
#   make bench      run the benchmarks under bench/
#   make deb        build the Debian package postgresql-15-smartlayer-dht into dist/
#                   (dpkg-buildpackage in a copy of the tree; debian/)
#   make dist       the PGXN release archive dist/smartlayer_dht-<version>.zip (git archive)
#   make check-valgrind  pg_regress and pgTAP on a server under valgrind
#   make check-long the slow checks make test leaves out (every K' of RFC 6330's
#                   Table 2 gives a non-singular constraint matrix, ...)

PG_CONFIG ?= pg_config

EXTENSION  = smartlayer_dht
EXTVERSION = $(shell sed -n "s/^default_version *= *'\(.*\)'/\1/p" $(EXTENSION).control)

MODULE_big = $(EXTENSION)
OBJS       = $(patsubst %.c,%.o,$(sort $(wildcard src/*.c)))
SQL_PARTS  = $(sort $(wildcard src/sql/*.sql))
# Upgrade scripts: src/upgrade/NAME.sql with "--@include FILE" lines that
# stand for src/sql/FILE, so an upgrade runs the definitions a fresh install does.
UPGRADES   = $(notdir $(wildcard src/upgrade/$(EXTENSION)--*--*.sql))
DATA_built = $(EXTENSION)--$(EXTVERSION).sql $(UPGRADES)

REGRESS      = $(sort $(basename $(notdir $(wildcard sql/*.sql))))
REGRESS_OPTS = --inputdir=. --load-extension=$(EXTENSION)

# liberasurecode 1.6.2 on Debian ships no pkg-config file; use it when present.
ERASURE_CFLAGS := $(shell pkg-config --cflags erasurecode-1 2>/dev/null || echo -I/usr/include/liberasurecode)
ERASURE_LIBS   := $(shell pkg-config --libs erasurecode-1 2>/dev/null || echo -lerasurecode)

PG_CPPFLAGS = -I$(shell $(PG_CONFIG) --includedir 2>/dev/null) $(shell pkg-config --cflags libsodium) $(ERASURE_CFLAGS)
PG_CFLAGS   = -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers $(DHT_EXTRA_CFLAGS)
SHLIB_LINK  = $(shell pkg-config --libs libsodium) $(ERASURE_LIBS) -lisal -lpq -lm

EXTRA_CLEAN = $(DATA_built) test/fuzz/*_fuzz bench/bin

PGXS := $(shell $(PG_CONFIG) --pgxs 2>/dev/null)
ifneq ($(PGXS),)
include $(PGXS)
else
# A fresh machine has no server headers yet: make test, demo and bench install
# them first (scripts/install-deps.sh); other targets say what is missing.
all install installcheck:
	@echo "postgresql-server-dev-15 is not installed: run 'make deps' (or 'make test')" >&2; exit 1
endif

$(EXTENSION)--$(EXTVERSION).sql: $(SQL_PARTS) $(EXTENSION).control
	{ echo '-- $(EXTENSION) $(EXTVERSION): generated from src/sql/*.sql by make; do not edit.'; \
	  printf '%s\n' '\echo Use "CREATE EXTENSION $(EXTENSION)" to load this file. \quit'; \
	  for f in $(SQL_PARTS); do echo; echo "-- ==== $$f"; cat $$f; done; } > $@

$(UPGRADES): %.sql: src/upgrade/%.sql $(SQL_PARTS)
	{ echo '-- $@: generated from src/upgrade/$@ by make; do not edit.'; \
	  printf '%s\n' '\echo Use "ALTER EXTENSION $(EXTENSION) UPDATE" to load this file. \quit'; \
	  awk '/^--@include / { f = "src/sql/" $$2; while ((getline line < f) > 0) print line; \
	                         close(f); next } { print }' $<; } > $@

all: $(DATA_built)

# The router extension (router/, SQL only) is installed with this one.  Not
# by installcheck, which checks what is installed (test/ops/package.sh runs it
# in a copy of the tree without router/); the router's suite is
# test/t/080_router.pl.
ifneq ($(and $(PGXS),$(wildcard router/Makefile)),)
install: install-router
clean: clean-router
endif
.PHONY: install-router clean-router
install-router:
	$(MAKE) -C router install PG_CONFIG=$(PG_CONFIG)
clean-router:
	$(MAKE) -C router clean PG_CONFIG=$(PG_CONFIG)

# Every object is rebuilt when any header changes: the headers are few, and a
# stale object that disagrees with a struct's layout is a silent wrong answer.
$(OBJS): $(wildcard src/*.h)

.PHONY: test demo bench deps fuzz check-long check-valgrind deb dist
deps:
	scripts/install-deps.sh

test:
	scripts/test.sh

demo:
	scripts/demo.sh

bench:
	scripts/bench.sh

fuzz:
	scripts/fuzz.sh $(FUZZ_SECONDS)

deb:
	scripts/deb.sh dist

dist:
	scripts/dist.sh

check-valgrind:
	scripts/check-valgrind.sh

check-long:
	RQ_CHECK_LONG=1 test/unit/run.sh test/unit/rq_tables_test.c
	test/fuzz/sqlsmith.sh $(or $(SQLSMITH_QUERIES),50000)
