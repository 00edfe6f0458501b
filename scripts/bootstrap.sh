# Shared by scripts/start and scripts/test: make ./.venv with convtrack installed.
# Usage: EXTRAS=test; . scripts/bootstrap.sh   (EXTRAS: optional pip extras)
set -eu
cd "$(dirname "$0")/.."

PY="${PYTHON:-python3}"
if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "convtrack needs Python >= 3.11 (found: $("$PY" --version 2>&1))." >&2
    exit 1
fi
if ! "$PY" -c 'import venv, ensurepip' 2>/dev/null; then
    # Debian ships venv/ensurepip separately.
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv
    else
        echo "Python's venv module is missing: sudo apt-get install python3-venv" >&2
        exit 1
    fi
fi
if [ ! -x .venv/bin/python ]; then
    "$PY" -m venv .venv
fi
extras="${EXTRAS:-}"
target="."
[ -n "$extras" ] && target=".[$extras]"
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e "$target"
