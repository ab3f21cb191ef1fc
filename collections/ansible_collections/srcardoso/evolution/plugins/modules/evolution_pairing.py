#!/usr/bin/python
# Copyright: (c) 2026, srcardoso.evolution developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: evolution_pairing
short_description: Get the QR code and pairing code to link a phone to an Evolution API instance
description:
  - Starts the WhatsApp connection of an instance (C(GET /instance/connect)) and returns its QR
    code, drawn with Unicode half blocks so that C(ansible.builtin.debug) shows it in the
    terminal where Ansible runs, ready to be scanned.
  - With O(number), also returns the pairing code to type on that phone instead of scanning.
  - With O(qr_path), writes the QR code as a PNG file.
  - Does nothing when the instance is already connected.
version_added: 0.1.0
author:
  - srcardoso.evolution developers (@srcardoso)
extends_documentation_fragment:
  - srcardoso.evolution.connection
  - srcardoso.evolution.connection.action_group
attributes:
  check_mode:
    description: Reads the connection state and reports whether it would connect; returns no
      QR code.
    support: partial
    details: The QR code only exists once the connection is started, so check mode cannot
      return it.
  diff_mode:
    description: Returns no diff.
    support: none
  idempotent:
    description:
      - Connected instances are left alone. While an instance is connecting, a run returns the
        current QR code without starting a new connection.
    support: partial
    details: Each QR code is valid for a short time and the server renews it; a run after the
      first may return a different code.
options:
  name:
    description: Name of the instance; it must exist.
    type: str
    required: true
    aliases: [instance_name]
  number:
    description:
      - Phone number to pair (country code and number, digits only). The API then also
        returns a pairing code to enter on that phone under Linked devices.
    type: str
  qr_path:
    description:
      - Write the QR code PNG to this file (mode 0600), replacing it when it differs.
      - The file is written on the host that runs the module. When the module runs on the VM,
        fetch the file with M(ansible.builtin.fetch), or delegate the task to C(localhost)
        with an O(api_url) that reaches the API from there.
    type: path
  qr_invert:
    description:
      - Draw dark modules as blocks. Leave V(false) for a terminal with a dark background, set
        V(true) for a light one.
    type: bool
    default: false
  wait_timeout_s:
    description:
      - Seconds to keep asking for the QR code while the server is still opening the
        connection.
    type: float
    default: 30
notes:
  - A QR code expires after about a minute and the server renews it up to E(QRCODE_LIMIT)
    times (30 by default) before it gives up; run the module again for a fresh one.
  - The QR code is not a secret of the server, but whoever scans it links their WhatsApp
    account to this instance.
seealso:
  - module: srcardoso.evolution.evolution_instance
"""

EXAMPLES = r"""
---
- name: Get the QR code of the support instance
  srcardoso.evolution.evolution_pairing:
    name: support
    qr_path: /tmp/support-qr.png
  register: pairing

- name: Show the QR code; scan it with WhatsApp > Linked devices
  ansible.builtin.debug:
    msg: "{{ pairing.qr_terminal_lines }}"
  when: pairing.qr_terminal_lines | length > 0

- name: Get a pairing code for a phone number
  srcardoso.evolution.evolution_pairing:
    name: sales
    number: "5511999998888"
  register: sales_pairing

- name: Show the pairing code
  ansible.builtin.debug:
    msg: "Enter {{ sales_pairing.pairing_code }} on the phone"
  when: sales_pairing.pairing_code
"""

RETURN = r"""
msg:
  description: What happened, in one sentence.
  returned: always
  type: str
  sample: Instance 'support' is connecting; scan the QR code.
connection_state:
  description: The connection state before the run (C(open), C(connecting) or C(close)).
  returned: always
  type: str
  sample: close
pairing_code:
  description: The code to enter on the phone, when O(number) was given and the API sent one.
  returned: always
  type: str
  sample: WZYEH1YY
code:
  description: The raw text encoded in the QR code, or V(null).
  returned: always
  type: str
qr_path:
  description: The PNG file written, or V(null).
  returned: always
  type: str
qr_terminal:
  description: The QR code drawn with Unicode half blocks, lines joined by newlines.
  returned: always
  type: str
qr_terminal_lines:
  description: The same drawing as a list of lines, for C(ansible.builtin.debug).
  returned: always
  type: list
  elements: str
