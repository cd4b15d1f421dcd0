#!/usr/bin/env bash
# Start the machine's PostgreSQL server if it is installed but not answering.
# In CI (CI=true) an unreachable server is an error: the PostgreSQL tests must run, not skip.
set -u
host=${CONNECTFLOW_TEST_PG_HOST:-127.0.0.1}
port=${CONNECTFLOW_TEST_PG_PORT:-5432}
ready() { pg_isready -q -h "$host" -p "$port" 2>/dev/null || (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; }
if ready; then echo "postgres: $host:$port is up"; exit 0; fi
if [ -d /etc/postgresql ] && command -v pg_ctlcluster >/dev/null; then
  echo "postgres: starting the local cluster"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
  for _ in $(seq 1 30); do ready && { echo "postgres: $host:$port is up"; exit 0; }; sleep 1; done
fi
if [ "${CI:-}" = "true" ]; then
  echo "postgres: no server on $host:$port and CI=true: the PostgreSQL tests cannot be skipped" >&2
  exit 1
fi
echo "postgres: no server on $host:$port; PostgreSQL tests will be skipped (CI=true makes this an error)"
