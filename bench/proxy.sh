#!/usr/bin/env bash
# Proxy benchmark: `gitway serve` against nginx and haproxy, all three routing the same table to one
# gitway-backend (--mode ok), for route tables of 1 and 10,000 routes. See bench/README.md.
#
# Usage: bench/proxy.sh            (release builds, installs wrk/nginx/haproxy if missing, ~3-4 min plus builds)
# Environment:
#   DURATION=10        seconds per wrk run          ROUNDS=2     alternating rounds (gitway, nginx, haproxy, ...)
#   ROUTE_COUNTS="1 10000"                          CONNECTIONS=64
#   PROXIES="gitway nginx haproxy haproxy-map"      (haproxy: one rule per route; haproxy-map: map lookups)
#   SCRATCH_PATH=.build  SwiftPM scratch path       SKIP_BUILD=1  use the binaries already in $SCRATCH_PATH/release
#   KEEP_WORK=1        keep the temporary directory (configs, logs, wrk outputs)
# Results are printed and written to bench/out/proxy-results.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/opt/swift/usr/bin"

DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-2}
ROUTE_COUNTS=${ROUTE_COUNTS:-"1 10000"}
PROXIES=${PROXIES:-"gitway nginx haproxy haproxy-map"}
CONNECTIONS=${CONNECTIONS:-64}
SCRATCH_PATH=${SCRATCH_PATH:-.build}
bin="$SCRATCH_PATH/release"
out=bench/out
results="$out/proxy-results.txt"
mkdir -p "$out"
work=$(mktemp -d /tmp/gitway-proxy-bench.XXXXXX)

# ---------------------------------------------------------------------------------------------------------------
# Processes: every server is started as a plain `cmd &` so that $! is the server itself (not a subshell), recorded
# here, and stopped by PID (TERM, then KILL after 5 s) and verified with kill -0, also on error or Ctrl-C.
declare -A running=()  # pid -> name

stop_pid() {
    local pid=$1 name=${running[$1]:-process}
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
        echo "warning: $name (pid $pid) ignored SIGTERM; sending SIGKILL" >&2
        kill -KILL "$pid" 2>/dev/null || true
        sleep 0.2
    fi
    wait "$pid" 2>/dev/null || true
    if kill -0 "$pid" 2>/dev/null; then echo "error: $name (pid $pid) is still running" >&2; fi
    unset "running[$pid]"
}

stop_all() {
    local pid
    for pid in "${!running[@]}"; do stop_pid "$pid"; done
}

cleanup() {
    local status=$?
    trap - EXIT INT TERM
    stop_all
    if [ "${KEEP_WORK:-0}" = 1 ]; then echo "kept $work"; else rm -rf "$work"; fi
    exit "$status"
}
trap cleanup EXIT
trap 'echo "interrupted" >&2; exit 130' INT
trap 'exit 143' TERM

say() { printf '%s\n' "$*" | tee -a "$results"; }

# A port nothing listens on (connect refused), not handed out before in this run.
declare -A used_ports=()
free_port() {
    local p
    while :; do
        p=$((20000 + RANDOM % 30000))
        [ -n "${used_ports[$p]:-}" ] && continue
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            used_ports[$p]=1
            echo "$p"
            return
        fi
    done
}

# wait_http URL EXPECTED_CODE SECONDS [curl args...]: polls until the URL answers with the code.
wait_http() {
    local url=$1 want=$2 seconds=$3
    shift 3
    local deadline=$((SECONDS + seconds))
    while [ $SECONDS -lt $deadline ]; do
        [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$@" "$url" 2>/dev/null)" = "$want" ] && return 0
        sleep 0.1
    done
    return 1
}

for routes in $ROUTE_COUNTS; do
    [[ $routes =~ ^[1-9][0-9]*$ ]] || { echo "error: ROUTE_COUNTS wants positive integers, got '$routes'" >&2; exit 2; }
done

# ---------------------------------------------------------------------------------------------------------------
# Tools and builds.
scripts/install-deps.sh --bench
for tool in wrk nginx haproxy curl; do
    command -v "$tool" >/dev/null || { echo "error: $tool is missing after scripts/install-deps.sh --bench" >&2; exit 2; }
