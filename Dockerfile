# syntax=docker/dockerfile:1
#
# Sauda image: API (`sauda serve`, the default command), worker (`sauda worker`) and
# one-shot migrations (`sauda migrate`) all run from this one image; see compose.yaml.
#
#   docker build -t sauda .
#
# Both stages must use the same Python image: the virtual environment built in the first
# stage points at /usr/local/bin/python3.11 of that image.

ARG PYTHON_IMAGE=python:3.11-slim
# Keep in step with the uv that writes uv.lock (`uv --version`).
ARG UV_VERSION=0.13.9

FROM ghcr.io/astral-sh/uv:${UV_VERSION} AS uv


# ---------------------------------------------------------------------------- build
FROM ${PYTHON_IMAGE} AS build

COPY --from=uv /uv /uvx /bin/

ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=0 \
    UV_PROJECT_ENVIRONMENT=/app/.venv

WORKDIR /app

# Dependencies only: this layer is rebuilt when uv.lock or pyproject.toml change, not on
# every source edit.
RUN --mount=type=cache,target=/root/.cache/uv \
    --mount=type=bind,source=uv.lock,target=uv.lock \
    --mount=type=bind,source=pyproject.toml,target=pyproject.toml \
    uv sync --frozen --no-dev --no-install-project

# Then the project itself. It is installed editable (uv's default) on purpose: the CLI
# finds alembic.ini and migrations/ relative to src/sauda, so the code stays in /app/src.
COPY pyproject.toml uv.lock README.md alembic.ini ./
COPY migrations ./migrations
COPY src ./src
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev \
    && /app/.venv/bin/python -m compileall -q src migrations


# -------------------------------------------------------------------------- runtime
FROM ${PYTHON_IMAGE} AS runtime

# Debian's Chromium for Playwright (SAUDA_BROWSER__CHROMIUM_PATH). fontconfig already pulls
# in DejaVu (Cyrillic, Kazakh letters); Liberation gives metric-compatible Arial/Times.
# Versions are not pinned so a rebuild picks up Debian's security updates.
# hadolint ignore=DL3008
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        chromium \
        fonts-liberation \
    && rm -rf /var/lib/apt/lists/*

RUN groupadd --system --gid 10001 sauda \
    && useradd --system --uid 10001 --gid sauda --home-dir /home/sauda --create-home \
        --shell /usr/sbin/nologin sauda

WORKDIR /app

# The environment first (large, changes rarely), then the code (small, changes often).
# Both stay owned by root: the app user can read but not modify them.
COPY --from=build /app/.venv /app/.venv
COPY --from=build /app/pyproject.toml /app/alembic.ini /app/README.md ./
COPY --from=build /app/migrations ./migrations
COPY --from=build /app/src ./src

ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    SAUDA_ENV=production \
    SAUDA_BROWSER__CHROMIUM_PATH=/usr/bin/chromium

USER 10001:10001

EXPOSE 8000

# Liveness only (/health). compose.yaml checks /ready (database and Redis) for the API and
# turns this check off for the worker and the migrate job, which serve no HTTP.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4)"]

CMD ["sauda", "serve", "--host", "0.0.0.0", "--port", "8000"]
