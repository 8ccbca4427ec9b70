# Pieces the check scripts share; sourced (`. scripts/lib.sh`), never run.

# A TCP port free on 127.0.0.1 at the time of asking.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_logged LOG TEXT: waits (30 s at most) until a process's log says TEXT; else prints the
# log and fails.
wait_logged() {
  for _ in $(seq 1 300); do
    grep -q "$2" "$1" && return 0
    sleep 0.1
  done
  cat "$1"
  return 1
}

# wait_ready PORT LOG…: waits (30 s at most) until the debug `stroom` on PORT is ready; else
# prints the logs and fails.
wait_ready() {
  local port=$1
  shift
  for _ in $(seq 1 300); do
    ./target/debug/stroom ready --url "http://127.0.0.1:$port/readyz" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "the server on port $port did not start"
  cat "$@"
  exit 1
}

# scratch_database SERVER_URL NAME: creates the database NAME on the server SERVER_URL reaches
# and prints its URL; drop_database SERVER_URL NAME removes it again.
scratch_database() {
  psql -q "$1" -c "CREATE DATABASE $2" >&2
  echo "${1%/*}/$2"
}
drop_database() {
  psql -q "$1" -c "DROP DATABASE IF EXISTS $2 WITH (FORCE)" || true
}
