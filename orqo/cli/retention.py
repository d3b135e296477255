"""``orqo prune``: remove what the retention settings say is old enough, now."""
from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from orqo.cli.output import echo_json
from orqo.services import retention


@click.command("prune")
@click.option("--dry-run", is_flag=True, help="Count what would be removed; remove nothing.")
@with_appcontext
def prune_command(dry_run):
    """Remove old ledger entries, settled pushes, idempotency records and rate counters per
    the RETENTION_* settings; print the rows removed per table, as JSON."""
    pruned = retention.prune(current_app.config, dry_run=dry_run)
    echo_json({"dry_run": pruned.dry_run, "removed": pruned.removed, "total": pruned.total})
