# Copyright: (c) 2026, srcardoso.evolution developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # The connection options of every srcardoso.evolution API module.
    DOCUMENTATION = r"""
options:
  api_url:
    description:
      - Base URL of the Evolution API v2 server, without a path.
      - The module runs where Ansible runs it (usually on the VM itself), so the default reaches
        the API on that host's loopback port.
      - If not set, the environment variable E(EVOLUTION_API_URL) is used.
    type: str
    default: http://127.0.0.1:8080
  api_key:
    description:
      - The global API key of the server (its E(AUTHENTICATION_API_KEY)).
      - If not set, the environment variable E(EVOLUTION_API_KEY) is used. One of the two is
        required.
      - Never shown in results, warnings, errors or the diff.
    type: str
  timeout_s:
    description:
      - Seconds to wait for each HTTP answer.
    type: float
    default: 30
    aliases: [timeout]
  validate_certs:
    description:
      - Verify the server's TLS certificate when O(api_url) is C(https://).
      - Set to V(false) only for test servers with self-signed certificates.
    type: bool
    default: true
  retries:
    description:
      - How many times a request is retried after a connection error, a timeout or an HTTP
        500, 502, 503 or 504 answer (between 0 and 10).
      - Instance creation is retried only when the connection was refused, because a create
        that reached the server must not be sent twice.
    type: int
    default: 3
  retry_backoff_s:
    description:
      - Seconds before the first retry; each further retry waits twice as long (at most 30 s).
    type: float
    default: 1
notes:
  - The modules use only what ansible-core brings (C(ansible.module_utils.urls)); the host that
    runs them needs no extra Python package.
  - Set the connection options once per play with C(module_defaults) for the action group
    C(group/srcardoso.evolution.api).
"""

    # The attributes every module of the action group shares.
    ACTION_GROUP = r"""
attributes:
  action_group:
    description: Use C(group/srcardoso.evolution.api) in C(module_defaults) to set defaults for
      this module.
    support: full
    membership:
      - srcardoso.evolution.api
"""
