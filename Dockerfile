# cc-analytics: the OTLP collector, the daily aggregator and the read API (with /metrics) in one image.
# Build from the repository root: docker build -t cc-analytics .
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# A fixed numeric uid so Kubernetes' runAsNonRoot can verify it without resolving names.
RUN groupadd --system --gid 10001 cc-analytics \
    && useradd --system --uid 10001 --gid 10001 --home-dir /data --no-create-home --shell /usr/sbin/nologin \
        cc-analytics \
    && mkdir -p /data \
    && chown 10001:10001 /data

WORKDIR /tmp/cc-analytics

# Dependencies first, from pyproject.toml alone, so a source change does not download them again.
# Every one ships manylinux wheels: no compiler needed.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))"\
        > requirements.txt \
    && pip install -r requirements.txt

COPY . ./
RUN pip install . \
    && rm -rf /tmp/cc-analytics

# The embedded chDB store lives here when no --clickhouse-url is given.
ENV CC_ANALYTICS_DATA_DIR=/data/cc-analytics-data
VOLUME /data
WORKDIR /data
USER 10001:10001

# OTLP/gRPC, OTLP/HTTP, and the read API with /metrics and /healthz.
EXPOSE 4317 4318 9464

# The slim image has no curl; Python is already there.
# urlopen raises (exit 1) on a refused connection or an error status.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('CC_ANALYTICS_API_PORT', '9464') + '/healthz', timeout=4)"]

ENTRYPOINT ["cc-analytics"]
CMD ["serve", "--host", "0.0.0.0"]
