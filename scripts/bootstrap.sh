# Sourced by scripts/demo and scripts/test: installs everything supportbus needs on a fresh
# machine (uv, the Python workspace, and Java + Maven for the local Kafka broker).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export UV_PYTHON_DOWNLOADS=never

if command -v uv >/dev/null 2>&1; then
  UV=(uv)
else
  echo "bootstrap: installing uv from PyPI..." >&2
  python3 -m pip install --quiet --disable-pip-version-check "uv==0.13.8"
  UV=(python3 -m uv)
fi

if ! command -v java >/dev/null 2>&1 || ! command -v mvn >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "bootstrap: installing Java and Maven (Debian packages) for the local Kafka broker..." >&2
    apt-get update -q && apt-get install -y -q default-jre-headless maven
  else
    echo "bootstrap: the local Kafka broker needs Java 17+ and Maven on PATH" >&2
    exit 1
  fi
fi

echo "bootstrap: syncing the Python workspace (uv sync --frozen)..." >&2
"${UV[@]}" sync --all-packages --frozen
