# supportbus helpdesk: the sandbox ticketing system (FastAPI + SQLite).
# Build from the repository root (the context holds the whole uv workspace):
#   docker build -f deploy/docker/helpdesk.Dockerfile -t supportbus-helpdesk:dev .
#
# Models and data are mounted, never baked in: the image reads
#   /var/lib/supportbus/helpdesk.sqlite3   the tickets (a writable volume)

# ---- builder: a venv with this service's package and its workspace dependencies only ----
FROM python:3.11-slim AS builder

ENV UV_PYTHON_DOWNLOADS=never \
    UV_LINK_MODE=copy \
    UV_COMPILE_BYTECODE=1 \
    UV_PROJECT_ENVIRONMENT=/opt/venv
RUN pip install --no-cache-dir uv==0.13.8

WORKDIR /src
# The whole workspace (uv reads every member's pyproject.toml; .dockerignore keeps .venv and
# var out), but --package installs only this service and the members it depends on.
# --no-editable builds them into the venv, so the final stage needs no source; the cache
# mount keeps downloaded wheels across builds (BuildKit, the default builder).
COPY . .
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable --package supportbus-helpdesk

# ---- final: the venv on a slim Python, no compiler, no uv, a numeric non-root user ----
FROM python:3.11-slim

RUN groupadd --system --gid 10001 supportbus \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
    --shell /usr/sbin/nologin supportbus \
 && mkdir -p /var/lib/supportbus \
 && chown 10001:10001 /var/lib/supportbus

COPY --from=builder /opt/venv /opt/venv

# The packages are installed (not editable), so path defaults that are relative to a checkout
# are set here explicitly; compose and Kubernetes may override any of them.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HELPDESK_HOST=0.0.0.0 \
    HELPDESK_PORT=8085 \
    HELPDESK_DB_PATH=/var/lib/supportbus/helpdesk.sqlite3 \
    HELPDESK_TELEMETRY_DIR=/tmp/supportbus-traces

WORKDIR /app
USER 10001:10001
EXPOSE 8085
# slim has no curl: Python's urllib asks the service's own liveness endpoint.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ['HELPDESK_PORT'] + '/healthz', timeout=4)"]
ENTRYPOINT ["supportbus-helpdesk"]
