"""evolution_instance_info and evolution_pairing against the double."""

import base64
import sys

from evolution_harness import REPO, Step, api_call, create_instance

sys.path.insert(0, str(REPO / "collections"))
from ansible_collections.srcardoso.evolution.plugins.module_utils._qr import (
    decode_png,
    qr_matrix,
    render_half_blocks,
)

TOKEN = "INSTANCE-TOKEN-5c6d7e"
SECRET = "HEADER-SECRET-a9b8c7"


def test_instance_info_masks_secrets_unless_asked(ansible, double):
    create_instance(double, "support", token=TOKEN)
    create_instance(double, "sales")
    api_call(
        double,
        "POST",
        "/webhook/set/support",
        {
            "webhook": {
                "enabled": True,
                "url": "http://127.0.0.1:9/hook",
                "events": ["CALL"],
                "headers": {"X-Webhook-Token": SECRET},
            }
        },
    )
    run = ansible.run(
        [
            Step("all", "evolution_instance_info", {}),
            Step(
                "one_revealed",
                "evolution_instance_info",
                {"name": "support", "reveal_secrets": True},
            ),
            Step("missing", "evolution_instance_info", {"name": "nosuch"}),
            Step("all_in_check_mode", "evolution_instance_info", {"webhook": False}, check=True),
        ]
    )
    every = run.results["all"]
    assert every["changed"] is False
    assert every["msg"] == "2 instances found."
    assert [i["name"] for i in every["instances"]] == ["sales", "support"]
    support = every["instances"][1]
    assert support["token"] == "********"
    assert support["connection_state"] == "close"
    assert support["settings"]["reject_call"] is False
    assert support["webhook"]["headers"] == {"X-Webhook-Token": "********"}
    assert every["instances"][0]["webhook"] is None
    assert TOKEN not in str(every) and SECRET not in str(every)

    revealed = run.results["one_revealed"]["instances"]
    assert [i["name"] for i in revealed] == ["support"]
    assert revealed[0]["token"] == TOKEN
    assert revealed[0]["webhook"]["headers"] == {"X-Webhook-Token": SECRET}

    assert run.results["missing"]["instances"] == []
    assert run.results["missing"]["msg"] == "Instance 'nosuch' does not exist."
    assert run.results["all_in_check_mode"]["instances"][1]["webhook"] is None
    for step in ("all", "one_revealed", "missing", "all_in_check_mode"):
        assert run.writes(step) == [], step


def test_pairing_writes_the_qr_and_shows_it(ansible, double, tmp_path):
    create_instance(double, "support")
    create_instance(double, "sales")
    qr_file = tmp_path / "support-qr.png"
    run = ansible.run(
        [
            Step("pair_check", "evolution_pairing", {"name": "support"}, check=True),
            Step("pair", "evolution_pairing", {"name": "support", "qr_path": str(qr_file)}),
            Step("pair_again", "evolution_pairing", {"name": "support", "qr_path": str(qr_file)}),
            Step("pair_number", "evolution_pairing", {"name": "sales", "number": "5511999998888"}),
        ]
    )
    check = run.results["pair_check"]
    assert check["changed"] is True
    assert check["msg"] == "Instance 'support' is close; its connection would be started."
    assert check["qr_terminal_lines"] == []
    assert run.calls("pair_check") == ["GET /instance/connectionState/support"]

    pair = run.results["pair"]
    assert pair["changed"] is True
    assert pair["msg"] == "Instance 'support' is connecting; scan the QR code."
    assert pair["qr_path"] == str(qr_file)
    assert pair["pairing_code"] is None
    assert oct(qr_file.stat().st_mode & 0o777) == "0o600"
    png = qr_file.read_bytes()
    assert png.startswith(b"\x89PNG")
    # The drawing is the QR code of the PNG the API sent, module for module.
    image = decode_png(png)
    assert pair["qr_terminal_lines"] == render_half_blocks(qr_matrix(image))
    assert pair["qr_terminal"] == "\n".join(pair["qr_terminal_lines"])
    size = len(qr_matrix(image))
    assert size % 4 == 1 and size >= 21

    again = run.results["pair_again"]
    # Still connecting: the same QR code comes back, nothing is started or rewritten.
    assert again["changed"] is False
    assert again["connection_state"] == "connecting"
    assert again["qr_terminal_lines"] == pair["qr_terminal_lines"]

    numbered = run.results["pair_number"]
    assert len(numbered["pairing_code"]) == 8
    assert numbered["msg"] == (
        f"Instance 'sales' is connecting; scan the QR code or enter the pairing code "
        f"{numbered['pairing_code']} on the phone."
    )
    assert run.calls("pair_number")[-1] == "GET /instance/connect/sales"
    assert run.requests["pair_number"][-1].query == {"number": "5511999998888"}


def test_pairing_leaves_a_connected_instance_alone(ansible, double):
    create_instance(double, "support")
    double.pair("support")
    run = ansible.run([Step("pair", "evolution_pairing", {"name": "support"})])
    result = run.results["pair"]
    assert result["changed"] is False
    assert result["msg"] == "Instance 'support' is already connected; there is nothing to pair."
    assert run.calls("pair") == ["GET /instance/connectionState/support"]


def test_pairing_qr_file_matches_the_api_image(double, ansible, tmp_path):
    create_instance(double, "support")
    qr_file = tmp_path / "qr.png"
    ansible.run([Step("pair", "evolution_pairing", {"name": "support", "qr_path": str(qr_file)})])
    answer = api_call(double, "GET", "/instance/connect/support")
    assert answer["base64"].startswith("data:image/png;base64,")
    assert qr_file.read_bytes() == base64.b64decode(answer["base64"].split(",", 1)[1])
