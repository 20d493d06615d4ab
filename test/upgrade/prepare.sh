#!/usr/bin/env bash
# test/upgrade/prepare.sh DIR: what test/t/040_upgrade.pl needs, in DIR:
#   DIR/pg-<x>-old  a copy of this machine's PostgreSQL 15 with smartlayer_dht
#                   0.1.0 built from its release commit, for anchors x = a b c
#   DIR/pg-<x>-new  a copy with the build installed now (this tree's)
#   DIR/schema_fingerprint.sql  the query that compares schemas
# An anchor is upgraded by restarting its cluster from its -new copy.  The
# copies are relocatable (PostgreSQL finds lib and share relative to bin), so
# nothing outside DIR is touched.  Needs the git history (the 0.1.0 commit).
set -euo pipefail
cd "$(dirname "$0")/../.."
dir=${1:?usage: prepare.sh DIR}
# 0.1.0 as released (the last commit before 0.2.0 work began).
OLD_COMMIT=773b0feae37d3f2a15536f44e696ffb574240d0b
OLD_COMMIT=$(git rev-parse --verify -q "$OLD_COMMIT^{commit}" || true)
if [ -z "$OLD_COMMIT" ]; then
    echo "prepare.sh: the 0.1.0 commit is not in this clone's history (a shallow clone?)" >&2
    exit 1
fi
bindir=$(pg_config --bindir)
sharedir=$(pg_config --sharedir)
major=$(basename "$(dirname "$bindir")")

# A relocatable copy of the PostgreSQL installation at $1.
copy_pg() {
    mkdir -p "$1/usr/lib/postgresql" "$1/usr/share/postgresql"
    cp -a "$(dirname "$bindir")" "$1/usr/lib/postgresql/$major"
    cp -a "$sharedir" "$1/usr/share/postgresql/$major"
    ln -sfn /usr/include "$1/usr/include"
}
pg_config_of() { echo "$1/usr/lib/postgresql/$major/bin/pg_config"; }

mkdir -p "$dir/src-0.1.0"
git archive "$OLD_COMMIT" | tar -x -C "$dir/src-0.1.0"
for x in a b c; do
    copy_pg "$dir/pg-$x-old"
    copy_pg "$dir/pg-$x-new"
done
make -s -C "$dir/src-0.1.0" PG_CONFIG="$(pg_config_of "$dir/pg-a-old")" >/dev/null
for x in a b c; do
    make -s -C "$dir/src-0.1.0" PG_CONFIG="$(pg_config_of "$dir/pg-$x-old")" install >/dev/null
done
cp test/upgrade/schema_fingerprint.sql "$dir/"
[ "$(id -u)" = 0 ] && chown -R postgres:postgres "$dir"
exit 0
