# ckpt: checkpoint/restart of Linux processes.
#   make            build/ckpt and build/libckpt.a
#   make test       everything, then the whole test suite (see tests/run)
#   make bench      benchmarks against the machine's own limits
#   make demo       checkpoint a running program, kill it, restart it
#   make install    PREFIX=/usr/local DESTDIR= (also BINDIR, LIBDIR, INCLUDEDIR,
#                   MANDIR, PKGCONFIGDIR, BASHCOMPDIR); make uninstall removes it

CC      ?= gcc
BUILD   ?= build
OPT     ?= -O2
CFLAGS  ?= $(OPT) -g
WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wformat=2 -Wno-format-nonliteral -Wpointer-arith -Wcast-qual -Wvla \
           -Wundef -Wwrite-strings
CPPFLAGS := -D_GNU_SOURCE -Iinclude -iquote src
ALL_CFLAGS = $(CPPFLAGS) $(WARN) $(CFLAGS) $(EXTRA_CFLAGS)

LIB_SRC := $(wildcard src/image/*.c src/sys/*.c src/objects/*.c src/checkpoint/*.c src/restart/*.c src/*.c)
CLI_SRC := $(wildcard src/cli/*.c)
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
CLI_OBJ := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
PIC_OBJ := $(LIB_SRC:%.c=$(BUILD)/obj-pic/%.o)

# The shared library: libckpt.so -> libckpt.so.0 (the soname) -> libckpt.so.0.1.0
VERSION    := $(shell sed -n 's/^\#define CKPT_VERSION "\(.*\)"/\1/p' include/ckpt.h)
SONAME     := libckpt.so.0
SHARED_LIB := libckpt.so.$(VERSION)

# Installation directories (GNU names; DESTDIR is prepended to every one).
PREFIX       ?= /usr/local
BINDIR       ?= $(PREFIX)/bin
LIBDIR       ?= $(PREFIX)/lib
INCLUDEDIR   ?= $(PREFIX)/include
MANDIR       ?= $(PREFIX)/share/man
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
BASHCOMPDIR  ?= $(PREFIX)/share/bash-completion/completions
INSTALL      ?= install

STATE_SRC  := $(wildcard tests/state/*.c)
STATE_BIN  := $(STATE_SRC:tests/state/%.c=$(BUILD)/tests/state/%)
UNIT_SRC   := $(wildcard tests/unit/*.c)
UNIT_BIN   := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/unit/%)
BENCH_SRC  := $(wildcard bench/*.c)
BENCH_BIN  := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)

.PHONY: install uninstall
.PHONY: all test test-programs bench demo clean format-check fuzz report print-warn

all: $(BUILD)/ckpt $(BUILD)/libckpt.a $(BUILD)/$(SHARED_LIB)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/libckpt.a: $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/ckpt: $(CLI_OBJ) $(BUILD)/libckpt.a
	$(CC) $(ALL_CFLAGS) $(CLI_OBJ) $(BUILD)/libckpt.a -o $@ $(LDFLAGS)

# The shared library: its own position-independent objects, every symbol
# hidden but those include/ckpt.h declares (it sets their visibility), and a
# version script made from ckpt.h that also hides symbols defined in assembly.
$(BUILD)/obj-pic/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -fPIC -fvisibility=hidden -MMD -MP -c $< -o $@

$(BUILD)/libckpt.map: include/ckpt.h
	@mkdir -p $(dir $@)
	{ echo '{ global:'; \
	  sed -n '/^typedef/!s/^[a-z].*[ *]\(ckpt_[a-z0-9_]*\)(.*/	\1;/p' include/ckpt.h; \
	  echo 'local: *; };'; } >$@

$(BUILD)/$(SHARED_LIB): $(PIC_OBJ) $(BUILD)/libckpt.map
	$(CC) $(ALL_CFLAGS) -shared -Wl,-soname,$(SONAME) -Wl,--version-script=$(BUILD)/libckpt.map \
		$(PIC_OBJ) -o $@ $(LDFLAGS)

-include $(PIC_OBJ:.o=.d)

# State programs are single files; they may use tests/state/state.h and tree.h.
# Some need threads, so every one links with -pthread.
$(BUILD)/tests/state/%: tests/state/%.c tests/state/state.h tests/state/tree.h tests/state/clone.h
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(WARN) -O1 -g -mavx2 -pthread $< -o $@ -lm

