#!/bin/sh
# Create the database tables (safe to run again), then serve.
# With arguments, run them instead of gunicorn (e.g. `docker run IMAGE orqo worker`).
set -e

orqo init-db

if [ "$#" -gt 0 ]; then
    exec "$@"
fi

exec gunicorn --config gunicorn.conf.py --bind 0.0.0.0:8000 wsgi:app
