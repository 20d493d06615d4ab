#!/usr/bin/env bash
# test/ops/package.sh: the Debian package, as an operator gets it.
#
# Builds postgresql-15-smartlayer-dht with dpkg-buildpackage -b -us -uc in a
# copy of the tree (scripts/deb.sh), installs the .deb with dpkg -i into the
# system's PostgreSQL 15 (as an operator does; make test installs into the
# same place), checks what it installed, creates the extension on a
# throwaway cluster of the system's server, and runs the package's
# installcheck (debian/tests/installcheck: pg_regress, sql/ and expected/)
# against the installed package.  Needs root, for dpkg -i.
set -uo pipefail
export PG_BINDIR=/usr/lib/postgresql/15/bin     # the system's server, not a private copy
. "$(dirname "$0")/lib.sh"
pg_config=$PG_BINDIR/pg_config

[ "$(id -u)" = 0 ] || { echo "test/ops/package.sh installs a package: run it as root"; exit 1; }
version=$(sed -n "s/^default_version *= *'\(.*\)'/\1/p" smartlayer_dht.control)
out=$(mktemp -d "${TMPDIR:-/tmp}/smartlayer_dht.package.XXXXXX")
ops_cleanup_hooks+=("rm -rf '$out'")

scripts/deb.sh "$out" >/dev/null; rc=$?
check "dpkg-buildpackage -b -us -uc builds the package" "$rc" 0
[ "$rc" = 0 ] || { finish; exit 1; }
deb=$out/postgresql-15-smartlayer-dht_${version}_$(dpkg --print-architecture).deb
check "the package is postgresql-15-smartlayer-dht $version" \
    "$(dpkg-deb -f "$deb" Package Version | tr '\n' ' ')" "Package: postgresql-15-smartlayer-dht Version: $version "

dpkg -i "$deb" >"$out/dpkg.log" 2>&1; rc=$?
check "dpkg -i installs it" "$rc" 0
[ "$rc" = 0 ] || sed 's/^/#   /' "$out/dpkg.log"
check "dpkg knows it as installed" \
    "$(dpkg-query -W -f='${Status} ${Version}' postgresql-15-smartlayer-dht)" "install ok installed $version"
for f in "$($pg_config --pkglibdir)/smartlayer_dht.so" \
         "$($pg_config --sharedir)/extension/smartlayer_dht.control" \
         "$($pg_config --sharedir)/extension/smartlayer_dht--$version.sql"; do
    check "the package owns $f" "$(dpkg -S "$f" 2>/dev/null | cut -d: -f1)" postgresql-15-smartlayer-dht
done
# the module a server loads is the one the package installed
check "the installed module is the package's" \
    "$(dpkg-deb --fsys-tarfile "$deb" | tar -xO "./usr/lib/postgresql/15/lib/smartlayer_dht.so" | sha256sum)" \
    "$(sha256sum <"$($pg_config --pkglibdir)/smartlayer_dht.so")"

ops_cluster package || exit 1
createdb anchor
check "CREATE EXTENSION smartlayer_dht works on the installed package" \
    "$(psql -X -qAt -d anchor -c 'CREATE EXTENSION smartlayer_dht' \
        -c "SELECT extversion FROM pg_extension WHERE extname = 'smartlayer_dht'" 2>/dev/null)" "$version"
check "and the module answers" \
    "$(psql -X -qAt -d anchor -c "SELECT dht.token_key('eip155:1/slip44:60') IS NOT NULL")" t

# debian/tests/installcheck runs `pg_buildext installcheck`: make installcheck
# for each version, on a cluster of pg_virtualenv's; here on ours.
src=$(mktemp -d "${TMPDIR:-/tmp}/smartlayer_dht.installcheck.XXXXXX")
ops_cleanup_hooks+=("rm -rf '$src'")
git ls-files -z sql expected Makefile smartlayer_dht.control | tar -c --null -T - | tar -x -C "$src"
chmod -R a+rX "$src"
(cd "$src" && PG_REGRESS_DIFF_OPTS=-U3 make -s installcheck PG_CONFIG="$pg_config" USE_PGXS=1) >"$out/installcheck.log" 2>&1; rc=$?
check "the package's installcheck (pg_regress) passes against the installed package" "$rc" 0
if [ "$rc" = 0 ]; then
    grep -E '^ *All [0-9]+ tests passed' "$out/installcheck.log" | sed 's/^ */# /'
else
    tail -20 "$out/installcheck.log" | sed 's/^/#   /'; head -100 "$src/regression.diffs" 2>/dev/null | sed 's/^/#   /'
fi
finish