# Static state programs: tests/state/static/*.c are built with -static.
$(BUILD)/tests/static/%: tests/state/static/%.c tests/state/state.h
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(WARN) -O1 -g -static -pthread $< -o $@

$(BUILD)/tests/unit/%: tests/unit/%.c $(BUILD)/libckpt.a $(wildcard tests/tools/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $< $(BUILD)/libckpt.a -o $@

$(BUILD)/bench/%: bench/%.c bench/hold.h
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(WARN) -O2 -g -pthread $< -o $@

DEMO_BIN := $(patsubst demo/%.c,$(BUILD)/demo/%,$(wildcard demo/*.c))
$(BUILD)/demo/%: demo/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(WARN) -O2 -g $< -o $@

STATIC_SRC := $(wildcard tests/state/static/*.c)
STATIC_BIN := $(STATIC_SRC:tests/state/static/%.c=$(BUILD)/tests/static/%)

test-programs: all $(STATE_BIN) $(STATIC_BIN) $(UNIT_BIN)

test:
	tests/run

bench: all $(BENCH_BIN)
	bench/run

demo: all $(DEMO_BIN)
	demo/run

fuzz:
	tests/fuzz/run

report:
	tests/reliability/report

# The warning flags, for builds outside this Makefile (tests/fuzz/run, test tools).
print-warn:
	@echo $(WARN)

install: all
	$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR) \
		$(DESTDIR)$(PKGCONFIGDIR) $(DESTDIR)$(BASHCOMPDIR) \
		$(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man3 $(DESTDIR)$(MANDIR)/man5
	$(INSTALL) -m 755 $(BUILD)/ckpt $(DESTDIR)$(BINDIR)/ckpt
	$(INSTALL) -m 644 $(BUILD)/libckpt.a $(DESTDIR)$(LIBDIR)/libckpt.a
	$(INSTALL) -m 644 $(BUILD)/$(SHARED_LIB) $(DESTDIR)$(LIBDIR)/$(SHARED_LIB)
	ln -sf $(SHARED_LIB) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/libckpt.so
	$(INSTALL) -m 644 include/ckpt.h $(DESTDIR)$(INCLUDEDIR)/ckpt.h
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' \
	    -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' -e 's|@VERSION@|$(VERSION)|' \
	    ckpt.pc.in >$(DESTDIR)$(PKGCONFIGDIR)/ckpt.pc
	chmod 644 $(DESTDIR)$(PKGCONFIGDIR)/ckpt.pc
	$(INSTALL) -m 644 man/ckpt.1 $(DESTDIR)$(MANDIR)/man1/ckpt.1
	$(INSTALL) -m 644 man/libckpt.3 $(DESTDIR)$(MANDIR)/man3/libckpt.3
	$(INSTALL) -m 644 man/ckpt-image.5 $(DESTDIR)$(MANDIR)/man5/ckpt-image.5
	$(INSTALL) -m 644 completions/ckpt $(DESTDIR)$(BASHCOMPDIR)/ckpt

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/ckpt $(DESTDIR)$(LIBDIR)/libckpt.a \
		$(DESTDIR)$(LIBDIR)/$(SHARED_LIB) $(DESTDIR)$(LIBDIR)/$(SONAME) \
		$(DESTDIR)$(LIBDIR)/libckpt.so $(DESTDIR)$(INCLUDEDIR)/ckpt.h \
		$(DESTDIR)$(PKGCONFIGDIR)/ckpt.pc $(DESTDIR)$(MANDIR)/man1/ckpt.1 \
		$(DESTDIR)$(MANDIR)/man3/libckpt.3 $(DESTDIR)$(MANDIR)/man5/ckpt-image.5 \
		$(DESTDIR)$(BASHCOMPDIR)/ckpt

format-check:
	clang-format --dry-run --Werror $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD)

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d)

# Helper programs of the test cases (tests/tools/*.c with a main of their own).
# core_target is opened in gdb, so it is built without optimisation.
$(BUILD)/tests/tools/core_target: tests/tools/core_target.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(WARN) -O0 -g -pthread $< -o $@

test-programs: $(BUILD)/tests/tools/core_target
