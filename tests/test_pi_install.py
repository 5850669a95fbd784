"""The Pi install is lean: a service's runtime set installs and runs without the Ape toolchain, and
its key is imported by `daisee-key` into the keyfile that both `load_signer` and ape read."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from eth_account import Account
from eth_account.messages import encode_defunct

from daisee.cli import key
from daisee.keys import load_signer, stored_accounts

REPO = Path(__file__).resolve().parents[1]
APE_SET = {"eth-ape", "ape-solidity", "ape-foundry"}
PASSPHRASE = "test passphrase 7"  # throwaway keys made by the tests


def runtime_env(**extra: str) -> dict[str, str]:
    """This environment without what would let a child process import the repository's sources."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    return {**env, **extra}


# ------------------------------------------------------------------- no ape on the runtime path


def test_service_modules_import_without_ape():
    """Every module of daisee/, oracle/, relay/ and viewer/ imports without loading ape (nor a plugin)."""
    code = (
        "import importlib, json, pkgutil, sys\n"
        "for pkg in ('daisee', 'oracle', 'relay', 'viewer'):\n"
        "    for m in pkgutil.walk_packages(importlib.import_module(pkg).__path__, pkg + '.'):\n"
        "        importlib.import_module(m.name)\n"
        "print(json.dumps(sorted({n.split('.')[0] for n in sys.modules if n == 'ape' or n.startswith('ape_')})))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=runtime_env(PYTHONPATH=str(REPO)),
                         capture_output=True, text=True, check=True).stdout
    assert json.loads(out) == []


# ------------------------------------------------------------------- daisee-key


@pytest.fixture
def data_folder(tmp_path, monkeypatch):
    folder = tmp_path / "ape"
    monkeypatch.setenv("APE_DATA_FOLDER", str(folder))
    return folder


def import_key(alias: str, account, *args: str, env: dict | None = None):
    return CliRunner().invoke(key, ["import", alias, "--key-file", "-", *args],
                              input=account.key.hex() + "\n", env=env)


def test_key_import_round_trip(data_folder):
    account = Account.create()
    result = import_key("meter", account, env={"APE_ACCOUNTS_meter_PASSPHRASE": PASSPHRASE})
    assert result.exit_code == 0, result.output
    path = data_folder / "accounts" / "meter.json"
    assert (path.stat().st_mode & 0o777) == 0o600
    assert account.key.hex() not in result.output and account.address in result.output
    keystore = json.loads(path.read_text())
    assert keystore["version"] == 3 and keystore["crypto"]["kdf"] == "scrypt"
    assert keystore["crypto"]["kdfparams"]["n"] == 2**18  # ape's cost, eth-account's default
    passphrase_file = data_folder / "passphrase"
    passphrase_file.write_text(PASSPHRASE + "\n")
    passphrase_file.chmod(0o600)
    assert load_signer("meter", passphrase_file).key == account.key
    listed = CliRunner().invoke(key, ["list"])
    assert f"meter  {account.address}  {path}" in listed.output


def test_key_import_prompts_the_passphrase_twice_and_reads_a_private_key_file(data_folder, tmp_path, monkeypatch):
    account = Account.create()
    key_file = tmp_path / "meter.key"
    key_file.write_text(account.key.hex())
    key_file.chmod(0o644)
    refused = CliRunner().invoke(key, ["import", "meter", "--key-file", str(key_file)], input="x\nx\n")
    assert refused.exit_code == 1 and "readable by others" in refused.output
    key_file.chmod(0o600)
    mismatch_then_match = f"{PASSPHRASE}\nsomething else\n{PASSPHRASE}\n{PASSPHRASE}\n"
    result = CliRunner().invoke(key, ["import", "meter", "--key-file", str(key_file)], input=mismatch_then_match)
    assert result.exit_code == 0, result.output
    assert PASSPHRASE not in result.output
    monkeypatch.setenv("APE_ACCOUNTS_meter_PASSPHRASE", PASSPHRASE)
    assert load_signer("meter").address == account.address


def test_key_import_refuses_to_replace_an_alias_without_force(data_folder):
    first, second = Account.create(), Account.create()
    env = {"APE_ACCOUNTS_meter_PASSPHRASE": PASSPHRASE}
    assert import_key("meter", first, env=env).exit_code == 0
    refused = import_key("meter", second, env=env)
    assert refused.exit_code == 1 and "--force" in refused.output
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("APE_ACCOUNTS_meter_PASSPHRASE", PASSPHRASE)
        assert load_signer("meter").address == first.address
        assert import_key("meter", second, "--force", env=env).exit_code == 0
        assert load_signer("meter").address == second.address


def test_key_import_refuses_a_key_as_alias_and_garbage_as_key(data_folder):
    account = Account.create()
    as_alias = import_key(account.key.hex(), account, env={"APE_ACCOUNTS_x_PASSPHRASE": PASSPHRASE})
    assert as_alias.exit_code == 2 and "alias" in as_alias.output
    garbage = CliRunner().invoke(key, ["import", "meter", "--key-file", "-"], input="0x1234\n",
                                 env={"APE_ACCOUNTS_meter_PASSPHRASE": PASSPHRASE})
    assert garbage.exit_code == 1 and "not a private key" in garbage.output
    assert stored_accounts() == {}


