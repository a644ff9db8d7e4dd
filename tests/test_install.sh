#!/bin/sh
# make install and make uninstall, and a program built against the installed copy:
#
#  - `make install DESTDIR=STAGE PREFIX=/usr` puts every file under STAGE/usr, with a
#    knseg.pc for /usr, and `make uninstall` with the same variables takes them away;
#  - `make install PREFIX=TMP` and tests/example_segment.c compiled and linked from TMP
#    only through `pkg-config ... knseg`, once with the shared and once with the static
#    library; both segment an image with a 2-iteration model trained by the installed
#    knseg and write the same mask;
#  - man (or groff) reads the installed pages.
#
# Run by `make test` (scripts/run_tests.sh counts the cmocka-style summary line) with the
# build's toggles in KNSEG_MAKE_ARGS, so install copies that build's files and builds
# nothing. Skips, saying why, when a tool it needs is missing.
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
make_args=${KNSEG_MAKE_ARGS:-}
cc=${KNSEG_CC:-cc}

skip() {
	echo "test_install: skipped: $*"
	echo "[  SKIPPED ] 1 test(s), listed below:"
	exit 0
}
fail() {
	echo "test_install: $*"
	echo "[  FAILED  ] 1 test(s), listed below:"
	exit 1
}

for tool in make pkg-config install "$cc"; do
	command -v "$tool" >/dev/null 2>&1 || skip "'$tool' not found"
done
tmp=$(mktemp -d) || fail "cannot make a temporary folder"
trap 'rm -rf "$tmp"' EXIT
# The make that runs the tests passes its own flags and jobserver in the environment; the
# toggles are given explicitly instead.
unset MAKEFLAGS MFLAGS MAKELEVEL

mk() {
	# shellcheck disable=SC2086
	make -C "$root" --no-print-directory $make_args CC="$cc" "$@" >>"$tmp/make.log" 2>&1 ||
		{ cat "$tmp/make.log"; fail "make $* failed"; }
}
# Files and symbolic links under a folder, one a line.
listing() {
	(cd "$1" && find . \( -type f -o -type l \) | sort)
}

# Staged install for /usr.
stage=$tmp/stage
mk install DESTDIR="$stage" PREFIX=/usr
for f in bin/knseg lib/libknseg.a lib/libknseg.so lib/pkgconfig/knseg.pc \
	include/knseg/knseg.h share/man/man1/knseg.1 share/man/man1/knseg-train.1; do
	[ -e "$stage/usr/$f" ] || fail "make install DESTDIR= PREFIX=/usr did not write /usr/$f"
done
grep -qx 'prefix=/usr' "$stage/usr/lib/pkgconfig/knseg.pc" ||
	fail "the staged knseg.pc does not name prefix /usr"
mk uninstall DESTDIR="$stage" PREFIX=/usr
left=$(listing "$stage")
[ -z "$left" ] || fail "make uninstall DESTDIR= left: $left"

# Install into a prefix of its own and use it.
prefix=$tmp/prefix
mk install PREFIX="$prefix"
echo "installed: $(listing "$prefix" | tr '\n' ' ')"
lib=$prefix/lib
soname=$(cd "$lib" && ls libknseg.so.[0-9]*.[0-9]*.[0-9]*)
[ -L "$lib/libknseg.so" ] && [ -e "$lib/libknseg.so" ] || fail "no libknseg.so link"
version=$(PKG_CONFIG_PATH=$lib/pkgconfig pkg-config --modversion knseg) ||
	fail "pkg-config cannot read knseg.pc"
[ "$soname" = "libknseg.so.$version" ] ||
	fail "the shared library is $soname, knseg.pc says $version"
[ "$("$prefix/bin/knseg" --version)" = "knseg $version" ] ||
	fail "knseg --version is not $version"

export PKG_CONFIG_PATH="$lib/pkgconfig"
cflags=$(pkg-config --cflags knseg) && libs=$(pkg-config --libs knseg) &&
	private=$(pkg-config --variable=libs_private knseg) || fail "pkg-config knseg failed"
cd "$tmp" || fail "cannot enter $tmp"
# shellcheck disable=SC2086
"$cc" -std=c11 -Wall -Werror $cflags "$root/tests/example_segment.c" $libs \
	-o ex_shared || fail "cannot build the example against libknseg.so"
# shellcheck disable=SC2086
"$cc" -std=c11 -Wall -Werror $cflags "$root/tests/example_segment.c" -Wl,-Bstatic $libs \
	-Wl,-Bdynamic $private -o ex_static || fail "cannot build the example against libknseg.a"
if command -v readelf >/dev/null 2>&1; then
	readelf -d ex_shared | grep -q "NEEDED.*libknseg.so" || fail "ex_shared does not load libknseg.so"
	readelf -d ex_static | grep -q "NEEDED.*libknseg" && fail "ex_static loads libknseg.so"
	readelf -d "$lib/$soname" | grep -q "SONAME.*\[libknseg\.so\.${version%%.*}\]" ||
		fail "$soname has not the soname libknseg.so.${version%%.*}"
	[ -L "$lib/libknseg.so.${version%%.*}" ] || fail "no libknseg.so.${version%%.*} link"
fi

"$prefix/bin/knseg" synth --out syn --train 2 --val 1 --size 64x32 --seed 5 >>run.log 2>&1 &&
	"$prefix/bin/knseg" train --root syn --out run --width 0.0625 --crop 64x32 --batch 2 \
		--iters 2 --val-every 2 >>run.log 2>&1 || { cat run.log; fail "knseg synth/train failed"; }
img=$(ls syn/leftImg8bit/val/synth/*.png | head -n 1)
LD_LIBRARY_PATH=$lib ./ex_shared run/best.safetensors "$img" shared.png ||
	fail "the shared build failed"
./ex_static run/best.safetensors "$img" static.png || fail "the static build failed"
[ -s shared.png ] && cmp shared.png static.png || fail "the masks differ or are missing"

page=$prefix/share/man/man1/knseg-train.1
if command -v man >/dev/null 2>&1; then
	MANPAGER=cat PAGER=cat man -l "$page" 2>&1 | grep -q -- "--iters" || fail "man cannot read $page"
elif command -v groff >/dev/null 2>&1; then
	groff -man -Tascii "$page" 2>&1 | grep -q -- "--iters" || fail "groff cannot read $page"
else
	echo "test_install: neither man nor groff found: the man pages were not read"
fi

cd "$root" || fail "cannot enter $root"
mk uninstall PREFIX="$prefix"
left=$(listing "$prefix")
[ -z "$left" ] || fail "make uninstall left: $left"
echo "test_install: $soname, static and shared builds of tests/example_segment.c agree"
echo "[  PASSED  ] 1 test(s)."
