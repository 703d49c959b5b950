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

PG_CPPFLAGS += -Isrc
PG_CFLAGS   += -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers -Werror
SHLIB_LINK  += -lxxhash

EXTRA_CLEAN = sql/role_cluster--1.0.sql tmp_check_regress tmp_check_iso output_iso

PG_CONFIG ?= /usr/lib/postgresql/15/bin/pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

sql/role_cluster--1.0.sql: $(sort $(wildcard sql/install/*.sql))
	cat $^ > $@

# PGXS tracks no header dependencies: without this, a change to a header
# (the layout of the shared-memory struct, say) leaves the other modules'
# objects stale, and they disagree about it.  Every module is rebuilt when
# any header of src/ changes.
$(OBJS): $(wildcard src/*.h)

# role-cluster-node, the node agent (src/node/): a client program on libpq,
# built, installed into PGXS's bindir and cleaned beside the extension.
# PGXS's PROGRAM would link OBJS, the extension's objects, so the program
# has rules of its own; it is compiled with the same warnings (CFLAGS has
# PG_CFLAGS) against the client headers only.
NODE_PROGRAM = role-cluster-node
NODE_OBJS    = $(patsubst %.c,%.o,$(sort $(wildcard src/node/*.c)))

all: $(NODE_PROGRAM)

src/node/%.o: src/node/%.c $(wildcard src/node/*.h)
	$(CC) $(CFLAGS) -Wall -Wextra -Werror -I$(includedir) -c -o $@ $<

$(NODE_PROGRAM): $(NODE_OBJS)
	$(CC) $(CFLAGS) $(NODE_OBJS) $(LDFLAGS) $(LDFLAGS_EX) $(libpq) -o $@

install: install-node
uninstall: uninstall-node
.PHONY: install-node uninstall-node

install-node: $(NODE_PROGRAM)
	$(MKDIR_P) '$(DESTDIR)$(bindir)'
	$(INSTALL_PROGRAM) $(NODE_PROGRAM) '$(DESTDIR)$(bindir)'

uninstall-node:
	rm -f '$(DESTDIR)$(bindir)/$(NODE_PROGRAM)'

EXTRA_CLEAN += $(NODE_PROGRAM) $(NODE_OBJS)
