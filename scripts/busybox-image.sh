#!/usr/bin/env bash
# busybox-image.sh DIR: builds a small busybox image from Debian's
# busybox-static (every applet linked to the static /bin/busybox, root in
# /etc/passwd, CMD /bin/sh) as the OCI layout DIR/oci:busybox and the OCI
# archive DIR/busybox.tar, tagged busybox:latest (the name skopeo writes into
# the archive, which `skiff image import` keeps). Needs umoci, skopeo and
# busybox-static (scripts/deps.sh installs them). Output of the tools goes to
# DIR/build.log; on failure it is printed and the exit code is 1.
set -u
W=${1:?usage: busybox-image.sh DIR}
mkdir -p "$W"
W=$(cd "$W" && pwd)
BB=${BUSYBOX:-/bin/busybox}
for t in umoci skopeo; do
    command -v "$t" >/dev/null || { echo "busybox-image.sh: $t not found" >&2; exit 1; }
done
# a dynamically linked busybox would not run in an image without its libc
if ! [ -x "$BB" ] || file -L "$BB" 2>/dev/null | grep -q "dynamically linked"; then
    echo "busybox-image.sh: $BB is not a static busybox (apt-get install busybox-static)" >&2
    exit 1
fi
(
    set -e
    cd "$W"
    rm -rf oci bundle busybox.tar
    umoci init --layout oci
    umoci new --image oci:busybox
    umoci unpack --image oci:busybox bundle
    mkdir -p bundle/rootfs/bin bundle/rootfs/etc bundle/rootfs/tmp
    chmod 1777 bundle/rootfs/tmp
    cp "$BB" bundle/rootfs/bin/busybox
    for a in $("$BB" --list); do
        [ "$a" = busybox ] || ln -sf busybox "bundle/rootfs/bin/$a"
    done
    echo 'root:x:0:0:root:/root:/bin/sh' >bundle/rootfs/etc/passwd
    echo 'root:x:0:' >bundle/rootfs/etc/group
    umoci repack --image oci:busybox bundle
    umoci config --image oci:busybox --config.cmd /bin/sh
    skopeo copy --insecure-policy oci:"$W/oci:busybox" oci-archive:"$W/busybox.tar:busybox:latest"
    rm -rf bundle
) >"$W/build.log" 2>&1 || { cat "$W/build.log" >&2; exit 1; }
echo "$W/busybox.tar"
