# scripts/lib.sh: helpers sourced by the other scripts.
#
# PostgreSQL refuses to run as root, so when we are root the server side
# (initdb, pg_ctl, TAP clusters) runs as the "postgres" user; as any other
# user it runs as that user.

PG_BINDIR=${PG_BINDIR:-$(pg_config --bindir 2>/dev/null || echo /usr/lib/postgresql/15/bin)}
export PATH="$PG_BINDIR:$PATH"

as_pg() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- env PATH="$PATH" "$@"
    else
        "$@"
    fi
}

# A directory the server user may write.
pg_tmpdir() {
    local d
    d=$(mktemp -d "${TMPDIR:-/tmp}/smartlayer_dht.$1.XXXXXX")
    [ "$(id -u)" = 0 ] && chown postgres:postgres "$d"
    chmod 755 "$d"
    echo "$d"
}

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

# The first port from $1 upward that nothing listens on (127.0.0.1).
free_port() {
    local port=$1
    while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
        port=$((port + 1))
    done
    echo "$port"
}
