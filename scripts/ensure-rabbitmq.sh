#!/usr/bin/env bash
# Make sure RabbitMQ answers on the AMQP port (and, with --management, its HTTP API,
# which the per-test vhost fixtures use). Starts it if installed, installs it on Debian
# as root if missing, otherwise says what to do. With --marker FILE, FILE is created when
# this script started the broker, so `make run` can stop it again on exit.
set -euo pipefail
want_management=0
marker=""
while [ $# -gt 0 ]; do
  case "$1" in
    --management) want_management=1 ;;
    --marker) marker="$2"; shift ;;
    *) echo "usage: $0 [--management] [--marker FILE]" >&2; exit 2 ;;
  esac
  shift
done
host=127.0.0.1; port=5672

answers() { (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; }
management_answers() { curl -fsS -u guest:guest "http://$host:15672/api/overview" >/dev/null 2>&1; }

wait_for() {  # wait_for <check> <what>
  for _ in $(seq 1 60); do "$1" && return 0; sleep 1; done
  echo "error: $2 did not come up within 60 s" >&2; exit 1
}

if ! answers; then
  if ! command -v rabbitmq-server >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      echo "RabbitMQ is not installed: installing it from Debian's packages..."
      DEBIAN_FRONTEND=noninteractive apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rabbitmq-server >/dev/null
    else
      echo "error: no RabbitMQ answers at $host:$port and rabbitmq-server is not installed." >&2
      echo "Install RabbitMQ (https://www.rabbitmq.com/download.html) or set AMQP_URI to a running broker." >&2
      exit 1
    fi
  fi
  echo "Starting RabbitMQ..."
  rabbitmq-server -detached >/dev/null 2>&1 || true
  wait_for answers "RabbitMQ on $host:$port"
  if [ -n "$marker" ]; then mkdir -p "$(dirname "$marker")"; touch "$marker"; fi
fi

if [ "$want_management" = 1 ] && ! management_answers; then
  rabbitmq-plugins enable --quiet rabbitmq_management >/dev/null
  wait_for management_answers "RabbitMQ management API on $host:15672"
fi
echo "RabbitMQ answers on $host:$port"
