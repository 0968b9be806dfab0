#!/usr/bin/env bash
# Runs every test of OpsConsole. Installs first what a fresh machine lacks:
# PostgreSQL server binaries (the tests start their own throwaway cluster) and Debian's Chromium
# (the browser tests drive it through Playwright), systemd-analyze (deploy/opsconsole.service's tests), Debian's nginx
# (the two-instance test runs deploy/nginx.conf). The container
# image test installs what it needs itself (deploy/container/build-image.sh). Extra arguments go to `dotnet test`.
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

if [ ! -x /usr/sbin/nginx ]; then
  echo "test.sh: installing nginx for the two-instance test (it runs its own nginx, not the system service)"
  apt_install nginx
fi

if ! command -v systemd-analyze >/dev/null 2>&1; then
  echo "test.sh: installing systemd's tools for the unit-file tests"
  apt_install systemd
fi

# One TRX file per test project, summed into the plain closing line CI reads.
results="TestResults/run-$(date +%Y%m%d-%H%M%S)"
status=0
dotnet test OpsConsole.sln --logger trx --results-directory "$results" "$@" || status=$?

passed=0
failed=0
for trx in "$results"/*.trx; do
  [ -f "$trx" ] || continue
  counters=$(grep -o '<Counters [^>]*>' "$trx" | head -n 1)
  passed=$((passed + $(echo "$counters" | grep -o ' passed="[0-9]*"' | tr -dc '0-9')))
  failed=$((failed + $(echo "$counters" | grep -o ' failed="[0-9]*"' | tr -dc '0-9')))
done
echo "$passed passed, $failed failed"
exit "$status"
