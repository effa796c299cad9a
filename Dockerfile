# One image for every supportbus process (the four services, the helpdesk and the CLI); each
# compose service picks its console script. Per-service slim images come with the deployment work.
FROM python:3.11-slim

ENV UV_PYTHON_DOWNLOADS=never \
    UV_LINK_MODE=copy \
    UV_COMPILE_BYTECODE=1 \
    PYTHONUNBUFFERED=1

RUN pip install --no-cache-dir uv==0.13.8 && useradd --uid 10001 --create-home supportbus

WORKDIR /app
COPY --chown=supportbus:supportbus . .
RUN uv sync --all-packages --frozen --no-dev && mkdir -p /app/var && chown -R supportbus /app/var

ENV PATH=/app/.venv/bin:$PATH
USER supportbus
CMD ["supportbus", "--help"]
