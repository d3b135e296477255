#!/bin/sh
# Create the database tables (safe to run again), then serve.
# With arguments, run them instead of gunicorn (e.g. `docker run IMAGE orqo worker`).
#
# gunicorn listens on all of the container's interfaces, so that nginx can reach it through
# the published port; publish that port on loopback or a private network only nginx reaches
# (docker run -p 127.0.0.1:8000:8000), never publicly: nginx is required in front (Dockerfile).
# An invalid setting stops here, at `orqo init-db`, with one line naming it.
set -e

orqo init-db

if [ "$#" -gt 0 ]; then
    exec "$@"
fi

exec gunicorn --config gunicorn.conf.py --bind 0.0.0.0:8000 wsgi:app
