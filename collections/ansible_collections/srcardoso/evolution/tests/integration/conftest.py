"""Fixtures of the module tests: the double, a webhook receiver, and the playbook runner."""

from __future__ import annotations

import pytest
from evolution_harness import Ansible, new_double, new_sink


@pytest.fixture
def sink():
    with new_sink() as receiver:
        yield receiver


@pytest.fixture
def double():
    with new_double() as api:
        yield api


@pytest.fixture
def ansible(double, tmp_path):
    return Ansible(double, tmp_path)
