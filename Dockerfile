# Portal Gateway image. The build stage makes a virtualenv (compilers there only, in case a
# dependency has no wheel for the platform); the runtime stage copies it into a slim image and runs
# as a non-root user. PORT (8080) is the one fly.toml's internal_port names.
FROM python:3.11-slim AS build
WORKDIR /src
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/venv
COPY pyproject.toml README.md ./
COPY gateway ./gateway
RUN /opt/venv/bin/pip install --compile . && /opt/venv/bin/pip uninstall -y pip

FROM python:3.11-slim
# Fly mounts a volume owned by the image's user, so the SQLite variant can write /data.
RUN useradd --create-home --uid 10001 gateway && mkdir -p /data && chown gateway /data
COPY --from=build /opt/venv /opt/venv
COPY presets /app/presets
WORKDIR /app
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    GATEWAY_ENV=production \
    GATEWAY_PRESETS_DIR=/app/presets \
    GATEWAY_DATA_DIR=/data \
    HOST=0.0.0.0 \
    PORT=8080
USER gateway
EXPOSE 8080
CMD ["gateway", "serve"]
