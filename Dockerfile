# The fieldwatch image: one image, two deployables. `docker run IMAGE cloud serve` or
# `docker run IMAGE edge run`; see docker-compose.yml and docs/configuration.md.

# The console's browser assets, built here from package-lock.json rather than taken from
# a checkout (.dockerignore leaves out node_modules and cloud/console/static/vendor), so
# the image ships exactly the locked releases whoever builds it. Only the runtime
# dependencies: the dev ones are the MicroPython VM of the tests. No package's install
# scripts: none is needed to copy files. This stage never reaches the final image.
FROM node:20-bookworm-slim AS console-assets
WORKDIR /assets
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund
# The script after the install, so that editing it keeps npm's layer cached. It writes
# next to itself, into /assets/cloud/console/static/vendor.
COPY scripts/vendor-console-assets.mjs ./scripts/
RUN node scripts/vendor-console-assets.mjs

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
# Before the install: the wheel-equivalent build ships this folder as an artifact
# (pyproject's artifacts), and the cloud serves it from the installed package.
COPY --from=console-assets /assets/cloud/console/static/vendor ./cloud/console/static/vendor
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
