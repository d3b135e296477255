"""Helpers shared by the commands: KEY=VALUE options and JSON output (errors: errors.py)."""
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
