# orqo: gunicorn serving wsgi:app, with orqo and every plugin under plugins/ installed.
#
#   docker build -t orqo .
#   docker run -p 127.0.0.1:8000:8000 -v orqo-data:/var/lib/orqo orqo
#
# nginx (deploy/nginx.conf) is required in front: publish port 8000 on loopback, as above, for
# an nginx on the host (or on a network only nginx's container shares), never on a public
# address (-p 8000:8000). gunicorn alone is not safe to expose: its few sync workers are each
# held for the whole time a slow client takes to send a request or read an answer (nginx
# buffers both), it has no TLS, and the request limits on the webhook paths and the trusted
# X-Forwarded-For of ORQO_PROXY_COUNT=1 are nginx's (docs/deploy.md, "Why gunicorn must not
# be reachable").
#
# With no ORQO_DATABASE_URL the database is SQLite in the volume at /var/lib/orqo.

# --- builder: a virtualenv with orqo and the plugins, installed as ordinary packages ---------
FROM python:3.11-slim AS builder

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /src
COPY pyproject.toml setup.cfg README.md ./
COPY orqo ./orqo
COPY plugins ./plugins

# orqo first: the plugins depend on it, and pip then finds it already installed.
RUN pip install . \
    && for plugin in plugins/*/; do pip install "$plugin"; done

# --- runtime ----------------------------------------------------------------------------------
FROM python:3.11-slim

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    ORQO_INSTANCE_PATH=/var/lib/orqo

RUN useradd --system --create-home --home-dir /home/orqo --shell /usr/sbin/nologin orqo \
    && mkdir -p /var/lib/orqo \
    && chown orqo:orqo /var/lib/orqo

COPY --from=builder /opt/venv /opt/venv

WORKDIR /app
COPY gunicorn.conf.py wsgi.py ./
COPY docker-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
RUN chmod 0755 /usr/local/bin/docker-entrypoint.sh

USER orqo
VOLUME /var/lib/orqo
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=3)"]

ENTRYPOINT ["docker-entrypoint.sh"]
