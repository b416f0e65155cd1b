#!/usr/bin/env bash
# A throw-away PostgreSQL cluster for the tests: Debian's server, initdb as the `postgres`
# user into a temporary directory, listening on 127.0.0.1 and a free port only.
#
#   scripts/pg-cluster.sh start DIR   # installs postgresql if missing, starts, prints the URL
#   scripts/pg-cluster.sh stop DIR    # stops the cluster and removes DIR
#   scripts/pg-cluster.sh url DIR     # prints the URL of a running cluster
#
# The URL names role `euid` (password `euid-test`, CREATEDB, so each test can make its own
# database) and database `euid`. Tests read it from EUID_TEST_POSTGRES_URL.
set -euo pipefail

usage() {
  echo "usage: $0 start|stop|url DIR" >&2
  exit 2
}
[ $# -eq 2 ] || usage
cmd=$1
dir=$2

as_postgres() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    # Not root: run the server as ourselves (initdb refuses only root).
    "$@"
  fi
}

pg_bin() {
  local bin
  bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  [ -n "$bin" ] && [ -x "$bin/initdb" ] || return 1
  echo "$bin"
}

install_server() {
  if pg_bin >/dev/null; then
    return
  fi
  echo "pg-cluster: installing Debian's postgresql" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  # The package's own cluster would start through systemd, which these machines lack;
  # policy-rc.d keeps it from trying.
  printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
  chmod +x /usr/sbin/policy-rc.d
  apt-get install -y -qq --no-install-recommends postgresql >&2
  rm -f /usr/sbin/policy-rc.d
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

case $cmd in
  start)
    install_server
    bin=$(pg_bin)
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    if [ "$(id -u)" -eq 0 ]; then
      chown postgres: "$dir"
    fi
    chmod 0700 "$dir"
    pwfile=$(mktemp)
    echo "euid-test" >"$pwfile"
    chmod 0644 "$pwfile"
    as_postgres "$bin/initdb" -D "$dir/data" -U postgres --auth-local=trust \
      --auth-host=scram-sha-256 --pwfile="$pwfile" -E UTF8 --no-locale >"$dir/initdb.log" 2>&1 || {
      cat "$dir/initdb.log" >&2
      exit 1
    }
    rm -f "$pwfile"
    port=$(free_port)
    # Loopback only, socket in DIR (not /var/run), fsync on: the tests count on commits.
    as_postgres "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c max_connections=200" start >&2 || {
      cat "$dir/server.log" >&2
      exit 1
    }
    as_postgres "$bin/psql" -h "$dir" -p "$port" -U postgres -d postgres -q -v ON_ERROR_STOP=1 \
      -c "CREATE ROLE euid LOGIN CREATEDB PASSWORD 'euid-test'" \
      -c "CREATE DATABASE euid OWNER euid" >&2
    url="postgres://euid:euid-test@127.0.0.1:$port/euid"
    echo "$url" >"$dir/url"
    echo "$url"
    ;;
  url)
    cat "$dir/url"
    ;;
  stop)
    if bin=$(pg_bin) && [ -d "$dir/data" ]; then
      as_postgres "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >&2 || true
    fi
    rm -rf "$dir"
    ;;
  *)
    usage
    ;;
esac
