#!/usr/bin/env bash
# `make demo`: validate the example routing repository, show its route table, then serve it with
# the demo backends on loopback until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-.build/debug/gitway}
backend=${2:-.build/debug/gitway-backend}
listen=${GITWAY_DEMO_LISTEN:-127.0.0.1:8080}
admin=${GITWAY_DEMO_ADMIN:-127.0.0.1:9180}

echo "\$ gitway validate --repo examples-repo --verbose"
"$bin" validate --repo examples-repo --verbose
echo
echo "\$ gitway routes --repo examples-repo"
"$bin" routes --repo examples-repo
echo

pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

# The demo backends the example's EndpointSlices point at.
for spec in 9101:web 9102:api 9103:blog; do
    "$backend" --listen "127.0.0.1:${spec%%:*}" --name "${spec##*:}" >/dev/null &
    pids+=($!)
done

echo "\$ gitway serve --repo examples-repo --listen $listen --admin $admin"
"$bin" serve --repo examples-repo --listen "$listen" --admin "$admin" --poll 2s &
pids+=($!)
for _ in $(seq 1 100); do
    curl -sf "http://$admin/readyz" >/dev/null 2>&1 && break
    sleep 0.1
done

cat <<MSG

Gitway is serving examples-repo (edit a file there: it is picked up within 2 s). Try:

  curl -H 'Host: shop.example.com' http://$listen/api/orders      # → api backend
  curl -H 'Host: shop.example.com' http://$listen/healthz         # → web (Exact)
  curl -H 'Host: preview.blog.example.com' http://$listen/        # → blog (wildcard host)
  curl -i -H 'Host: nowhere.example.com' http://$listen/          # → 404
  curl http://$admin/revision                                     # live and last attempted revision
  curl http://$admin/metrics                                      # Prometheus metrics

Press Ctrl-C to stop.
MSG
wait "${pids[-1]}"
