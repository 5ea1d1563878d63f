#!/bin/sh
# Install everything vkernel needs on a Debian machine (run as root).
set -e
export DEBIAN_FRONTEND=noninteractive
if ! dpkg -s busybox-static musl-tools e2fsprogs gdb file >/dev/null 2>&1; then
    apt-get update -qq
    apt-get install -y -qq busybox-static musl-tools e2fsprogs gdb file >/dev/null
fi
cd "$(dirname "$0")/.."
python3 -m pip install -q -r requirements.txt 2>&1 | grep -v -i "warning" || true
