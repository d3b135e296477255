"""The plugin manager: how plugins are found, and the typed functions that call their hooks.

Core fallbacks (:data:`DEFAULT_PLUGINS`) are imported; every adapter, first-party ones
included, arrives through the ``orqo`` entry-point group. Each app builds its own manager in
``create_app()``. Hooks are called through pluggy (``pm.hook.<name>``), so hook wrappers and
``ORQO_TRACE_PLUGINS``-style tracing see them, except ``route_message``, whose handlers
:func:`orqo.handlers.choose_route` calls one by one so that a failing one is skipped.
"""
from __future__ import annotations

import importlib
import importlib.metadata
import logging
from dataclasses import dataclass

import pluggy

from orqo import hookspecs
from orqo.adapters import PLATFORM_NAME
from orqo.adapters import Adapter
from orqo.errors import ConfigError
from orqo.errors import PluginError

logger = logging.getLogger(__name__)

#: Built-in plugins, registered under their dotted names. They cannot be blocked.
DEFAULT_PLUGINS = (
    "orqo.default_plugins.waitbox",
    "orqo.default_plugins.app_events",
    "orqo.default_plugins.doorkeeper",
)


@dataclass
class PluginState:
    """What ``create_app()`` keeps under ``app.extensions["orqo"]``."""

    pm: pluggy.PluginManager
    adapters: dict[str, Adapter]
    adapter_plugins: dict[str, str]


def make_plugin_manager(*, load_entrypoints=True, blocked=(), plugins=()) -> pluggy.PluginManager:
    """Build a plugin manager: hookspecs, blocked names, entry points, built-ins, extras.

    :param load_entrypoints: load plugins from the ``orqo`` entry-point group.
    :param blocked: entry-point names an operator turned off.
    :param plugins: extra plugin objects or modules to register (tests use this).
    """
    pm = pluggy.PluginManager("orqo")
    pm.add_hookspecs(hookspecs)
    for name in blocked:
        if name in DEFAULT_PLUGINS:
            raise ConfigError(f"built-in plugin {name!r} cannot be disabled")
        pm.set_blocked(name)
    # Built-ins first: pluggy calls later registrations first, so an installed handler plugin
    # gets a message before the built-in App Event handler (waitbox stays first through
    # tryfirst, Doorkeeper last through trylast).
    for module_name in DEFAULT_PLUGINS:
        pm.register(importlib.import_module(module_name), name=module_name)
    if load_entrypoints:
        try:
            pm.load_setuptools_entrypoints("orqo")
        except Exception as exc:
            raise ConfigError(f"could not load an 'orqo' entry-point plugin: {exc}") from exc
        installed = {ep.name for ep in importlib.metadata.entry_points(group="orqo")}
        for name in sorted(set(blocked) - installed):
            logger.warning("DISABLED_PLUGINS names %r, but no installed plugin has that "
                           "entry-point name", name)
    for plugin in plugins:
        pm.register(plugin)
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise ConfigError(str(exc)) from exc
    return pm


def failing_plugin(caller: pluggy.HookCaller, exc: BaseException) -> str:
    """The name of the plugin whose implementation of ``caller``'s hook raised ``exc``.

    pluggy stops a hook call at the first exception without saying whose it was; the
    innermost frame of the traceback that runs an implementation tells.
    """
    codes = {}
    for impl in caller.get_hookimpls():
        function = getattr(impl.function, "__func__", impl.function)
        code = getattr(function, "__code__", None)
        if code is not None:
            codes[code] = impl.plugin_name
    name, frame = "an unknown plugin", exc.__traceback__
    while frame is not None:
        name = codes.get(frame.tb_frame.f_code, name)
        frame = frame.tb_next
    return name


def collect_adapters(pm: pluggy.PluginManager) -> tuple[dict[str, Adapter], dict[str, str]]:
    """Run ``register_adapters``; return ``{platform: adapter}`` and ``{platform: plugin}``.

    Raises :class:`ConfigError` naming both plugins when two claim one platform name.
    """
    adapters: dict[str, Adapter] = {}
    owners: dict[str, str] = {}
    for impl in reversed(pm.hook.register_adapters.get_hookimpls()):

        def register(adapter_class, plugin_name=impl.plugin_name):
            if not (isinstance(adapter_class, type) and issubclass(adapter_class, Adapter)):
                raise ConfigError(f"plugin {plugin_name!r} registered {adapter_class!r}, "
                                  "which is not an orqo.adapters.Adapter subclass")
            platform = adapter_class.platform
            if not PLATFORM_NAME.match(platform or ""):
                raise ConfigError(f"plugin {plugin_name!r} registered an adapter with the "
                                  f"invalid platform name {platform!r}")
            if platform in owners:
                raise ConfigError(f"platform {platform!r} is claimed by two plugins: "
                                  f"{owners[platform]!r} and {plugin_name!r}")
            adapters[platform] = adapter_class()
            owners[platform] = plugin_name
            logger.debug("adapter %r registered by plugin %r", platform, plugin_name)

        try:
            impl.function(register)
        except ConfigError:
            raise
        except Exception as exc:
            raise ConfigError(str(PluginError(impl.plugin_name, "register_adapters", exc))) from exc
    return adapters, owners


def run_startup(pm: pluggy.PluginManager, app) -> None:
    """Run the ``startup`` hook; an exception stops startup, naming the plugin."""
    try:
        pm.hook.startup(app=app)
    except Exception as exc:
        plugin = failing_plugin(pm.hook.startup, exc)
        raise ConfigError(str(PluginError(plugin, "startup", exc))) from exc


def get_plugins(pm: pluggy.PluginManager, adapter_plugins: dict[str, str]) -> list[dict]:
    """Describe each loaded plugin: name, version, hooks it implements, adapters it provides."""
    from orqo import __version__

    versions = {plugin: dist.version for plugin, dist in pm.list_plugin_distinfo()}
    described = []
    for plugin in pm.get_plugins():
        name = pm.get_name(plugin)
        hooks = sorted(caller.name for caller in pm.get_hookcallers(plugin) or ())
        described.append({
            "name": name,
            "version": __version__ if name in DEFAULT_PLUGINS else versions.get(plugin),
            "hooks": hooks,
            "adapters": sorted(p for p, owner in adapter_plugins.items() if owner == name),
            "builtin": name in DEFAULT_PLUGINS,
        })
    return sorted(described, key=lambda entry: (entry["builtin"], entry["name"]))
