# The Debian package: dpkg-buildpackage -us -uc -b in a copy of the tree
# builds ckpt, libckpt0 and libckpt-dev; they install, the installed ckpt
# checks the kernel and checkpoints and restarts a sleep (debian/tests), a
# program builds against the installed library, the packages remove without
# leaving a file, and lintian reports no error.  Skips without the tools
# (tests/run installs dpkg-dev, debhelper and lintian) or when a ckpt
# package is installed already.  The build is made with noopt (-O0: half the
# compile time); lintian runs while the packages are tested.  The case has
# 60 s: a build that takes more than BUILD_BUDGET seconds (a busy machine)
# skips, so the packages are never installed when time may run out.
source "$(dirname "$0")/lib.bash"

root=$(cd "$(dirname "$0")/../.." && pwd)
packages=(ckpt libckpt0 libckpt-dev)
BUILD_BUDGET=38
LINTIAN_BUDGET=15

[ "$(id -u)" -eq 0 ] || skip "needs root (dpkg -i)"
for tool in dpkg-buildpackage dh lintian git gcc pkg-config; do
	command -v "$tool" >/dev/null || skip "$tool is not installed"
done
for package in "${packages[@]}"; do
	if dpkg-query -W -f '${db:Status-Status}' "$package" 2>/dev/null | grep -qx installed; then
		skip "package $package is installed already: not replacing it"
	fi
done

# Tracked and new (not ignored) files only: the worktree gets no debris.
copy_tree() {
	mkdir -p "$case_dir/src"
	git -C "$root" ls-files -co --exclude-standard -z |
		(cd "$root" && tar --null --ignore-failed-read -T - -cf - 2>/dev/null) |
		tar -x -C "$case_dir/src" || fail "cannot copy the tree"
}

build_packages() {
	local status
	(cd "$case_dir/src" && unset BUILD CKPT CKPT_ASAN && DEB_BUILD_OPTIONS="parallel=2 nocheck noddebs noopt" \
		timeout -k 2 "$((BUILD_BUDGET - SECONDS))" dpkg-buildpackage -us -uc -b) \
		>"$case_dir/build.log" 2>&1
	status=$?
	if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
		skip "dpkg-buildpackage took more than $BUILD_BUDGET s (a busy machine: load $(cut -d' ' -f1 /proc/loadavg))"
	fi
	[ "$status" -eq 0 ] ||
		fail "dpkg-buildpackage failed: $(grep -m1 -iE 'error|fail' "$case_dir/build.log")"
}

remove_packages() {
	dpkg -r "${packages[@]}" >>"$case_dir/dpkg.log" 2>&1
}

install_packages() {
	local debs=()
	for package in "${packages[@]}"; do
		debs+=("$case_dir/${package}_"*_amd64.deb)
	done
	trap remove_packages EXIT
	dpkg -i "${debs[@]}" >"$case_dir/dpkg.log" 2>&1 ||
		fail "dpkg -i failed: $(grep -m1 -i error "$case_dir/dpkg.log")"
	for package in "${packages[@]}"; do
		dpkg -L "$package" >>"$case_dir/files"
	done
	[ "$(command -v ckpt)" = /usr/bin/ckpt ] || fail "the package did not install /usr/bin/ckpt"
}

# The package's own tests (autopkgtest) against what is installed.
run_package_tests() {
	local test output
	for test in checkpoint-restart build-against-library; do
		mkdir -p "$case_dir/adt-$test"
		output=$(AUTOPKGTEST_TMP=$case_dir/adt-$test timeout 30 bash "$case_dir/src/debian/tests/$test" 2>&1) ||
			fail "debian/tests/$test failed: $(tail -2 <<<"$output")"
	done
}

check_removed_cleanly() {
	local path left=""
	remove_packages || fail "dpkg -r failed: $(tail -2 "$case_dir/dpkg.log")"
	trap - EXIT
	while IFS= read -r path; do
		if [ -e "$path" ] && [ ! -d "$path" ]; then
			left+=" $path"
		fi
	done <"$case_dir/files"
	[ -z "$left" ] || fail "dpkg -r left:$left"
}

start_lintian() {
	timeout "$LINTIAN_BUDGET" lintian "$case_dir"/ckpt_*_amd64.changes >"$case_dir/lintian.log" 2>&1 &
	lintian_pid=$!
}

check_lintian() {
	local status
	wait "$lintian_pid"
	status=$?
	[ "$status" -ne 124 ] || skip "lintian took more than $LINTIAN_BUDGET s (a busy machine)"
	if grep -q '^E:' "$case_dir/lintian.log"; then
		fail "lintian: $(grep -m2 '^E:' "$case_dir/lintian.log" | tr '\n' ' ')"
	fi
}

copy_tree
build_packages
start_lintian
install_packages
run_package_tests
check_removed_cleanly
check_lintian
exit 0
