# make install into a DESTDIR with a PREFIX: a program built against the
# installed library with pkg-config checkpoints a child it forked (a copy
# of itself) and restarts it, and the child carries on; libckpt.so exports
# only the API of ckpt.h; make uninstall leaves no file behind.
source "$(dirname "$0")/lib.bash"

root=$(cd "$(dirname "$0")/../.." && pwd)
dest=$case_dir/dest
prefix=/opt/ckpt-test
libdir=$dest$prefix/lib

command -v pkg-config >/dev/null || skip "pkg-config is not installed"
command -v cc >/dev/null || skip "no C compiler"

install_tree() {
	make -s -C "$root" BUILD="$BUILD" DESTDIR="$dest" PREFIX="$prefix" "$1" \
		>"$case_dir/make.log" 2>&1 || fail "make $1 failed: $(tail -3 "$case_dir/make.log")"
}

# Every file make install promises, and the soname links.
check_installed_files() {
	local file
	for file in bin/ckpt lib/libckpt.a lib/libckpt.so.0 lib/libckpt.so include/ckpt.h \
		lib/pkgconfig/ckpt.pc share/man/man1/ckpt.1 share/man/man3/libckpt.3 \
		share/man/man5/ckpt-image.5 share/bash-completion/completions/ckpt; do
		[ -e "$dest$prefix/$file" ] || fail "make install did not install $prefix/$file"
	done
	[ "$(readlink "$libdir/libckpt.so")" = libckpt.so.0 ] || fail "libckpt.so does not link to libckpt.so.0"
	[ -f "$(readlink -f "$libdir/libckpt.so.0")" ] || fail "libckpt.so.0 links to nothing"
	readelf -d "$libdir/libckpt.so.0" | grep -q 'SONAME.*\[libckpt\.so\.0\]' ||
		fail "libckpt.so.0 has no soname libckpt.so.0"
	grep -qx "prefix=$prefix" "$libdir/pkgconfig/ckpt.pc" || fail "ckpt.pc does not say prefix=$prefix"
	bash -n "$dest$prefix/share/bash-completion/completions/ckpt" || fail "the bash completion does not parse"
}

# Only the functions ckpt.h declares are exported.
check_exported_symbols() {
	local exported others
	exported=$(nm -D --defined-only "$libdir/libckpt.so.0" | awk '{ print $3 }')
	others=$(grep -v '^ckpt_' <<<"$exported" | tr '\n' ' ')
	[ -z "$others" ] || fail "libckpt.so exports more than ckpt_*: $others"
	grep -qx ckpt_checkpoint <<<"$exported" || fail "libckpt.so does not export ckpt_checkpoint"
	grep -qx ckpt_restart <<<"$exported" || fail "libckpt.so does not export ckpt_restart"
	grep -qx ckpt_fail_at <<<"$exported" && fail "libckpt.so exports the internal ckpt_fail_at"
	return 0
}

build_and_run_program() {
	local flags output
	flags=$(PKG_CONFIG_LIBDIR="$libdir/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$dest" \
		pkg-config --cflags --libs ckpt) || fail "pkg-config --cflags --libs ckpt failed"
	cc -Wall -Wextra -Werror -O1 "$root/tests/install/selfcopy.c" $flags -o "$case_dir/selfcopy" \
		2>"$case_dir/cc.log" || fail "cannot build against the installed library: $(head -3 "$case_dir/cc.log")"
	LD_LIBRARY_PATH=$libdir ldd "$case_dir/selfcopy" | grep -q "libckpt.so.0 => $libdir/" ||
		fail "the program does not load the installed libckpt.so.0"
	output=$(LD_LIBRARY_PATH=$libdir timeout 40 "$case_dir/selfcopy" "$case_dir/child.img" 2>&1) ||
		fail "the program against the installed library failed: $output"
}

install_tree install
check_installed_files
check_exported_symbols
build_and_run_program
install_tree uninstall
left=$(find "$dest" ! -type d | head -5 | tr '\n' ' ')
[ -z "$left" ] || fail "make uninstall left: $left"
exit 0
