"""gunicorn settings for orqo (https://docs.gunicorn.org/en/stable/settings.html).

Every value can be overridden on the command line or with GUNICORN_CMD_ARGS.
"""
import multiprocessing
import os
import sys

bind = os.environ.get("ORQO_BIND", "127.0.0.1:8000")
# Requests are short and mostly wait on the database: two workers per core, at least two.
workers = int(os.environ.get("ORQO_WORKERS", max(2, multiprocessing.cpu_count() * 2)))
# gunicorn's sync worker, answering gunicorn's own refusals (a bad request line, headers too
# large, a malformed chunked body) in orqo's JSON error shape instead of HTML.
worker_class = "orqo.gunicorn_worker.JsonErrorWorker"
# Slack gives 3 s to answer; a request that takes 30 s is a stuck worker, not a slow one.
timeout = 30
graceful_timeout = 20
keepalive = 5
# Bodies are read by the app (4 MiB limit there, MAX_CONTENT_LENGTH).
accesslog = "-"
# Token URLs (/api/v1/hooks/<token>) are credentials: their paths are redacted in the log.
logger_class = "orqo.gunicorn_logging.RedactingLogger"
errorlog = "-"
loglevel = os.environ.get("ORQO_LOG_LEVEL", "info")
# gunicorn >= 25.1 opens a control socket at one fixed path per user, so a second instance on
# the same host (or a test server) would fight over it; orqo does not use it.
control_socket_disable = True
# Line limits, the same as nginx's in front (deploy/nginx.conf, large_client_header_buffers
# 4 8190): a request line or a header line up to 8190 bytes with its CRLF, and no more than
# 100 header lines (gunicorn's default, set here on purpose). Above them gunicorn answers 414
# or 431 itself, in orqo's JSON error shape (worker_class above).
limit_request_line = 8190
limit_request_field_size = 8190
limit_request_fields = 100


# Prometheus multiprocess mode: every worker writes its samples to one directory, and a scrape
# of any worker adds them up. Set here, before the workers start and import prometheus_client.
# A directory made here is this server's own, removed when it exits.
_own_metrics_dir = None
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    import tempfile

    _own_metrics_dir = tempfile.mkdtemp(prefix="orqo-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = _own_metrics_dir


def on_starting(server):
    """Refuse to start, with one line naming the setting, when orqo's settings are invalid;
    else start from an empty metrics directory (samples of an earlier run would add up)."""
    import glob

    from orqo.errors import ConfigError
    from orqo.config import settings_app

    try:
        settings_app()  # the settings every worker's create_app() would load
    except ConfigError as exc:
        on_exit(server)
        sys.exit(f"orqo: {exc}")

    for path in glob.glob(os.path.join(os.environ["PROMETHEUS_MULTIPROC_DIR"], "*.db")):
        os.remove(path)


def child_exit(server, worker):
    """Let prometheus_client drop a dead worker's live gauges."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    """Remove the metrics directory made above (one would be left behind per start)."""
    if _own_metrics_dir:
        import shutil

        shutil.rmtree(_own_metrics_dir, ignore_errors=True)