def test_ape_reads_an_imported_key_and_load_signer_reads_an_ape_key(data_folder, tmp_path, monkeypatch):
    """Both ways through ape's own account container, in a process where ape starts on this data folder."""
    ours, apes = Account.create(), Account.create()
    assert import_key("ours", ours, env={"APE_ACCOUNTS_ours_PASSPHRASE": PASSPHRASE}).exit_code == 0
    code = (
        "import sys\n"
        "from ape import accounts\n"
        "from ape_accounts import import_account_from_private_key\n"
        "from ape.types.signatures import recover_signer\n"
        "from eth_account.messages import encode_defunct\n"
        "account = accounts.load('ours')\n"
        "account.set_autosign(True, passphrase=sys.argv[1])\n"
        "message = encode_defunct(text='daisee')\n"
        "print(account.address, recover_signer(message, account.sign_message(message)))\n"
        "import_account_from_private_key('apes', sys.argv[1], sys.stdin.read().strip())\n"
    )
    out = subprocess.run([sys.executable, "-c", code, PASSPHRASE], cwd=tmp_path, input=apes.key.hex(),
                         env=runtime_env(PYTHONPATH=str(REPO), APE_DATA_FOLDER=str(data_folder)),
                         capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split()[-2:] == [ours.address, ours.address]
    monkeypatch.setenv("APE_ACCOUNTS_apes_PASSPHRASE", PASSPHRASE)
    assert load_signer("apes").address == apes.address


# ------------------------------------------------------------------- a fresh oracle venv


@pytest.fixture(scope="module")
def oracle_venv(tmp_path_factory):
    """A fresh venv with `pip install '<working tree>[oracle]'` (not editable; wheels from pip's cache).

    pip builds from a copy of what the wheel is made of, so the build leaves nothing in the tree."""
    tmp = tmp_path_factory.mktemp("pi-venv")
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    src = tmp / "src"
    src.mkdir()
    for name in ("pyproject.toml", project["project"]["readme"]):
        shutil.copy(REPO / name, src / name)
    for pattern in project["tool"]["setuptools"]["packages"]["find"]["include"]:
        for package in REPO.glob(pattern.rstrip("*")):
            shutil.copytree(package, src / package.name, ignore=shutil.ignore_patterns("__pycache__"))
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([venv / "bin" / "python", "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                    f"{src}[oracle]"], env=runtime_env(), check=True, timeout=800)
    return venv


def run_in(venv: Path, cwd: Path, *cmd: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([str(venv / "bin" / cmd[0]), *cmd[1:]], cwd=cwd, capture_output=True, text=True,
                          timeout=120, check=False, **kwargs)


@pytest.mark.timeout(900)
def test_oracle_runtime_set_has_no_ape_toolchain(oracle_venv, tmp_path):
    listed = run_in(oracle_venv, tmp_path, "python", "-m", "pip", "list", "--format=json", env=runtime_env())
    installed = {p["name"].lower().replace("_", "-") for p in json.loads(listed.stdout)}
    assert {"daisee", "web3", "eth-account", "pyserial", "requests", "coincurve"} <= installed
    assert not installed & APE_SET
    assert not installed & {"fastapi", "uvicorn", "pytest"}  # the viewer's and the tests' sets stay out too


@pytest.mark.timeout(900)
def test_read_once_in_the_oracle_runtime_venv(oracle_venv, tmp_path):
    config = tmp_path / "oracle.yaml"
    config.write_text(yaml.safe_dump({
        "database": str(tmp_path / "oracle.db"),
        "health": {"file": str(tmp_path / "health.json")},
        "meters": [{"meter_id": 7, "driver": {"kind": "simulated", "profile": "prosumer", "seed": 3}}],
    }))
    result = run_in(oracle_venv, tmp_path, "daisee-oracle", "read-once", "-c", str(config), env=runtime_env())
    assert result.returncode == 0, result.stderr
    sample = json.loads(result.stdout)
    assert (sample["meter_id"], sample["driver"], sample["valid"]) == (7, "simulated", True)
    assert abs(sample["timestamp"] - time.time()) < 60
    assert sample["produced_w"] >= 0 and sample["consumed_w"] > 0 and 0 <= sample["soc_permille"] <= 1000
    assert not (tmp_path / "oracle.db").exists()


@pytest.mark.timeout(900)
def test_key_import_in_the_oracle_runtime_venv(oracle_venv, tmp_path):
    account = Account.create()
    env = runtime_env(APE_DATA_FOLDER=str(tmp_path / "ape"), APE_ACCOUNTS_meter_PASSPHRASE=PASSPHRASE)
    imported = run_in(oracle_venv, tmp_path, "daisee-key", "import", "meter", "--key-file", "-",
                      input=account.key.hex(), env=env)
    assert imported.returncode == 0, imported.stderr
    signed = run_in(oracle_venv, tmp_path, "python", "-c",
                    "import daisee.keys as k; from eth_account.messages import encode_defunct as m; "
                    "print(k.__file__, k.load_signer('meter').sign_message(m(text='daisee')).signature.hex())",
                    env=env)
    assert signed.returncode == 0, signed.stderr
    module, signature = signed.stdout.split()
    assert Path(module).is_relative_to(oracle_venv)  # the installed package, not the repository's sources
    assert Account.recover_message(encode_defunct(text="daisee"), signature=signature) == account.address
