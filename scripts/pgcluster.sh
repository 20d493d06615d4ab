#!/usr/bin/env bash
# scripts/pgcluster.sh: a throwaway PostgreSQL cluster for demos and benchmarks.
#
#   pgcluster.sh start DIR PORT [name=value ...]   initdb (once) and start
#   pgcluster.sh stop DIR                           stop (fast)
#   pgcluster.sh destroy DIR                        stop and remove DIR
#
# The cluster listens on 127.0.0.1:PORT and on a Unix socket in DIR, trusts
# local connections, and runs with wal_level = logical so that anchors can
# replicate.  Connect with: psql -h DIR -p PORT -U postgres
set -euo pipefail
. "$(dirname "$0")/lib.sh"

cmd=${1:?usage: pgcluster.sh start|stop|destroy DIR [PORT]}
dir=${2:?DIR missing}

case "$cmd" in
start)
    port=${3:?PORT missing}
    shift 3
    if [ ! -d "$dir/data" ]; then
        mkdir -p "$dir"
        [ "$(id -u)" = 0 ] && chown postgres:postgres "$dir"
        as_pg initdb -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log"
        {
            echo "port = $port"
            echo "listen_addresses = '127.0.0.1'"
            echo "unix_socket_directories = '$dir'"
            echo "wal_level = logical"
            echo "max_wal_senders = 20"
            echo "max_replication_slots = 20"
            echo "max_logical_replication_workers = 16"
            echo "max_worker_processes = 24"
            echo "max_slot_wal_keep_size = '4GB'"
            echo "shared_buffers = '256MB'"
            echo "fsync = off"
            echo "synchronous_commit = off"
            echo "full_page_writes = off"
            echo "max_wal_size = '4GB'"
            for opt in "$@"; do echo "$opt"; done
        } | as_pg tee -a "$dir/data/postgresql.conf" >/dev/null
    fi
    as_pg pg_ctl -D "$dir/data" -l "$dir/server.log" -w start >/dev/null
    ;;
stop)
    [ -d "$dir/data" ] && as_pg pg_ctl -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    ;;
destroy)
    [ -d "$dir/data" ] && as_pg pg_ctl -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    rm -rf "$dir"
    ;;
*)
    echo "usage: pgcluster.sh start|stop|destroy DIR [PORT]" >&2
    exit 2
    ;;
esac
