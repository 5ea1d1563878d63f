#!/bin/sh
# Install everything, then run the whole test suite (the README's test command).
set -e
cd "$(dirname "$0")/.."
./tools/install.sh
exec python3 -m pytest -q -p no:cacheprovider tests "$@"
