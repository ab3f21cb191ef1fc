"""Shared by the repository-level tests: the collection's module-test fixtures.

The API-module fixtures (``double``, ``sink``, ``ansible``, and ``closed_port`` of the modules'
error tests) and their harness live with the collection's integration tests; they are imported
from there, not copied, so the tests under tests/ run the modules exactly as the collection's
own tests do.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

INTEGRATION = (
    Path(__file__).resolve().parents[1]
    / "collections/ansible_collections/srcardoso/evolution/tests/integration"
)
if str(INTEGRATION) not in sys.path:
    sys.path.insert(0, str(INTEGRATION))

_spec = importlib.util.spec_from_file_location(
    "evolution_integration_fixtures", INTEGRATION / "conftest.py"
)
_fixtures = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_fixtures)

import test_module_errors  # found through INTEGRATION, put on sys.path above

closed_port = test_module_errors.closed_port
double = _fixtures.double
sink = _fixtures.sink
ansible = _fixtures.ansible
