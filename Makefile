# he: a language for encrypted computation.
#
#   make                 build build/he, build/libhe.a
#   make check           install missing Debian packages (as root), build, run every test
#   make check SANITIZE=1  the same under ASan + UBSan (objects in build/asan)
#   make run             the main demonstration
#   make bench           all benchmarks; make bench-vm (ivhe, ckks, smpc) one group
#   make bench-smpc-wan  the SMPC CNN over a slow network (network namespaces; root)
#   make install / uninstall   honour PREFIX (or prefix) and DESTDIR

.DELETE_ON_ERROR:
.SUFFIXES:

PREFIX ?= /usr/local
prefix ?= $(PREFIX)
exec_prefix ?= $(prefix)
bindir ?= $(exec_prefix)/bin
libdir ?= $(exec_prefix)/lib
datarootdir ?= $(prefix)/share
mandir ?= $(datarootdir)/man
man1dir ?= $(mandir)/man1
stdlibdir ?= $(datarootdir)/he/stdlib

INSTALL ?= install
INSTALL_PROGRAM ?= $(INSTALL) -m 755
INSTALL_DATA ?= $(INSTALL) -m 644

CC ?= cc
AR ?= ar
BISON ?= bison
FLEX ?= flex
PKG_CONFIG ?= pkg-config
LUA ?= lua5.4

CFLAGS ?= -O2 -g
SANITIZE ?=
ifeq ($(SANITIZE),1)
BUILD ?= build/asan
SAN_FLAGS := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
else
BUILD ?= build
SAN_FLAGS :=
endif

# Every library through pkg-config (Debian's names; lua has several aliases).
LUA_PC := $(firstword $(foreach p,lua5.4 lua-5.4 lua54 lua,$(shell $(PKG_CONFIG) --exists $(p) 2>/dev/null && echo $(p))))
PKGS := gmp libsodium zlib libzmq libprotobuf-c hdf5 jansson readline ompi-c $(LUA_PC)
PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
# Keras models (runtime/model/keras.c): Debian's libhdf5 (hdf5.pc, the serial
# flavour) and libjansson for the JSON architecture; `import mpi`: Open MPI.
PKG_LIBS := $(shell $(PKG_CONFIG) --libs gmp libsodium zlib libzmq libprotobuf-c hdf5 jansson ompi-c 2>/dev/null || echo -lgmp -lsodium -lz -lzmq -lprotobuf-c -lhdf5 -ljansson -lmpi)
# ONNX models (runtime/model/): the schema from Debian's libonnx-dev, compiled
# to C by protoc-c at build time (build/gen/onnx.pb-c.[ch], never committed).
PROTOC_C ?= protoc-c
ONNX_PROTO ?= /usr/include/onnx/onnx.proto
READLINE_LIBS := $(shell $(PKG_CONFIG) --libs readline 2>/dev/null || echo -lreadline)
LUA_LIBS := $(shell $(PKG_CONFIG) --libs $(LUA_PC) 2>/dev/null || echo -llua5.4)
# Where lua5.4 finds C modules: Debian's path for prefix=/usr, else $(libdir)/lua/5.4
LUA_CMOD := $(shell $(PKG_CONFIG) --variable=INSTALL_CMOD $(LUA_PC) 2>/dev/null)

# -fPIC: the same objects go into build/he.so (the Lua module).
ALL_CFLAGS := -std=c17 -D_GNU_SOURCE -fPIC -Wall -Wextra -Werror -MMD -MP -Iruntime -Iinterp -I$(BUILD)/gen \
	-DHE_STDLIB_DIR='"$(stdlibdir)"' $(PKG_CFLAGS) $(CFLAGS) $(SAN_FLAGS) $(CPPFLAGS)
ALL_LDFLAGS := $(SAN_FLAGS) $(LDFLAGS)
LIBS := $(PKG_LIBS) -lm -lpthread $(LDLIBS)

