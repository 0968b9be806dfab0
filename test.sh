#!/usr/bin/env bash
# Runs every test of OpsConsole. Installs first what a fresh machine lacks:
# PostgreSQL server binaries (the tests start their own throwaway cluster) and Debian's Chromium
# (the browser tests drive it through Playwright). Extra arguments go to `dotnet test`.
set -euo pipefail
cd "$(dirname "$0")"

apt_updated=0
apt_install() {
  if [ "$(id -u)" -ne 0 ]; then
    echo "test.sh: missing $*; install it (sudo apt-get install -y $*) or run as root." >&2
    exit 1
  fi
  if [ "$apt_updated" -eq 0 ]; then
    apt-get update -qq
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

if ! command -v initdb >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  echo "test.sh: installing PostgreSQL server binaries"
  apt_install postgresql
fi

if [ ! -x /usr/bin/chromium ]; then
  echo "test.sh: installing Chromium for the browser tests"
  apt_install chromium
fi

dotnet test OpsConsole.sln "$@"
