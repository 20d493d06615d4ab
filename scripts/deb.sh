#!/usr/bin/env bash
# scripts/deb.sh [OUTDIR]: what `make deb` runs.  Builds the Debian package
# postgresql-15-smartlayer-dht (debian/, pg_buildext) with
# `dpkg-buildpackage -b -us -uc` in a copy of the tree in a temporary
# directory, so the build never touches the working tree (pg_buildext cleans
# and builds in the source directory), and leaves the .deb files in OUTDIR
# (default dist/).  The copy holds what git tracks plus new files it does not
# ignore, so uncommitted changes are packaged too, build outputs are not.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-dist}
mkdir -p "$out"
out=$(cd "$out" && pwd)
version=$(sed -n "s/^default_version *= *'\(.*\)'/\1/p" smartlayer_dht.control)
# the changelog's version is the package's: they must agree
changelog=$(dpkg-parsechangelog -S Version)
[ "$changelog" = "$version" ] || { echo "debian/changelog is at $changelog, smartlayer_dht.control at $version" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/smartlayer_dht.deb.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
src=$tmp/smartlayer-dht-$version
mkdir "$src"
git ls-files -co --exclude-standard -z | tar -c --null -T - | tar -x -C "$src"
# a parallel build unless the caller says otherwise (debian/rules passes it to make)
export DEB_BUILD_OPTIONS=${DEB_BUILD_OPTIONS:-parallel=$(nproc)}
if ! (cd "$src" && dpkg-buildpackage -b -us -uc) >"$tmp/build.log" 2>&1; then
    tail -40 "$tmp/build.log" >&2
    echo "dpkg-buildpackage failed" >&2
    exit 1
fi
cp "$tmp"/*.deb "$out/"
ls "$out"/*.deb
