#!/usr/bin/env bash
# Starts the local services the tests use (PostgreSQL, NATS JetStream, Redis) when one is not
# answering on its loopback port; Debian's packages and paths. Leaves running ones alone.
set -uo pipefail

answers() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_for() {
  local port=$1 name=$2
  for _ in $(seq 1 30); do
    answers "$port" && return 0
    sleep 1
  done
  echo "warning: $name is still not answering on 127.0.0.1:$port" >&2
}

if ! answers 5432 && command -v pg_ctlcluster >/dev/null 2>&1; then
  echo "starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
  wait_for 5432 PostgreSQL
fi
if ! answers 4222 && [ -x /usr/sbin/nats-server ]; then
  echo "starting NATS"
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- \
    -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log || true
  wait_for 4222 NATS
fi
if ! answers 6379 && command -v redis-server >/dev/null 2>&1; then
  echo "starting Redis"
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
  wait_for 6379 Redis
fi
exit 0
