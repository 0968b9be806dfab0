#!/usr/bin/env bash
# Makes the container's base image as an OCI layout, without a Docker daemon or any registry but Debian's:
# a minimal root file system unpacked from Debian packages (what the self-contained app needs at run time:
# glibc, libstdc++, OpenSSL, ICU, zlib, time zones, CA certificates; busybox, whose wget is the health check's
# probe), an unprivileged user `app` (uid 1654, as in Microsoft's images), port 8080.
# Usage: prepare-base-image.sh LAYOUT_DIR   (prints the layout's tag; does nothing when the layout is there)
set -euo pipefail

layout=${1:?usage: prepare-base-image.sh LAYOUT_DIR}
tag=bookworm
packages=(libc6 libgcc-s1 libstdc++6 libssl3 zlib1g libicu72 tzdata ca-certificates busybox-static)
app_uid=1654

if [ -f "$layout/index.json" ]; then
  echo "$tag"
  exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/debs" "$work/rootfs"

# apt-get download needs the package lists; a fresh machine has none until apt-get update.
if ! (cd "$work/debs" && apt-get download -qq "${packages[@]}" >/dev/null 2>&1); then
  apt-get update -qq
  (cd "$work/debs" && apt-get download -qq "${packages[@]}" >/dev/null)
fi

rootfs="$work/rootfs"
for deb in "$work"/debs/*.deb; do
  dpkg-deb -x "$deb" "$rootfs"
done

# What maintainer scripts would do: the CA bundle (ca-certificates' postinst), the merged /usr layout's links
# that libc6's paths need (/lib64/ld-linux-x86-64.so.2), a shell-less passwd, a world-writable /tmp.
mkdir -p "$rootfs/etc/ssl/certs" "$rootfs/tmp" "$rootfs/home/app" "$rootfs/proc" "$rootfs/dev" "$rootfs/sys"
cat "$rootfs"/usr/share/ca-certificates/mozilla/*.crt > "$rootfs/etc/ssl/certs/ca-certificates.crt"
for dir in bin lib lib64 sbin; do
  if [ -d "$rootfs/usr/$dir" ] && [ ! -e "$rootfs/$dir" ]; then
    ln -s "usr/$dir" "$rootfs/$dir"
  fi
done
chmod 1777 "$rootfs/tmp"
ln -sf /usr/share/zoneinfo/Etc/UTC "$rootfs/etc/localtime"
printf 'root:x:0:0:root:/root:/usr/sbin/nologin\napp:x:%s:%s:app:/home/app:/usr/sbin/nologin\n' "$app_uid" "$app_uid" > "$rootfs/etc/passwd"
printf 'root:x:0:\napp:x:%s:\n' "$app_uid" > "$rootfs/etc/group"
rm -rf "$rootfs/usr/share/doc" "$rootfs/usr/share/man" "$rootfs/usr/share/lintian" "$rootfs/usr/share/locale"

# One layer, gzipped, with stable owners and times so the same packages give the same digest.
# The app user's home is its own (ASP.NET Core keeps data-protection keys there when nothing else is configured).
stable=(--sort=name --numeric-owner --mtime='2000-01-01 00:00:00Z')
tar --create "${stable[@]}" --owner=0 --group=0 --exclude=./home/app -C "$rootfs" . > "$work/layer.tar"
tar --append "${stable[@]}" --owner="$app_uid" --group="$app_uid" --no-recursion -f "$work/layer.tar" -C "$rootfs" ./home/app
diff_id=$(sha256sum "$work/layer.tar" | cut -d' ' -f1)
gzip -n -9 < "$work/layer.tar" > "$work/layer.tar.gz"

mkdir -p "$work/layout/blobs/sha256"
blob() { # FILE MEDIATYPE -> prints a descriptor JSON, stores the blob
  local digest size
  digest=$(sha256sum "$1" | cut -d' ' -f1)
  size=$(stat -c %s "$1")
  cp "$1" "$work/layout/blobs/sha256/$digest"
  printf '{"mediaType":"%s","digest":"sha256:%s","size":%s}' "$2" "$digest" "$size"
}
layer=$(blob "$work/layer.tar.gz" application/vnd.oci.image.layer.v1.tar+gzip)

cat > "$work/config.json" <<JSON
{"architecture":"amd64","os":"linux",
 "config":{"User":"$app_uid","WorkingDir":"/app",
  "Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin","APP_UID=$app_uid","ASPNETCORE_HTTP_PORTS=8080","DOTNET_RUNNING_IN_CONTAINER=true"],
  "ExposedPorts":{"8080/tcp":{}}},
 "rootfs":{"type":"layers","diff_ids":["sha256:$diff_id"]},
 "history":[{"created_by":"deploy/container/prepare-base-image.sh: ${packages[*]}"}]}
JSON
config=$(blob "$work/config.json" application/vnd.oci.image.config.v1+json)
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":%s,"layers":[%s]}' \
  "$config" "$layer" > "$work/manifest.json"
manifest=$(blob "$work/manifest.json" application/vnd.oci.image.manifest.v1+json)
printf '{"schemaVersion":2,"manifests":[%s]}' \
  "${manifest%\}},\"annotations\":{\"org.opencontainers.image.ref.name\":\"$tag\"}}" > "$work/layout/index.json"
printf '{"imageLayoutVersion":"1.0.0"}' > "$work/layout/oci-layout"

mkdir -p "$(dirname "$layout")"
rm -rf "$layout"
mv "$work/layout" "$layout"
echo "$tag"
