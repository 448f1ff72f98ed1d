#!/usr/bin/env bash
# Builds sluice-agent_<version>_<arch>.deb from dist/agent/sluice-agent.js (run `npm run build`
# first; `npm run package:deb` does both) with dpkg-deb. The package carries its own Node runtime:
# this machine's `node` binary, copied to /usr/lib/sluice-agent/node with its license, so the host
# needs no Node at all (Debian 12 ships Node 18, Ubuntu 22.04 Node 12).
#   NODE=/path/to/node  use another node binary (same architecture as the package)
#   OUT=dir             where the .deb goes (default: packaging/out)
#   VERSION=x.y.z       package version (default: package.json's)
#   DEB_COMPRESSION=xz  dpkg-deb compressor: xz (default, ~24 MB), gzip, none (tests: faster)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
node_bin=${NODE:-$(command -v node)}
out=${OUT:-$here/out}
version=${VERSION:-$(node -p "require('$repo/package.json').version")}
arch=$(dpkg --print-architecture)
bundle="$repo/dist/agent/sluice-agent.js"
[ -f "$bundle" ] || { echo "build-deb: $bundle is missing: run npm run build" >&2; exit 1; }
node_version=$("$node_bin" --version)
case "$node_version" in v2[0-9].*) ;; *) echo "build-deb: $node_bin is $node_version; the agent needs Node 20 or later" >&2; exit 1 ;; esac

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root="$work/root"
install -d -m 0755 "$root/DEBIAN" "$root/usr/bin" "$root/usr/lib/sluice-agent" "$root/lib/systemd/system" \
  "$root/usr/share/doc/sluice-agent"
install -d -m 0700 "$root/etc/sluice"
install -m 0755 "$node_bin" "$root/usr/lib/sluice-agent/node"
install -m 0644 "$bundle" "$root/usr/lib/sluice-agent/sluice-agent.js"
install -m 0755 "$here/deb/sluice-agent" "$root/usr/bin/sluice-agent"
install -m 0644 "$here/deb/sluice-agent.service" "$root/lib/systemd/system/sluice-agent.service"
install -m 0600 "$here/deb/agent.env" "$root/etc/sluice/agent.env"
node_license=""
for f in "$(dirname "$(readlink -f "$node_bin")")/../share/doc/node/LICENSE" /usr/share/doc/nodejs/LICENSE /usr/share/doc/node/LICENSE; do
  [ -f "$f" ] && { node_license=$f; break; }
done
[ -n "$node_license" ] || { echo "build-deb: cannot find the license of $node_bin (looked in /usr/share/doc/nodejs)" >&2; exit 1; }
{
  echo "Sluice agent $version: Apache-2.0 (the bundled JavaScript includes commander and zod, MIT)."
  echo
  echo "/usr/lib/sluice-agent/node is Node.js $node_version, copied unchanged; its license follows."
  echo
  cat "$node_license"
} > "$root/usr/share/doc/sluice-agent/copyright"
chmod 0644 "$root/usr/share/doc/sluice-agent/copyright"
for s in postinst prerm postrm; do install -m 0755 "$here/deb/$s" "$root/DEBIAN/$s"; done
echo /etc/sluice/agent.env > "$root/DEBIAN/conffiles"
size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
cat > "$root/DEBIAN/control" <<CONTROL
Package: sluice-agent
Version: $version
Architecture: $arch
Maintainer: Sluice maintainers <sluice@example.invalid>
Installed-Size: $size
Depends: libc6 (>= 2.28), libstdc++6, libgcc-s1
Recommends: iproute2
Section: admin
Priority: optional
Homepage: https://github.com/sluice/sluice
Description: Sluice agent: progressive, health-gated changes on this host
 Enrolls with a Sluice server, reports this host's facts, applies the changes
 its --allow list permits (commands, apt packages, files), runs health checks,
 and guards against drift. Carries its own Node.js runtime.
CONTROL
mkdir -p "$out"
deb="$out/sluice-agent_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Z"${DEB_COMPRESSION:-xz}" --build "$root" "$deb" >/dev/null
echo "$deb"