"""

import os
import tempfile
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.srcardoso.evolution.plugins.module_utils._evolution import (
    validate_instance_name,
    validate_number,
)
from ansible_collections.srcardoso.evolution.plugins.module_utils._managers import (
    argument_spec,
    run_module,
)
from ansible_collections.srcardoso.evolution.plugins.module_utils._qr import (
    QRError,
    png_from_data_url,
    terminal_qr,
)


def connection_state(client, name):
    answer = client.get(
        "instance",
        "connectionState",
        name,
        what=f"read the state of instance {name!r}",
        instance=name,
    )
    return ((answer or {}).get("instance") or {}).get("state")


def fetch_qr(client, name, number, wait_timeout_s):
    """Call connect until the answer carries the QR image (and the pairing code, if asked)."""
    query = {"number": number} if number else None
    deadline = time.monotonic() + wait_timeout_s
    while True:
        answer = client.get(
            "instance",
            "connect",
            name,
            query=query,
            what=f"start the connection of instance {name!r}",
            instance=name,
        )
        answer = answer if isinstance(answer, dict) else {}
        if (answer.get("instance") or {}).get("state") == "open":
            return answer
        complete = answer.get("base64") and (not number or answer.get("pairingCode"))
        if complete or time.monotonic() >= deadline:
            return answer
        time.sleep(1)


def write_file(path, data):
    """Write ``data`` to ``path`` (mode 0600) unless it already holds it; True if written."""
    try:
        with open(path, "rb") as handle:
            if handle.read() == data:
                return False
    except OSError:
        pass
    directory = os.path.dirname(os.path.abspath(path))
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=".qr-")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
    except OSError:
        os.unlink(temporary)
        raise
    return True


def pair(module, client):
    params = module.params
    name = validate_instance_name(params["name"])
    number = validate_number(params["number"])
    result = {
        "changed": False,
        "pairing_code": None,
        "code": None,
        "qr_path": None,
        "qr_terminal": "",
        "qr_terminal_lines": [],
    }
    state = connection_state(client, name)
    result["connection_state"] = state
    if state == "open":
        result["msg"] = f"Instance {name!r} is already connected; there is nothing to pair."
        return result
    if module.check_mode:
        result["changed"] = state != "connecting"
        result["msg"] = f"Instance {name!r} is {state}; its connection would be started."
        return result
    answer = fetch_qr(client, name, number, params["wait_timeout_s"])
    result["changed"] = state != "connecting"
    if (answer.get("instance") or {}).get("state") == "open":
        result["msg"] = f"Instance {name!r} connected without a QR code."
        return result
    result["pairing_code"] = answer.get("pairingCode")
    result["code"] = answer.get("code")
    image = answer.get("base64")
    if not image:
        result["msg"] = (
            f"Instance {name!r} is connecting but the server sent no QR code within "
            f"{params['wait_timeout_s']:g} s; check that the server reaches WhatsApp, then run "
            f"again."
        )
        module.warn(result["msg"])
        return result
    try:
        if params["qr_path"]:
            if write_file(params["qr_path"], png_from_data_url(image)):
                result["changed"] = True
            result["qr_path"] = params["qr_path"]
        lines = terminal_qr(image, invert=params["qr_invert"])
    except QRError as exc:
        module.fail_json(msg=f"The QR code of instance {name!r} could not be read: {exc}.")
    except OSError as exc:
        module.fail_json(msg=f"Could not write qr_path {params['qr_path']}: {exc.strerror}.")
    result["qr_terminal_lines"] = lines
    result["qr_terminal"] = "\n".join(lines)
    how = "scan the QR code"
    if result["pairing_code"]:
        how += f" or enter the pairing code {result['pairing_code']} on the phone"
    result["msg"] = f"Instance {name!r} is connecting; {how}."
    return result


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(
            name=dict(type="str", required=True, aliases=["instance_name"]),
            number=dict(type="str"),
            qr_path=dict(type="path"),
            qr_invert=dict(type="bool", default=False),
            wait_timeout_s=dict(type="float", default=30.0),
        ),
        supports_check_mode=True,
    )
    run_module(module, lambda client: pair(module, client))


if __name__ == "__main__":
    main()
