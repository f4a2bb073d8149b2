# Sourced by the multi-process benchmarks: a scratch dir ($work) removed on exit, the
# background processes they start ($pids, killed on exit) and a free loopback port (`port`).
work="$(mktemp -d -t "r1-${BENCH_NAME:-bench}.XXXXXX")"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
