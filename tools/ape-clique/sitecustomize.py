"""ape on a Clique (geth proof-of-authority) chain: put this folder on PYTHONPATH of an `ape` command,
e.g. `PYTHONPATH=tools/ape-clique:. ape run deploy --network ethereum:daisee-poa:node --account op`.

Why: ape 0.8.51 builds its Web3 with no middleware, so web3 7 fails on a Clique block's 97-byte
extraData with "Could not format invalid value '0x…' as field 'extraData'" instead of the
ExtraDataLengthError that ape's PoA detection (EthereumNodeProvider.has_poa_history) catches; ape
then never injects web3's ExtraDataToPOAMiddleware and every block read fails (BlockNotFoundError).
This detection reads the blocks raw. tests/poa/test_deploy.py's strict xfail says when ape no
longer needs it.
"""
from functools import cached_property

from ape_ethereum.provider import EthereumNodeProvider


def _has_poa_history(self) -> bool:
    for block_id in ("earliest", "latest"):
        try:
            block = self.make_request("eth_getBlockByNumber", [block_id, False])
        except Exception:  # noqa: BLE001 - as ape's: a light or odd node just is not PoA-checked
            continue
        if block and len(block.get("extraData") or "0x") > 2 + 2 * 32:  # more than 32 bytes
            return True
    return False


EthereumNodeProvider.has_poa_history = cached_property(_has_poa_history)
EthereumNodeProvider.has_poa_history.__set_name__(EthereumNodeProvider, "has_poa_history")
