"""Compile one stand-alone contract (a bench baseline, a test's own contract) with the repository's
solc-js shim and ape-config.yaml's compiler settings, their one place."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
SHIM = REPO / "tools" / "solc" / "solc-v0.8.37"


def compile_contract(path: Path, name: str) -> tuple[list, str]:
    """(abi, bytecode) of contract `name` in `path`; RuntimeError with the compiler's first error."""
    solidity = yaml.safe_load((REPO / "ape-config.yaml").read_text())["solidity"]
    job = {
        "language": "Solidity",
        "sources": {path.name: {"content": path.read_text()}},
        "settings": {
            "optimizer": {"enabled": solidity["optimize"], "runs": solidity["optimization_runs"]},
            "viaIR": solidity["via_ir"],
            "evmVersion": solidity["evm_version"],
            "outputSelection": {"*": {"*": ["abi", "evm.bytecode.object"]}},
        },
    }
    out = json.loads(subprocess.run([str(SHIM), "--standard-json"], input=json.dumps(job), text=True,
                                    capture_output=True, check=True).stdout)
    errors = [e for e in out.get("errors", []) if e["severity"] == "error"]
    if errors:
        raise RuntimeError(errors[0]["formattedMessage"])
    artifact = out["contracts"][path.name][name]
    return artifact["abi"], artifact["evm"]["bytecode"]["object"]
