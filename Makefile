# role_cluster: ClusterRole model, push sharding and a routed task queue for
# PostgreSQL 15.  Built with PGXS; see README.md for the two entry commands.

EXTENSION  = role_cluster
MODULE_big = role_cluster
OBJS       = $(patsubst %.c,%.o,$(sort $(wildcard src/*.c)))

# The install script is assembled from one piece per concern (sql/install/),
# in file-name order, so each module's SQL sits beside the others' without
# one thousand-line file.
DATA_built = sql/role_cluster--1.0.sql

REGRESS      = $(patsubst sql/%.sql,%,$(sort $(filter-out sql/$(EXTENSION)--%,$(wildcard sql/*.sql))))
REGRESS_OPTS = --temp-instance=./tmp_check_regress --temp-config=test/role_cluster.conf

ISOLATION      = $(patsubst test/specs/%.spec,%,$(sort $(wildcard test/specs/*.spec)))
ISOLATION_OPTS = --inputdir=test --temp-instance=./tmp_check_iso \
                 --temp-config=test/role_cluster.conf

TAP_TESTS   = 1
PROVE_TESTS = $(sort $(wildcard test/t/*.pl))
PROVE_FLAGS = -I test

PG_CPPFLAGS += -Isrc
PG_CFLAGS   += -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers -Werror
SHLIB_LINK  += -lxxhash

EXTRA_CLEAN = sql/role_cluster--1.0.sql tmp_check_regress tmp_check_iso output_iso

PG_CONFIG ?= /usr/lib/postgresql/15/bin/pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

sql/role_cluster--1.0.sql: $(sort $(wildcard sql/install/*.sql))
	cat $^ > $@
