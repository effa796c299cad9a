# The operator image: the `supportbus` CLI with every package, editable from /app (so data/ and the
# path defaults resolve as in a checkout). It runs the one-off setup job in compose and Kubernetes
# (`supportbus prepare && supportbus topics`: the intent model and the knowledge index into the
# /var/lib/supportbus volume, the topics on the broker) and ad-hoc `supportbus publish|dlq|...`.
# The services have their own slim images: deploy/docker/<service>.Dockerfile (deploy/README.md).
FROM python:3.11-slim

ENV UV_PYTHON_DOWNLOADS=never \
    UV_LINK_MODE=copy \
    UV_COMPILE_BYTECODE=1 \
    PYTHONUNBUFFERED=1

# /var/lib/supportbus belongs to the runtime user so that a fresh named volume mounted there is
# writable by it (Docker copies the directory's owner into an empty volume).
RUN pip install --no-cache-dir uv==0.13.8 \
 && groupadd --gid 10001 supportbus \
 && useradd --uid 10001 --gid 10001 --create-home supportbus \
 && mkdir -p /var/lib/supportbus /models \
 && chown 10001:10001 /var/lib/supportbus

WORKDIR /app
COPY --chown=10001:10001 . .
RUN uv sync --all-packages --frozen --no-dev && mkdir -p /app/var && chown -R 10001:10001 /app/var

ENV PATH=/app/.venv/bin:$PATH
USER 10001:10001
CMD ["supportbus", "--help"]