done
if [ "${SKIP_BUILD:-0}" != 1 ]; then
    for product in gitway-backend gitway-bench; do
        echo "building $product (release)..."
        if ! swift build -c release --scratch-path "$SCRATCH_PATH" --product "$product" >"$work/$product-build.log" 2>&1; then
            grep -E 'error:' "$work/$product-build.log" | head -n 10 >&2 || tail -n 10 "$work/$product-build.log" >&2
            echo "error: building $product failed" >&2
            exit 2
        fi
    done
    echo "building gitway (release)..."
    if ! swift build -c release --scratch-path "$SCRATCH_PATH" --product gitway >"$work/gitway-build.log" 2>&1; then
        echo "warning: building gitway failed (last lines below); gitway will be skipped if no older binary works"
        grep -E 'error:' "$work/gitway-build.log" | head -n 5 || tail -n 5 "$work/gitway-build.log"
    fi
fi
gitway_available=1
if ! "$bin/gitway" serve --help >/dev/null 2>&1; then
    gitway_available=0
fi

# ---------------------------------------------------------------------------------------------------------------
# Header.
: >"$results"
say "Gitway proxy benchmark — $(date -u '+%Y-%m-%d %H:%M:%S UTC'), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
say "machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
say "NOTE: wrk, the proxy under test and the backend share these $(nproc) cores (loopback). Absolute numbers are low and"
say "      noisy; compare the ratios. Each proxy: 1 worker/thread (nginx worker_processes 1, haproxy nbthread 1)."
say "tools: $(wrk -v 2>&1 | head -n 1 | cut -d' ' -f1-2), $(nginx -v 2>&1 | cut -d' ' -f3), $(haproxy -v | head -n 1 | cut -d' ' -f1-3), backend: gitway-backend --mode ok --threads 1"
say "load: wrk -t1 -c$CONNECTIONS -d${DURATION}s --latency -H 'Host: bench.local' http://127.0.0.1:PORT/ ; $ROUNDS alternating rounds, best round by req/s"
load1=$(cut -d' ' -f1 /proc/loadavg)
if awk -v l="$load1" -v c="$(nproc)" 'BEGIN { exit !(l > c / 2) }'; then
    say "WARNING: the machine is busy (1-min load $load1 on $(nproc) cores): expect low and noisy numbers; rerun when idle"
fi
bench_start=$SECONDS
[ $gitway_available = 1 ] || say "gitway serve not available ('$bin/gitway serve --help' failed): gitway is skipped"

# ---------------------------------------------------------------------------------------------------------------
# Configurations, from the route list that `gitway-bench proxy-repo` writes (host<TAB>pathType<TAB>path, in order,
# the catch-all `bench.local Prefix /` last). Ingress Prefix /p matches /p and /p/...; Exact /p only /p.

write_nginx_conf() {  # routes.tsv listen-port backend-port prefix-dir
    local tsv=$1 port=$2 backend=$3 prefix=$4
    mkdir -p "$prefix/logs" "$prefix/tmp"
    {
        cat <<EOF
worker_processes 1;
pid $prefix/nginx.pid;
error_log $prefix/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $prefix/tmp/body;
  proxy_temp_path $prefix/tmp/proxy;
  fastcgi_temp_path $prefix/tmp/fcgi;
  uwsgi_temp_path $prefix/tmp/uwsgi;
  scgi_temp_path $prefix/tmp/scgi;
  keepalive_requests 1000000;
  server_names_hash_max_size 65536;
  server_names_hash_bucket_size 128;
  upstream bench { server 127.0.0.1:$backend; keepalive 64; }
  proxy_http_version 1.1;
  proxy_set_header Connection "";
  proxy_set_header Host \$host;
  # No route for the host: 404.
  server { listen 127.0.0.1:$port default_server; return 404; }
EOF
        awk -F'\t' '
            function close_server() { if (host != "") { if (!root) print "    location / { return 404; }"; print "  }" } }
            $1 != host {
                close_server(); host = $1; root = 0
                print "  server {\n    listen 127.0.0.1:'"$port"';\n    server_name " host ";"
            }
            $2 == "Exact" { print "    location = " $3 " { proxy_pass http://bench; }"; next }
            $3 == "/" { root = 1; print "    location / { proxy_pass http://bench; }"; next }
            { print "    location " $3 "/ { proxy_pass http://bench; }\n    location = " $3 " { proxy_pass http://bench; }" }
            END { close_server() }' "$tsv"
        echo "}"
    } >"$prefix/nginx.conf"
}

