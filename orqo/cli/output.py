"""Helpers shared by the commands: KEY=VALUE options, JSON and column output, warnings,
the --limit and --json options (errors: errors.py)."""
from __future__ import annotations

import json

import click


def pairs(values: tuple[str, ...], option: str) -> dict[str, str]:
    """``KEY=VALUE`` options as a dict; ``KEY=@path`` reads the value from a file."""
    parsed = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected KEY=VALUE, got {item!r}", param_hint=option)
        if value.startswith("@"):
            try:
                with open(value[1:], encoding="utf-8") as handle:
                    value = handle.read().strip()
            except OSError as exc:
                raise click.BadParameter(f"cannot read {value[1:]!r}: {exc.strerror}",
                                         param_hint=option) from None
        parsed[key] = value
    return parsed


def echo_json(data) -> None:
    """Print JSON, indented and with sorted keys."""
    click.echo(json.dumps(data, indent=2, sort_keys=True))


def echo_table(headers: tuple[str, ...], rows: list[tuple]) -> None:
    """Print ``rows`` under ``headers`` in columns padded to their widest cell (the last
    column is not padded); ``None`` shows as ``-``."""
    cells = [[str(h).upper() for h in headers]] + [
        ["-" if value is None else str(value) for value in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for row in cells:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row[:-1], widths))
                   + ("  " if len(row) > 1 else "") + row[-1])


def echo_warnings(warnings: list[str]) -> None:
    """Print each warning on its own line on stderr (stdout stays parseable)."""
    for warning in warnings:
        click.echo(f"warning: {warning}", err=True)


def api_limit_max() -> int:
    """The largest page the API serves (``PageArgs.limit``): the CLI's ``--limit`` stops there
    too, so the CLI and the API answer the same request the same way."""
    from orqo.api.pagination import PageArgs

    ranges = [v for v in PageArgs().fields["limit"].validators if getattr(v, "max", None)]
    return min(v.max for v in ranges)


def limit_option(default: int = 50):
    """``--limit N``, 1 to the API's own maximum."""
    return click.option("--limit", default=default, show_default=True,
                        type=click.IntRange(1, api_limit_max()),
                        help=f"At most this many, 1 to {api_limit_max()} (the API's maximum).")


def json_option(help_text: str = "Print JSON (the API's objects) instead of text."):
    """``--json``: print the objects as JSON instead of text."""
    return click.option("--json", "as_json", is_flag=True, help=help_text)


def cursor_option():
    """``--cursor C``: continue a paged listing after a previous page."""
    return click.option("--cursor", default=None,
                        help="Continue after a previous page (its next_cursor).")


def echo_more(result: dict) -> None:
    """Say how to read a paged listing's next page, on stderr (stdout stays the page)."""
    if result["next_cursor"]:
        click.echo(f"more: --cursor {result['next_cursor']}", err=True)
