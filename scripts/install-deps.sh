#!/usr/bin/env bash
# Installs what building and testing Gitway needs and is missing, on Debian 12 (or Ubuntu).
# Idempotent: does nothing when everything is present. Usage: scripts/install-deps.sh [--test] [--bench]
#   --test  accepted for compatibility; the test suite's needs are always installed (see below).
#   --bench also the proxy benchmark's tools (bench/proxy.sh): wrk, nginx, haproxy, curl. Installing the
#           packages starts no system nginx/haproxy where no init system runs; the benchmark runs private instances.
set -euo pipefail

packages=(libgit2-dev libyaml-dev libcurl4-openssl-dev pkg-config curl)
# Test infrastructure: GitSourceTests' SSHRemoteTests start a loopback sshd (openssh-server), make keys with
# ssh-keygen (openssh-client) and serve the repository with git-upload-pack (git). They run their own sshd on a
# free port; a system sshd the package may start (only where an init system runs) does not affect them.
packages+=(openssh-server openssh-client git)
for arg in "$@"; do
    case "$arg" in
        --bench) packages+=(wrk nginx haproxy curl) ;;
        --test) ;;
        *) echo "install-deps.sh: ignoring unknown argument $arg" >&2 ;;
    esac
done

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
    echo "installing: ${missing[*]}"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v swift >/dev/null 2>&1; then
    for candidate in /opt/swift/usr/bin /usr/share/swift/usr/bin; do
        [ -x "$candidate/swift" ] && { echo "note: add $candidate to PATH"; exit 0; }
    done
    echo "error: no Swift toolchain found; install Swift 6.1 or newer from https://www.swift.org/install/linux/" >&2
    exit 2
fi
