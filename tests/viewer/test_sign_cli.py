"""`daisee-viewer sign`: a member signs the viewer's message with its local keyfile; the viewer accepts it."""
from __future__ import annotations

from click.testing import CliRunner
from eth_account import Account

from daisee.keys import write_keyfile
from viewer.cli import main


def test_sign_prints_a_signature_the_viewer_accepts(client, traded, tmp_path, monkeypatch):
    monkeypatch.setenv("APE_DATA_FOLDER", str(tmp_path))
    monkeypatch.setenv("APE_ACCOUNTS_member_PASSPHRASE", "pass")
    write_keyfile("member", traded.buyer.account, "pass", iterations=2)
    message = client.get("/api/auth/challenge", params={"address": traded.buyer.address}).json()["message"]
    result = CliRunner().invoke(main, ["sign", "--account", "member"], input=message)
    assert result.exit_code == 0, result.output
    signature = result.stdout.strip().splitlines()[-1]
    assert client.post("/api/auth/verify", json={"message": message, "signature": signature}).status_code == 200


def test_sign_refuses_a_message_for_another_address(client, tmp_path, monkeypatch):
    monkeypatch.setenv("APE_DATA_FOLDER", str(tmp_path))
    monkeypatch.setenv("APE_ACCOUNTS_member_PASSPHRASE", "pass")
    write_keyfile("member", Account.create(), "pass", iterations=2)
    message = client.get("/api/auth/challenge", params={"address": Account.create().address}).json()["message"]
    result = CliRunner().invoke(main, ["sign", "--account", "member"], input=message)
    assert result.exit_code != 0 and "signs in" in result.output


def test_sign_refuses_text_that_is_not_a_sign_in_message(tmp_path, monkeypatch):
    monkeypatch.setenv("APE_DATA_FOLDER", str(tmp_path))
    result = CliRunner().invoke(main, ["sign", "--account", "member"], input="hello")
    assert result.exit_code != 0 and "EIP-4361" in result.output and "Traceback" not in result.output
