#!/usr/bin/env bash
# Builds the console's container image with the .NET SDK (no Docker daemon) into an image tarball:
#   deploy/container/build-image.sh OUTPUT.tar.gz [extra dotnet publish arguments]
# The base image is made here from Debian packages (prepare-base-image.sh) and served to the SDK by Debian's
# docker-registry on a loopback port for the length of the build. Everything reusable (the base layout, the
# registry's storage, the build's obj/bin) is kept under $OPSCONSOLE_CONTAINER_CACHE (default artifacts/container,
# ignored by git), so a second build only republishes the app.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
output=${1:?usage: build-image.sh OUTPUT.tar.gz [dotnet publish arguments]}
shift
case "$output" in /*) ;; *) output="$PWD/$output" ;; esac
cache=${OPSCONSOLE_CONTAINER_CACHE:-$repo/artifacts/container}
mkdir -p "$cache"

missing=()
command -v docker-registry >/dev/null 2>&1 || missing+=(docker-registry)
command -v skopeo >/dev/null 2>&1 || missing+=(skopeo)
command -v apt-get >/dev/null 2>&1 || { echo "build-image.sh: needs a Debian machine (apt-get)" >&2; exit 1; }
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "build-image.sh: missing ${missing[*]}; install it (sudo apt-get install -y ${missing[*]}) or run as root." >&2
    exit 1
  fi
  echo "build-image.sh: installing ${missing[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

tag=$("$here/prepare-base-image.sh" "$cache/base-layout")

# The registry listens on loopback only, without TLS or accounts, and only while this script runs.
mkdir -p "$cache/registry"
registry_pid=
stop_registry() { if [ -n "$registry_pid" ]; then kill "$registry_pid" 2>/dev/null || true; wait "$registry_pid" 2>/dev/null || true; fi; }
trap stop_registry EXIT
for attempt in 1 2 3 4 5; do
  port=$((20000 + RANDOM % 40000))
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then continue; fi
  cat > "$cache/registry.yml" <<YAML
version: 0.1
log: { level: warn, accesslog: { disabled: true } }
storage: { filesystem: { rootdirectory: $cache/registry } }
http: { addr: 127.0.0.1:$port }
YAML
  docker-registry serve "$cache/registry.yml" >"$cache/registry.log" 2>&1 &
  registry_pid=$!
  for _ in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break 2; fi
    kill -0 "$registry_pid" 2>/dev/null || break
    sleep 0.1
  done
  stop_registry
  registry_pid=
done
if [ -z "$registry_pid" ]; then
  echo "build-image.sh: the local registry did not start; see $cache/registry.log" >&2
  exit 1
fi

base="127.0.0.1:$port/opsconsole-base:$tag"
skopeo copy --quiet --dest-tls-verify=false "oci:$cache/base-layout:$tag" "docker://$base"

mkdir -p "$(dirname "$output")"
DOTNET_CONTAINER_INSECURE_REGISTRIES="127.0.0.1:$port" dotnet publish "$repo/src/OpsConsole/OpsConsole.csproj" \
  -c Release -r linux-x64 --self-contained -t:PublishContainer --artifacts-path "$cache/build" -nologo -v:q \
  -p:ContainerBaseImage="$base" -p:ContainerArchiveOutputPath="$output" "$@"