write_haproxy_conf() {  # routes.tsv listen-port backend-port file
    local tsv=$1 port=$2 backend=$3 file=$4
    {
        cat <<EOF
global
  nbthread 1
  maxconn 4000
defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
  option http-keep-alive
frontend fe
  bind 127.0.0.1:$port
EOF
        # One ACL per host and per route; use_backend rules in route order (catch-all last); no match: 404.
        awk -F'\t' '
            !($1 in hosts) { hosts[$1] = "host_" n++; print "  acl " hosts[$1] " hdr(host) -i " $1 }
            {
                r = "route_" NR
                if ($3 == "/" && $2 == "Prefix") { print "  use_backend bench if " hosts[$1]; next }
                if ($2 == "Exact") print "  acl " r " path " $3
                else print "  acl " r " path_beg " $3 "/\n  acl " r " path " $3
                print "  use_backend bench if " hosts[$1] " " r
            }' "$tsv"
        cat <<EOF
  default_backend no_route
backend bench
  http-reuse always
  server s1 127.0.0.1:$backend
backend no_route
  http-request return status 404
EOF
    } >"$file"
}

# haproxy as one would configure it for many routes: two map lookups (exact, then longest prefix) on the key
# host + path, both indexed trees, instead of one rule per route. Same table, same answers.
write_haproxy_map_conf() {  # routes.tsv listen-port backend-port file map-prefix
    local tsv=$1 port=$2 backend=$3 file=$4 maps=$5
    awk -F'\t' -v exact="$maps-exact.map" -v prefix="$maps-prefix.map" '
        BEGIN { printf "" > exact; printf "" > prefix }
        $2 == "Exact" { print $1 $3 " bench" > exact; next }
        $3 == "/" { print $1 "/ bench" > prefix; next }
        { print $1 $3 " bench" > exact; print $1 $3 "/ bench" > prefix }' "$tsv"
    cat >"$file" <<EOF
global
  nbthread 1
  maxconn 4000
defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
  option http-keep-alive
frontend fe
  bind 127.0.0.1:$port
  http-request set-var(txn.path) path
  http-request set-var(txn.route) req.hdr(host),field(1,:),lower,concat(,txn.path,)
  use_backend %[var(txn.route),map_str($maps-exact.map)] if { var(txn.route),map_str($maps-exact.map) -m found }
  use_backend %[var(txn.route),map_beg($maps-prefix.map)] if { var(txn.route),map_beg($maps-prefix.map) -m found }
  default_backend no_route
backend bench
  http-reuse always
  server s1 127.0.0.1:$backend
backend no_route
  http-request return status 404
EOF
}

# ---------------------------------------------------------------------------------------------------------------
# wrk runs. parse_wrk FILE -> "req/s p50ms p99ms errors" (latencies converted to ms; errors = non-2xx/3xx + socket).
parse_wrk() {
    awk '
        function ms(v) {
            if (v ~ /us$/) return substr(v, 1, length(v) - 2) / 1000
            if (v ~ /ms$/) return substr(v, 1, length(v) - 2) + 0
            if (v ~ /s$/) return substr(v, 1, length(v) - 1) * 1000
            return v + 0
        }
        /Requests\/sec:/ { rps = $2 }
        $1 == "50%" { p50 = ms($2) }
        $1 == "99%" { p99 = ms($2) }
        /Non-2xx or 3xx responses:/ { errors += $NF }
        /Socket errors:/ { gsub(",", ""); errors += $4 + $6 + $8 + $10 }
        END { printf "%.0f %.2f %.2f %d\n", rps, p50, p99, errors }' "$1"
}

run_wrk() {  # name port label-file
    wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency -H 'Host: bench.local' "http://127.0.0.1:$2/" >"$3" 2>&1 || true
}

mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

pss_kib() {  # pid... (summed)
    local total=0 pid v
    for pid in "$@"; do
        v=$(awk '/^Pss:/ { print $2 }' "/proc/$pid/smaps_rollup" 2>/dev/null) || true
        total=$((total + ${v:-0}))
    done
    echo "$total"
}

rss_kib() {  # pid... (summed)
    local total=0 pid v
    for pid in "$@"; do
        v=$(ps -o rss= -p "$pid" 2>/dev/null | tr -d ' ') || true
        total=$((total + ${v:-0}))
    done
    echo "$total"
}