RUNTIME_SRC := $(sort $(wildcard runtime/*.c runtime/*/*.c))
# interp/: the language core; modules/: the native modules; lua/: the Lua
# binding (luamod.c is the module's entry point, linked into he.so and he);
# cli/: the he command and its REPL.
INTERP_SRC := $(sort $(filter-out interp/lua/luamod.c,$(wildcard interp/*.c interp/modules/*.c interp/lua/*.c)))
CLI_SRC := $(sort $(wildcard interp/cli/*.c))
CLI_OBJ := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
GEN_SRC := $(BUILD)/gen/parser.c $(BUILD)/gen/lexer.c
ONNX_GEN := $(BUILD)/gen/onnx.pb-c.c $(BUILD)/gen/onnx.pb-c.h
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
BENCH_SRC := $(sort $(wildcard bench/*/*.c))

RUNTIME_OBJ := $(RUNTIME_SRC:%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/gen/onnx.pb-c.o
INTERP_OBJ := $(INTERP_SRC:%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/gen/parser.o $(BUILD)/obj/gen/lexer.o
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)

HE := $(BUILD)/he
LIBHE := $(BUILD)/libhe.a
LIBHEI := $(BUILD)/libhe-interp.a
LUAMOD_SRC := $(wildcard interp/lua/luamod.c)
HESO := $(if $(LUAMOD_SRC),$(BUILD)/he.so)

# V=1 shows the commands.
ifeq ($(V),1)
Q :=
msg = @true
else
Q := @
msg = @printf '  %-6s %s\n' $(1) $(2)
endif

all: $(HE) $(LIBHE) $(HESO)

$(LIBHE): $(RUNTIME_OBJ)
	@mkdir -p $(@D)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(LIBHEI): $(INTERP_OBJ)
	@mkdir -p $(@D)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && $(AR) rcs $@ $^

# he --lua: the module's objects are linked in (-u pulls luarun.o out of the archive).
HE_LUA_OBJ := $(if $(LUAMOD_SRC),$(BUILD)/obj/interp/lua/luamod.o)
$(HE): $(CLI_OBJ) $(HE_LUA_OBJ) $(LIBHEI) $(LIBHE)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(ALL_LDFLAGS) $(if $(HE_LUA_OBJ),-u he_lua_run) -o $@ $^ $(READLINE_LIBS) $(LUA_LIBS) $(LIBS)

# The Lua module: liblua is not linked in (the host interpreter provides it).
$(BUILD)/he.so: $(BUILD)/obj/interp/lua/luamod.o $(LIBHEI) $(LIBHE)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(ALL_LDFLAGS) -shared -o $@ $^ $(LIBS)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(call msg,CC,$<)
	$(Q)$(CC) $(ALL_CFLAGS) -c -o $@ $<

# Generated front end: the parser header exists before anything includes it.
$(BUILD)/gen/parser.c $(BUILD)/gen/parser.h: grammar/parser.y
	@mkdir -p $(@D)
	$(call msg,BISON,$<)
	$(Q)$(BISON) -Wall -Werror --defines=$(BUILD)/gen/parser.h -o $(BUILD)/gen/parser.c $<

$(BUILD)/gen/lexer.c $(BUILD)/gen/lexer.h: grammar/lexer.l $(BUILD)/gen/parser.h
	@mkdir -p $(@D)
	$(call msg,FLEX,$<)
	$(Q)$(FLEX) --header-file=$(BUILD)/gen/lexer.h -o $(BUILD)/gen/lexer.c $<

$(BUILD)/obj/gen/%.o: $(BUILD)/gen/%.c $(BUILD)/gen/parser.h $(BUILD)/gen/lexer.h
	@mkdir -p $(@D)
	$(call msg,CC,$<)
	$(Q)$(CC) $(ALL_CFLAGS) -Wno-unused-function -Wno-sign-compare -c -o $@ $<

# The ONNX schema in C: protoc-c names its output after the .proto file.
$(ONNX_GEN) &: $(ONNX_PROTO)
	@mkdir -p $(@D)
	$(call msg,PROTOC,$<)
	$(Q)$(PROTOC_C) --proto_path=$(<D) --c_out=$(BUILD)/gen $<

$(BUILD)/obj/gen/onnx.pb-c.o: $(BUILD)/gen/onnx.pb-c.c $(BUILD)/gen/onnx.pb-c.h
	@mkdir -p $(@D)
	$(call msg,CC,$<)
	$(Q)$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(filter $(BUILD)/obj/runtime/model/%,$(RUNTIME_OBJ)): $(BUILD)/gen/onnx.pb-c.h

$(INTERP_SRC:%.c=$(BUILD)/obj/%.o) $(CLI_OBJ) $(BUILD)/obj/interp/lua/luamod.o: $(BUILD)/gen/parser.h $(BUILD)/gen/lexer.h

$(BUILD)/tests/%: tests/unit/%.c $(LIBHE)
	@mkdir -p $(@D)
	$(call msg,CC,$<)
	$(Q)$(CC) $(ALL_CFLAGS) -Itests/unit $(ALL_LDFLAGS) -o $@ $< $(LIBHE) $(LIBS)

$(BUILD)/bench/%: bench/%.c $(LIBHE)
	@mkdir -p $(@D)
	$(call msg,CC,$<)
	$(Q)$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(LIBHE) $(LIBS)

units: $(UNIT_BIN)
benches: $(BENCH_BIN) $(HE)

# --- set-up, tests, demonstration ----------------------------------------

deps:
	@sh tools/deps.sh

check:
	@sh tools/deps.sh
	@$(MAKE) --no-print-directory all units
	@HE=$(HE) BUILD=$(BUILD) LUA=$(LUA) sh tests/run.sh

run:
	@sh tools/deps.sh
	@$(MAKE) --no-print-directory all
	@$(HE) scripts/main.he

bench:
	@sh tools/deps.sh
	@$(MAKE) --no-print-directory benches
	@for g in bench/*/; do g=$${g%/}; g=$${g#bench/}; HE=$(HE) BUILD=$(BUILD) LUA=$(LUA) sh bench/run.sh $$g || exit 1; done

bench-smpc-wan: all
	@HE=$(HE) bash bench/smpc/wan.sh

bench-%:
	@sh tools/deps.sh
	@$(MAKE) --no-print-directory benches
	@HE=$(HE) BUILD=$(BUILD) LUA=$(LUA) sh bench/run.sh $*

data:
	@sh tools/fetch-data.sh

# --- installation ----------------------------------------------------------

luacdir ?= $(if $(and $(LUA_CMOD),$(filter /usr,$(prefix))),$(LUA_CMOD),$(libdir)/lua/5.4)

install: all
	$(INSTALL) -d $(DESTDIR)$(bindir) $(DESTDIR)$(man1dir) $(DESTDIR)$(stdlibdir)
	$(INSTALL_PROGRAM) $(HE) $(DESTDIR)$(bindir)/he
	$(INSTALL_DATA) doc/he.1 $(DESTDIR)$(man1dir)/he.1
	for f in stdlib/*.he; do $(INSTALL_DATA) $$f $(DESTDIR)$(stdlibdir)/; done
ifneq ($(HESO),)
	$(INSTALL) -d $(DESTDIR)$(luacdir)
	$(INSTALL_PROGRAM) $(HESO) $(DESTDIR)$(luacdir)/he.so
endif

install-strip:
	$(MAKE) INSTALL_PROGRAM='$(INSTALL_PROGRAM) -s' install

uninstall:
	rm -f $(DESTDIR)$(bindir)/he $(DESTDIR)$(man1dir)/he.1 $(DESTDIR)$(luacdir)/he.so
	rm -rf $(DESTDIR)$(stdlibdir)

clean:
	rm -rf build

distclean: clean

.PHONY: all units benches deps check run bench bench-smpc-wan data install install-strip uninstall clean distclean

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
