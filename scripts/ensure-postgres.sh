#!/usr/bin/env bash
# Make sure a PostgreSQL server answers on 127.0.0.1:5432 for the persistence tests.
# Starts the local cluster if installed, installs it on Debian as root if missing.
set -euo pipefail
ready() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }
if command -v pg_isready >/dev/null 2>&1 && ready; then echo "PostgreSQL answers on 127.0.0.1:5432"; exit 0; fi
if ! command -v pg_ctlcluster >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "PostgreSQL is not installed: installing it from Debian's packages..."
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  else
    echo "error: no PostgreSQL at 127.0.0.1:5432; install it or set TEST_POSTGRES_URL" >&2; exit 1
  fi
fi
version=$(ls /etc/postgresql | sort -n | tail -1)
pg_ctlcluster --skip-systemctl-redirect "$version" main start 2>/dev/null || true
for _ in $(seq 1 30); do ready && break; sleep 1; done
ready || { echo "error: PostgreSQL did not come up" >&2; exit 1; }
# The tests connect as postgres over TCP without a password, as on the CI machines.
hba=/etc/postgresql/$version/main/pg_hba.conf
if ! psql -h 127.0.0.1 -U postgres -c 'select 1' >/dev/null 2>&1 && [ -w "$hba" ]; then
  sed -i 's/^\(host\s\+all\s\+all\s\+127.0.0.1\/32\s\+\)\S\+/\1trust/' "$hba"
  pg_ctlcluster --skip-systemctl-redirect "$version" main reload
fi
echo "PostgreSQL answers on 127.0.0.1:5432"
