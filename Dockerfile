# The fieldwatch image: one image, two deployables. `docker run IMAGE cloud serve` or
# `docker run IMAGE edge run`; see docker-compose.yml and docs/configuration.md.
FROM python:3.11.10-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PROJECT_ENVIRONMENT=/opt/venv

# The uv release scripts/install-deps.sh uses.
RUN pip install --no-cache-dir uv==0.13.8

WORKDIR /app

# Dependencies first, from the lock file only, so that code changes keep this layer cached.
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project

# Only the packages the wheel ships (pyproject's [tool.hatch.build.targets.wheel]): the
# runtime. The developer tools (fieldwatch_dev), the device agents (firmware_py),
# provisioning and the tests stay out. tests/deploy/test_deployables.py builds a venv
# from exactly what this file copies and runs the compose services from it.
COPY core ./core
COPY edge ./edge
COPY cloud ./cloud
COPY fieldwatch ./fieldwatch
RUN uv sync --frozen --no-dev --no-editable

RUN useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin fieldwatch \
    && mkdir -p /data \
    && chown fieldwatch /data
USER fieldwatch

# Production by default: the image refuses development-only secrets.
ENV PATH=/opt/venv/bin:$PATH \
    FIELDWATCH_ENVIRONMENT=production \
    FIELDWATCH_DATA_DIR=/data
VOLUME ["/data"]

ENTRYPOINT ["fieldwatch"]
CMD ["--help"]
