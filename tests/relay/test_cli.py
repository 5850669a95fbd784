"""`daisee-relay set`: the installer's manual override."""
from __future__ import annotations

import yaml
from click.testing import CliRunner
from eth_account import Account

from daisee.files import read_json
from relay.board import read_transitions
from relay.cli import board_lock, main
from relay.config import MemberWiring, RelaySettings

MEMBER, SELLER = Account.create().address, Account.create().address


def config_file(tmp_path):
    config = RelaySettings(members={MEMBER: MemberWiring(own_channel=0, sellers={SELLER: 2})},
                           state_file=tmp_path / "state.json", board_file=tmp_path / "board.json",
                           transitions_file=tmp_path / "t.jsonl")
    path = tmp_path / "relay.yaml"
    path.write_text(yaml.safe_dump(config.model_dump(mode="json")))
    return config, path


def test_set_switches_member_to_seller_and_records_who(tmp_path):
    config, path = config_file(tmp_path)
    result = CliRunner().invoke(main, ["--config", str(path), "set", MEMBER.lower(), SELLER])
    assert result.exit_code == 0, result.output
    assert read_json(config.board_file)["supply"][MEMBER]["channel"] == 2
    assert read_transitions(config)[-1]["reason"].startswith("manual override by ")


def test_set_refuses_while_the_service_drives_the_board(tmp_path):
    config, path = config_file(tmp_path)
    with board_lock(config, wait=False):
        result = CliRunner().invoke(main, ["--config", str(path), "set", MEMBER, "own"])
    assert result.exit_code != 0 and "running" in result.output
    assert not config.board_file.exists()
