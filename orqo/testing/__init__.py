"""Test kit for orqo and for adapter plugins, loaded by pytest through the ``pytest11`` entry
point, so any package that installs orqo gets its fixtures.

* :mod:`orqo.testing.fixtures`: ``database_url``, ``make_app``, ``harness`` and
  :class:`Harness`: an app with exactly the plugins a test names, on SQLite and PostgreSQL;
* :mod:`orqo.testing.server`: ``make_server``, a real gunicorn process on loopback, and the
  command line run as a subprocess;
* :mod:`orqo.testing.platform`: ``fake_platform`` and :class:`FakePlatform`, a platform's API
  on loopback answering as a test scripts it, for the send stage.

Not fixtures, imported where needed: :mod:`orqo.testing.signers` (both sides of each
signature scheme), :mod:`orqo.testing.conformance` (``AdapterConformance``, the receiving
stages) and :mod:`orqo.testing.sending` (``SendConformance``, the send stage).
"""
from orqo.testing.fixtures import Harness
from orqo.testing.fixtures import database_url
from orqo.testing.fixtures import harness
from orqo.testing.fixtures import make_app
from orqo.testing.platform import FakePlatform
from orqo.testing.platform import fake_platform
from orqo.testing.server import OrqoServer
from orqo.testing.server import make_server

__all__ = ["FakePlatform", "Harness", "OrqoServer", "database_url", "fake_platform", "harness",
           "make_app", "make_server"]
