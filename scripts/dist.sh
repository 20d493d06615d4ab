#!/usr/bin/env bash
# scripts/dist.sh [OUTDIR]: what `make dist` runs.  The release archive for
# PGXN, smartlayer_dht-<version>.zip in OUTDIR (default dist/, where make deb
# leaves the .deb files too), made by git archive from the committed tree
# (HEAD), every file under one directory smartlayer_dht-<version>/ as PGXN
# wants.  The version is
# smartlayer_dht.control's default_version; META.json must say the same.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-dist}
mkdir -p "$out"
version=$(sed -n "s/^default_version *= *'\(.*\)'/\1/p" smartlayer_dht.control)
meta=$(python3 -c 'import json; m = json.load(open("META.json")); print(m["version"], m["provides"]["smartlayer_dht"]["version"])')
[ "$meta" = "$version $version" ] || { echo "META.json says $meta, smartlayer_dht.control $version" >&2; exit 1; }
[ -z "$(git status --porcelain --untracked-files=no)" ] ||
    echo "warning: uncommitted changes are not in the archive (git archive HEAD)" >&2
git archive --format=zip --prefix="smartlayer_dht-$version/" -o "$out/smartlayer_dht-$version.zip" HEAD
echo "$out/smartlayer_dht-$version.zip"
