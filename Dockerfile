# One image for every briefmail service: web, worker, beat and the one-shot migrate.
FROM python:3.11-slim AS app

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PROJECT_ENVIRONMENT=/opt/venv \
    PATH="/opt/venv/bin:$PATH"

RUN pip install --no-cache-dir uv \
 && useradd --system --create-home --home-dir /srv/briefmail briefmail

WORKDIR /srv/briefmail/app

# Dependencies first (cached until the lock changes), then the project itself.
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project
COPY src ./src
COPY worker ./worker
COPY templates ./templates
COPY examples ./examples
RUN uv sync --frozen --no-dev

# The click spool (a volume in docker-compose.yml) must be the app user's to write.
RUN install -d -o briefmail /srv/briefmail/click-spool
USER briefmail
WORKDIR /srv/briefmail
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status != 200)"
CMD ["briefmail", "web", "--host", "0.0.0.0", "--port", "8000"]
