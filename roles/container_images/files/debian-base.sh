#!/usr/bin/env bash
# Builds a minimal Debian image with debootstrap and imports it into the local engine,
# for hosts that cannot pull from any registry. Everything registry-free builds FROM it.
# Usage: debian-base.sh IMAGE_REF [SUITE] [MIRROR]
# Does nothing when IMAGE_REF already exists (prints "present").
set -euo pipefail
image=${1:?image reference, e.g. deployer/debian:bookworm}
suite=${2:-bookworm}
mirror=${3:-http://deb.debian.org/debian}

if docker image inspect "$image" >/dev/null 2>&1; then echo present; exit 0; fi
command -v debootstrap >/dev/null || {
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
}
rootfs=$(mktemp -d /var/tmp/debian-base.XXXXXX)
trap 'rm -rf "$rootfs"' EXIT
debootstrap --variant=minbase "$suite" "$rootfs" "$mirror" >/dev/null
# Same trimming as the official debian images: no apt caches, no docs, no recommends.
cat >"$rootfs/etc/apt/apt.conf.d/docker-clean" <<'CONF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache ""; Dir::Cache::srcpkgcache "";
CONF
echo 'APT::Install-Recommends "false"; APT::Install-Suggests "false";' >"$rootfs/etc/apt/apt.conf.d/docker-no-recommends"
printf 'path-exclude /usr/share/doc/*\npath-include /usr/share/doc/*/copyright\npath-exclude /usr/share/man/*\npath-exclude /usr/share/locale/*\n' \
  >"$rootfs/etc/dpkg/dpkg.cfg.d/docker-nodoc"
# Security updates come from the same mirror host as the distribution.
security=${mirror%/debian}/debian-security
echo "deb $mirror $suite main
deb $mirror $suite-updates main
deb $security $suite-security main" >"$rootfs/etc/apt/sources.list"
# debootstrap installs the suite as released: bring the base up to its security and point-release updates.
chroot "$rootfs" apt-get -qq update
DEBIAN_FRONTEND=noninteractive chroot "$rootfs" apt-get -qq -y dist-upgrade >/dev/null
# The dpkg excludes above only apply to later installs: drop what debootstrap already unpacked (translations,
# docs but their copyright files) and the packages it downloaded (about 60 MB of the base otherwise).
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb \
  "$rootfs"/usr/share/man/*
find "$rootfs"/usr/share/locale -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
find "$rootfs"/usr/share/doc -mindepth 1 ! -type d ! -name copyright -delete
tar -C "$rootfs" --numeric-owner -c . | docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' \
  --change 'CMD ["bash"]' - "$image" >/dev/null
echo built
