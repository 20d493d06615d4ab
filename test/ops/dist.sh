#!/usr/bin/env bash
# test/ops/dist.sh: META.json is valid for PGXN (meta-spec 1.0.0) and says
# smartlayer_dht.control's version; make dist's archive (scripts/dist.sh)
# has every committed file under smartlayer_dht-<version>/ and nothing else.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
version=$(sed -n "s/^default_version *= *'\(.*\)'/\1/p" smartlayer_dht.control)

# The spec's required keys and their forms (https://pgxn.org/meta/spec.txt):
# each failure is one line; none is "valid".
out=$(python3 - "$version" <<'PY'
import json, re, sys, os
version = sys.argv[1]
semver = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z-]+)?$")
problems = []
try:
    m = json.load(open("META.json"))
except ValueError as e:
    print(f"META.json is not JSON: {e}"); sys.exit()
for key in ("name", "abstract", "maintainer", "license", "provides", "meta-spec", "version"):
    if key not in m:
        problems.append(f"required key {key} missing")
if m.get("meta-spec", {}).get("version") != "1.0.0":
    problems.append("meta-spec version is not 1.0.0")
if not re.match(r"^[A-Za-z0-9_-]{2,}$", m.get("name", "")):
    problems.append("name is not a valid distribution name")
if not semver.match(m.get("version", "")):
    problems.append("version is not a semantic version")
if m.get("version") != version:
    problems.append(f"version {m.get('version')} is not the control file's {version}")
maint = m.get("maintainer")
if not (isinstance(maint, str) or (isinstance(maint, list) and maint and all(isinstance(x, str) for x in maint))):
    problems.append("maintainer is not a string or a list of strings")
licences = {"agpl_3", "apache_1_1", "apache_2_0", "artistic_1", "artistic_2", "bsd", "freebsd", "gfdl_1_2",
            "gfdl_1_3", "gpl_1", "gpl_2", "gpl_3", "lgpl_2_1", "lgpl_3_0", "mit", "mozilla_1_0", "mozilla_1_1",
            "openssl", "perl_5", "postgresql", "qpl_1_0", "ssleay", "sun", "zlib", "open_source",
            "restricted", "unrestricted", "unknown"}
lic = m.get("license")
if not ((isinstance(lic, str) and lic in licences) or isinstance(lic, (list, dict))):
    problems.append(f"license {lic!r} is not one of the spec's")
for ext, p in m.get("provides", {}).items():
    for key in ("file", "version"):
        if key not in p:
            problems.append(f"provides.{ext}.{key} missing")
    if not semver.match(p.get("version", "")):
        problems.append(f"provides.{ext}.version is not a semantic version")
    elif p["version"] != version:
        problems.append(f"provides.{ext}.version is not {version}")
    for key in ("file", "docfile"):
        if key in p and not os.path.exists(p[key]):
            problems.append(f"provides.{ext}.{key} {p[key]} does not exist")
if m.get("release_status", "stable") not in ("stable", "testing", "unstable"):
    problems.append("release_status is not stable, testing or unstable")
for phase, rels in m.get("prereqs", {}).items():
    if phase not in ("configure", "build", "test", "runtime", "develop"):
        problems.append(f"prereqs phase {phase} is not one of the spec's")
    for rel in rels:
        if rel not in ("requires", "recommends", "suggests", "conflicts"):
            problems.append(f"prereqs.{phase}.{rel} is not one of the spec's")
print("\n".join(problems) or "valid")
PY
)
check "META.json is valid PGXN meta-spec 1.0.0 at version $version" "$out" valid

tmp=$(mktemp -d "${TMPDIR:-/tmp}/smartlayer_dht.dist.XXXXXX")
ops_cleanup_hooks+=("rm -rf '$tmp'")
zip=$(scripts/dist.sh "$tmp" 2>/dev/null); rc=$?
check "make dist (scripts/dist.sh) builds smartlayer_dht-$version.zip" "$rc $zip" "0 $tmp/smartlayer_dht-$version.zip"
unzip -tq "$zip" >/dev/null 2>&1; check "the archive is a sound zip" "$?" 0
check "every entry is under smartlayer_dht-$version/" \
    "$(unzip -Z1 "$zip" | grep -vc "^smartlayer_dht-$version/")" 0
check "it holds exactly the committed files" \
    "$(unzip -Z1 "$zip" | grep -v '/$' | sed "s|^smartlayer_dht-$version/||" | sort | md5sum)" \
    "$(git ls-files | sort | md5sum)"
for f in META.json Makefile smartlayer_dht.control README.md src/sql/00_prelude.sql debian/control; do
    check "it has $f" "$(unzip -Z1 "$zip" | grep -cx "smartlayer_dht-$version/$f")" 1
done
finish
