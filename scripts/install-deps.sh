#!/usr/bin/env bash
# scripts/install-deps.sh: install the Debian 12 packages the build, the tests,
# the demo and the benchmarks need.  Does nothing when they are all present;
# otherwise needs root (or sudo) and Debian's archive.
set -euo pipefail

packages=(
    make gcc clang libclang-rt-14-dev pkg-config perl
    postgresql-15 postgresql-server-dev-15 postgresql-contrib libpq-dev
    libsodium-dev liberasurecode-dev libisal2 libjerasure2
    postgresql-15-pgtap libtap-parser-sourcehandler-pgtap-perl libipc-run-perl
    libisal-dev liblcrq-dev
    sqlsmith valgrind iproute2 util-linux
    # the router extension smartlayer_dht_router (router/)
    postgresql-15-plproxy
    # the Debian package (debian/, make deb, test/ops/package.sh)
    debhelper postgresql-server-dev-all dpkg-dev fakeroot
    # the ops suite and make demo: Prometheus exporter, a psycopg 3 client, charts
    prometheus-postgres-exporter curl python3 python3-psycopg gnuplot-nox
    # make dist
    git zip
)
# node and npm for the RaptorQ interoperability suite (npm raptorq 1.7.24),
# unless a node is there already (some machines have a newer one)
command -v node >/dev/null && command -v npm >/dev/null || packages+=(nodejs npm)
[ "${DHT_BENCH_DEPS:-}" = 1 ] && packages+=(ceph-base bc)

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "installing: ${missing[*]}"
sudo=""
[ "$(id -u)" = 0 ] || sudo=sudo
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
