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