# Routing check before measuring: the catch-all, a prefix route (exact and below), a near miss, an unknown host.
check_routing() {  # name port routes.tsv
    local name=$1 port=$2 tsv=$3 host path got failures=""
    local -a cases=("bench.local / 200" "bench.local /anything/below 200" "unknown.example / 404")
    IFS=$'\t' read -r host _ path <"$tsv"
    if [ "$path" != "/" ]; then cases+=("$host $path 200" "$host $path/x 200" "$host ${path}x 404" "$host /none 404"); fi
    local c h p want
    for c in "${cases[@]}"; do
        read -r h p want <<<"$c"
        got=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H "Host: $h" "http://127.0.0.1:$port$p" || true)
        [ "$got" = "$want" ] || failures+=" [$h$p: $got, want $want]"
    done
    if [ -n "$failures" ]; then say "  routing check $name: MISMATCH$failures"; else say "  routing check $name: ok (${#cases[@]} cases)"; fi
}

# ---------------------------------------------------------------------------------------------------------------
for routes in $ROUTE_COUNTS; do
    say ""
    dir="$work/r$routes"
    mkdir -p "$dir"
    "$bin/gitway-backend" --listen 127.0.0.1:0 --mode ok --threads 1 --ready-file "$dir/backend.port" >"$dir/backend.log" 2>&1 &
    backend_pid=$!
    running[$backend_pid]=backend
    for _ in $(seq 100); do [ -s "$dir/backend.port" ] && break; sleep 0.1; done
    [ -s "$dir/backend.port" ] || { echo "error: gitway-backend did not start: $(cat "$dir/backend.log")" >&2; exit 1; }
    backend_port=$(cat "$dir/backend.port")
    gen=$("$bin/gitway-bench" proxy-repo "$dir/repo.git" --routes "$routes" --backend-port "$backend_port" \
        --route-list "$dir/routes.tsv" 2>&1) || { echo "error: gitway-bench proxy-repo failed: $gen" >&2; exit 1; }
    hosts=$(cut -f1 "$dir/routes.tsv" | sort -u | wc -l)
    say "== $routes route(s): $((routes - 1)) Prefix /r<i> routes over $((hosts - 1)) host(s), then the catch-all Prefix / on bench.local; backend 127.0.0.1:$backend_port =="
    echo "   $gen"

    declare -A port=() pids=()
    proxies=()

    for p in $PROXIES; do
        port[$p]=$(free_port)
        case $p in
            gitway)
                [ $gitway_available = 1 ] || continue
                admin=$(free_port)
                t0=$(date +%s.%N)
                "$bin/gitway" serve --repo "$dir/repo.git" --listen "127.0.0.1:${port[gitway]}" --admin "127.0.0.1:$admin" \
                    --state-dir "$dir/gitway-state" --threads "${GITWAY_THREADS:-1}" --access-log off >"$dir/gitway.log" 2>&1 &
                ;;
            nginx)
                write_nginx_conf "$dir/routes.tsv" "${port[nginx]}" "$backend_port" "$dir/nginx"
                if ! nginx -t -q -c "$dir/nginx/nginx.conf" -p "$dir/nginx" >"$dir/nginx-t.log" 2>&1; then
                    say "  nginx: configuration rejected; skipped: $(head -n 3 "$dir/nginx-t.log")"
                    continue
                fi
                nginx -c "$dir/nginx/nginx.conf" -p "$dir/nginx" -g 'daemon off;' >"$dir/nginx/stdout.log" 2>&1 &
                ;;
            haproxy | haproxy-map)
                if [ "$p" = haproxy ]; then
                    write_haproxy_conf "$dir/routes.tsv" "${port[$p]}" "$backend_port" "$dir/$p.cfg"
                else
                    write_haproxy_map_conf "$dir/routes.tsv" "${port[$p]}" "$backend_port" "$dir/$p.cfg" "$dir/$p"
                fi
                if ! haproxy -c -q -f "$dir/$p.cfg" >"$dir/$p-c.log" 2>&1; then
                    say "  $p: configuration rejected; skipped: $(head -n 3 "$dir/$p-c.log")"
                    continue
                fi
                haproxy -f "$dir/$p.cfg" >"$dir/$p.log" 2>&1 &
                ;;
            *) echo "error: unknown proxy '$p' in PROXIES" >&2; exit 2 ;;
        esac
        pids[$p]=$!
        running[${pids[$p]}]=$p
        if [ "$p" = gitway ]; then
            if wait_http "http://127.0.0.1:$admin/readyz" 200 60; then
                t1=$(date +%s.%N)
                say "  gitway ready in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') s (start to /readyz 200)"
                proxies+=(gitway)
            else
                say "  gitway: /readyz not 200 within 60 s; skipped. Last log lines:"
                tail -n 5 "$dir/gitway.log" | sed 's/^/    /' | tee -a "$results"
                stop_pid "${pids[gitway]}"
            fi
        elif wait_http "http://127.0.0.1:${port[$p]}/" 200 20 -H 'Host: bench.local'; then
            proxies+=("$p")
        else
            say "  $p did not start or does not route bench.local; skipped. Last log lines:"
            tail -n 5 "$dir"/"$p"*.log 2>/dev/null | sed 's/^/    /' | tee -a "$results"
            stop_pid "${pids[$p]}"
        fi
    done

    for p in "${proxies[@]}"; do check_routing "$p" "${port[$p]}" "$dir/routes.tsv"; done

    # Measure: a 1 s warm-up each, then the backend directly once, then alternating rounds.
    for p in "${proxies[@]}"; do
        wrk -t1 -c"$CONNECTIONS" -d1s -H 'Host: bench.local' "http://127.0.0.1:${port[$p]}/" >/dev/null 2>&1 || true
    done
    echo "   measuring: direct, then $ROUNDS round(s) of ${proxies[*]} (${DURATION}s each)"
    run_wrk direct "$backend_port" "$dir/wrk-direct.txt"
    declare -A best=()
    best[direct]=$(parse_wrk "$dir/wrk-direct.txt")
    for round in $(seq "$ROUNDS"); do
        for p in "${proxies[@]}"; do
            run_wrk "$p" "${port[$p]}" "$dir/wrk-$p-$round.txt"
            r=$(parse_wrk "$dir/wrk-$p-$round.txt")
            say "   round $round $(printf '%-12s' "$p") $r  (req/s p50ms p99ms errors)"
            if [ -z "${best[$p]:-}" ] || [ "${r%% *}" -gt "${best[$p]%% *}" ]; then best[$p]=$r; fi
        done
    done

    # Memory after the runs: RSS as ps shows it (nginx: master + worker summed, so pages they share count twice)
    # and PSS (shared pages divided among the processes sharing them), from /proc/PID/smaps_rollup.
    declare -A rss=() pss=()
    for p in direct "${proxies[@]}"; do
        group=("${pids[$p]:-$backend_pid}")
        if [ "$p" = nginx ]; then mapfile -t -O 1 group < <(pgrep -P "${pids[nginx]}" || true); fi
        rss[$p]=$(rss_kib "${group[@]}")
        pss[$p]=$(pss_kib "${group[@]}")
    done

    say "  $(printf '%-12s %9s %8s %8s %8s %8s %7s' proxy 'req/s' 'p50 ms' 'p99 ms' 'RSS MiB' 'PSS MiB' errors)"
    for p in direct "${proxies[@]}"; do
        read -r rps p50 p99 errors <<<"${best[$p]}"
        label=$p
        [ "$p" = direct ] && label="(direct)"
        say "  $(printf '%-12s %9s %8s %8s %8s %8s %7s' "$label" "$rps" "$p50" "$p99" "$(mib "${rss[$p]}")" "$(mib "${pss[$p]}")" "$errors")"
    done
    say "  (direct) = wrk against the backend alone, the ceiling on this machine; its memory is the backend's."
    if [ -n "${best[gitway]:-}" ]; then
        ratios=""
        for other in nginx haproxy haproxy-map; do
            [ -n "${best[$other]:-}" ] || continue
            ratios+="  gitway/$other $(awk -v a="${best[gitway]%% *}" -v b="${best[$other]%% *}" 'BEGIN { printf "%.2fx", (b > 0 ? a / b : 0) }')"
        done
        say "  req/s ratios:$ratios"
        revision=$(curl -s --max-time 2 "http://127.0.0.1:$admin/revision" || true)
        swap=$(grep -o '"swapMilliseconds" *: *[0-9.eE+-]*' <<<"$revision" | head -n 1 | sed 's/.*: *//' || true)
        rev=$(grep -o '"revision" *: *"[^"]*"' <<<"$revision" | head -n 1 | sed 's/.*: *"\(.*\)"$/\1/' || true)
        say "  gitway /revision: ${rev:-?}; swapMilliseconds: ${swap:-(not in /revision)}"
    fi
    for p in $PROXIES; do
        [ -n "${best[$p]:-}" ] || [ "$p/$gitway_available" = gitway/0 ] || say "  $p: no result"
    done
    stop_all
    unset port pids best rss pss
done
say ""
say "benchmark time: $((SECONDS - bench_start)) s (builds excluded); results written to $results"
