"""The docs keep up with the code: every hook and every config key is documented."""
import re
from pathlib import Path

import pytest

from orqo.config import DEFAULTS
from orqo.plugins import make_plugin_manager

DOCS = Path(__file__).resolve().parents[1] / "docs"


def documented_hooks() -> dict[str, list[str]]:
    text = (DOCS / "plugin_hooks.md").read_text()
    return {
        name: [arg.strip() for arg in args.split(",") if arg.strip()]
        for name, args in re.findall(r"^## (\w+)\(([^)]*)\)\s*$", text, re.MULTILINE)
    }


HOOKS = sorted(name for name in dir(make_plugin_manager(load_entrypoints=False).hook)
               if not name.startswith("_"))


@pytest.mark.parametrize("hook", HOOKS)
def test_plugin_hook_is_documented_with_its_signature(hook):
    spec = getattr(make_plugin_manager(load_entrypoints=False).hook, hook).spec
    documented = documented_hooks()
    assert hook in documented, f"docs/plugin_hooks.md has no '## {hook}(...)' section"
    assert documented[hook] == list(spec.argnames)


def test_no_documented_hook_is_gone():
    assert set(documented_hooks()) <= set(HOOKS)


@pytest.mark.parametrize("key", sorted(DEFAULTS))
def test_config_key_is_documented(key):
    text = (DOCS / "configuration.md").read_text()
    assert re.search(rf"^### `?{key}`?\s*$", text, re.MULTILINE), f"{key} is not documented"


@pytest.fixture
def docs_app(tmp_path, monkeypatch):
    """An app with only the built-in plugins, for reading its OpenAPI document and its CLI."""
    from orqo import create_app

    monkeypatch.setenv("ORQO_INSTANCE_PATH", str(tmp_path))
    return create_app({"DATABASE_URL": f"sqlite:///{tmp_path}/x.db", "LOAD_ENTRYPOINTS": False})


def test_every_api_operation_is_documented(docs_app):
    document = docs_app.test_client().get("/api/v1/openapi.json").get_json()
    text = (DOCS / "api.md").read_text()
    operations = [f"{method.upper()} {path}" for path, item in document["paths"].items()
                  for method in item if method != "parameters"]
    assert operations
    missing = [operation for operation in operations if f"`{operation}`" not in text]
    assert not missing, f"docs/api.md does not document: {missing}"


#: Flask's own commands, and Flask-Migrate's ``db`` subcommands other than ``upgrade``.
FLASK_BUILTINS = {"run", "shell", "routes"}


def command_paths(group, prefix=("orqo",)):
    """Every leaf command under ``group``, as ``"orqo apps create"``."""
    import click

    for name, command in sorted(group.commands.items()):
        path = (*prefix, name)
        if len(path) == 2 and name in FLASK_BUILTINS:
            continue
        if path[:2] == ("orqo", "db") and len(path) == 3 and name != "upgrade":
            continue
        if isinstance(command, click.Group):
            yield from command_paths(command, path)
        else:
            yield " ".join(path)


def test_every_cli_command_is_documented(docs_app):
    text = (DOCS / "cli.md").read_text()
    paths = list(command_paths(docs_app.cli))
    assert "orqo apps create" in paths and "orqo db upgrade" in paths
    missing = [path for path in paths
               if not re.search(re.escape(path) + r"(?![\w-])", text)]
    assert not missing, f"docs/cli.md does not document: {missing}"
