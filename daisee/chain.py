"""Chain access shared by the services: deployment file, web3 connection, event reader, transaction
sender (their keys: daisee.keys).

The services talk plain JSON-RPC (web3.py) to whatever node the deployment names, the way a Pi
talks to its PoA node; Ape is used to build, test and deploy, not at run time on the Pi.
"""
from __future__ import annotations

from collections import namedtuple
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Iterable

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_account import Account
from eth_account.signers.local import LocalAccount
from pydantic import BaseModel
from web3 import Web3
from web3.middleware import ExtraDataToPOAMiddleware
from web3.contract import Contract

from daisee.config import ChainSettings
from daisee.failover import FailoverHTTPProvider
from daisee.files import write_atomic

PRODUCER, CONSUMER, PROSUMER = 1, 2, 3  # IEnergyExchange.MeterKind

# A reading as one uint256 word, bit 0 first (IEnergyExchange): calldata of `submitReadings` and
# the data of `MeterReading`.
READING_LAYOUT = (("meterId", 32), ("seq", 32), ("timestamp", 40), ("producedWh", 48), ("consumedWh", 48),
                  ("socPermille", 16))
READING_MAX = {name: (1 << bits) - 1 for name, bits in READING_LAYOUT}


def pack_reading(meter_id: int, seq: int, timestamp: int, produced_wh: int, consumed_wh: int,
                 soc_permille: int) -> int:
    """The contract's reading word; ValueError names the field that does not fit its width."""
    word, shift = 0, 0
    for (name, bits), value in zip(READING_LAYOUT, (meter_id, seq, timestamp, produced_wh, consumed_wh, soc_permille)):
        if not 0 <= value < 1 << bits:
            raise ValueError(f"reading {name}={value} outside 0..{(1 << bits) - 1}")
        word |= value << shift
        shift += bits
    return word


def unpack_reading(word: int) -> dict[str, int]:
    """The named fields of a reading word (as `MeterReading` events are handed to the services)."""
    fields, shift = {}, 0
    for name, bits in READING_LAYOUT:
        fields[name] = word >> shift & ((1 << bits) - 1)
        shift += bits
    return fields


class Deployment(BaseModel):
    """What `ape run deploy` writes to deployments/<network>.json."""

    network: str
    chain_id: int
    deployed_block: int
    token: str
    exchange: str
    abi: dict[str, list[dict[str, Any]]]
    # Further contracts by name (e.g. "PeriodLedger", "CommunityGovernor"), each ABI under the same
    # name in `abi`; a deployment without them still loads.
    contracts: dict[str, str] = {}

    def address_of(self, name: str) -> str:
        """The address of the deployed contract `name`, or a clear error naming the deployment."""
        if name in self.contracts:
            return self.contracts[name]
        raise KeyError(f"{name} is not in the deployment of {self.network} (chain {self.chain_id}): "
                       f"redeploy with `ape run deploy --redeploy`")

    @classmethod
    def load(cls, path: Path | str) -> "Deployment":
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no deployment at {path}: run `make deploy` (ape run deploy) first")
        return cls.model_validate_json(path.read_text())

    def save(self, path: Path | str) -> None:
        write_atomic(Path(path), self.model_dump_json(indent=2))


def connect(settings: ChainSettings) -> Web3:
    """web3 over the settings' endpoints, failing over between them (daisee.failover)."""
    w3 = Web3(FailoverHTTPProvider(settings.rpc_urls, request_kwargs={"timeout": settings.request_timeout}))
    # Transactions are signed here with the deployment's chain id (checked once in Community.open);
    # web3's validation middleware would ask the node for its chain id twice per transaction.
    w3.middleware_onion.remove("validation")
    # A proof-of-authority block (Clique, AuRa) carries its signature in an extraData longer than
    # 32 bytes, which web3 refuses to format otherwise; on other chains this middleware is a no-op.
    w3.middleware_onion.inject(ExtraDataToPOAMiddleware, layer=0)
    return w3


@dataclass(frozen=True)
class Community:
    """The two deployed contracts, bound to a web3 connection."""

    w3: Web3
    deployment: Deployment
    token: Contract
    exchange: Contract

    @classmethod
    def open(cls, settings: ChainSettings, w3: Web3 | None = None) -> "Community":
        deployment = Deployment.load(settings.deployment)
        w3 = w3 or connect(settings)
        try:
            chain_id = w3.eth.chain_id
        except Exception:  # node not up yet: the services start anyway and retry (chain id unchecked)
            chain_id = deployment.chain_id
        if chain_id != deployment.chain_id:
            url = getattr(w3.provider, "endpoint_uri", settings.rpc_url)
            raise ValueError(f"{url} is chain {chain_id}, but {settings.deployment} "
                             f"was deployed on chain {deployment.chain_id}")
        return cls(
            w3=w3,
            deployment=deployment,
            token=w3.eth.contract(address=Web3.to_checksum_address(deployment.token), abi=deployment.abi["EnergyToken"]),
            exchange=w3.eth.contract(
                address=Web3.to_checksum_address(deployment.exchange), abi=deployment.abi["EnergyExchange"]
            ),
        )

    def contract(self, name: str) -> Contract:
        """A further deployed contract by name (PeriodLedger, CollectiveSettlement, ...)."""
        address = self.deployment.address_of(name)
        return self.w3.eth.contract(address=Web3.to_checksum_address(address), abi=self.deployment.abi[name])

    def all_contracts(self) -> list[Contract]:
        return [self.exchange, self.token] + [self.contract(name) for name in self.deployment.contracts]

    @cached_property
    def _meter_info(self):
        (output,) = self.exchange.get_function_by_name("meter").abi["outputs"]
        return namedtuple("MeterInfo", [c["name"] for c in output["components"]])

    def meter(self, meter_id: int):
        """The contract's MeterInfo of `meter_id`, fields by name (seq, producedWh, ...)."""
        return self._meter_info(*self.exchange.functions.meter(meter_id).call())

    def meters(self, meter_ids: list[int]) -> list:
        """MeterInfo of many meters in a few calls (the exchange's multicall)."""
        return [self._meter_info(*info) for info in read_many(self.exchange, "meter", [[m] for m in meter_ids])]


class CallCodec:
    """Calldata and return data of one contract function, encoded with eth_abi directly: web3's
    encoder walks every value through generic formatters, milliseconds per call."""

    def __init__(self, contract: Contract, name: str):
        fn = contract.get_function_by_name(name).abi
        self.inputs = [abi_type(i) for i in fn["inputs"]]
        self.outputs = [abi_type(o) for o in fn["outputs"]]
        self.selector = Web3.keccak(text=f"{name}({','.join(self.inputs)})")[:4]

    def encode(self, args: list) -> bytes:
        return self.selector + abi_encode(self.inputs, args)

    def decode(self, data: bytes) -> tuple:
        return abi_decode(self.outputs, data)


def read_many(contract: Contract, name: str, args: list[list], per_call: int = 250) -> list:
    """`contract.name(*a)` for every `a` in `args`, a few eth_calls of the contract's `multicall`
    instead of one per item."""
    codec = CallCodec(contract, name)
    results = []
    for i in range(0, len(args), per_call):
        data = [codec.encode(a) for a in args[i:i + per_call]]
        results += [codec.decode(r)[0] for r in contract.functions.multicall(data).call()]
    return results


# ------------------------------------------------------------------------------------ permits


def permit_signature(owner: LocalAccount, token_name: str, token: str, chain_id: int, spender: str, value: int,
                     nonce: int, deadline: int) -> tuple[int, bytes, bytes]:
    """EIP-2612 `(v, r, s)` by `owner` allowing `spender` `value` of `token` (an OpenZeppelin
    ERC20Permit, version "1"): a member signs it off-chain and anyone relays it (`permitBudget`)."""
    signed = Account.sign_typed_data(owner.key, full_message={
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"},
                {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"},
                {"name": "verifyingContract", "type": "address"},
            ],
            "Permit": [
                {"name": "owner", "type": "address"},
                {"name": "spender", "type": "address"},
                {"name": "value", "type": "uint256"},
                {"name": "nonce", "type": "uint256"},
                {"name": "deadline", "type": "uint256"},
            ],
        },
        "primaryType": "Permit",
        "domain": {"name": token_name, "version": "1", "chainId": chain_id, "verifyingContract": token},
        "message": {"owner": owner.address, "spender": spender, "value": value, "nonce": nonce, "deadline": deadline},
    })
    return signed.v, signed.r.to_bytes(32, "big"), signed.s.to_bytes(32, "big")


# ------------------------------------------------------------------------------------ events


@dataclass(frozen=True)
class ChainEvent:
    name: str
    args: dict[str, Any]
    address: str
    block_number: int
    block_hash: str
    tx_hash: str
    log_index: int
    # Why its log could not be decoded (args then holds the raw log): a consumer records and skips
    # it instead of stopping on it.
    error: str | None = None

    @property
    def key(self) -> tuple[int, int]:
        return (self.block_number, self.log_index)


class EventCodec:
    """Decodes one event's logs with eth_abi directly: web3's `process_log` walks every value through
    generic formatters (~1 ms an event), which made reading a busy day of a big community slow."""

    def __init__(self, contract: Contract, abi: dict[str, Any]):
        self.address, self.name = contract.address, abi["name"]
        self.indexed = [(i["name"], abi_type(i)) for i in abi["inputs"] if i.get("indexed")]
        self.data = [(i["name"], abi_type(i)) for i in abi["inputs"] if not i.get("indexed")]
        self._data_types = [t for _, t in self.data]

    def args(self, log) -> dict[str, Any]:
        if len(log["topics"]) != 1 + len(self.indexed):
            raise ValueError(f"{len(log['topics'])} topics, {self.name} has {1 + len(self.indexed)}")
        args = {}
        for (name, typ), topic in zip(self.indexed, log["topics"][1:]):
            # an indexed dynamic value (string, bytes, array) is only its hash: keep the topic
            args[name] = _plain(typ, abi_decode([typ], bytes(topic))[0]) if _static(typ) else bytes(topic)
        for (name, typ), value in zip(self.data, abi_decode(self._data_types, bytes(log["data"]))):
            args[name] = _plain(typ, value)
        if self.name == "MeterReading":  # one packed word on chain, named fields for the services
            return unpack_reading(args["reading"])
        return args


def _static(typ: str) -> bool:
    return not (typ in ("string", "bytes") or typ.endswith("[]"))


def _plain(typ: str, value):
    """Checksummed addresses and lists, as web3 gives them."""
    if typ == "address":
        return Web3.to_checksum_address(value)
    if typ == "address[]":
        return [Web3.to_checksum_address(v) for v in value]
    return list(value) if isinstance(value, tuple) else value


class EventReader:
    """Decodes the logs of the community contracts in block ranges (no filters kept on the node,
    so it works the same against anvil, a PoA node or a load-balanced RPC)."""

    def __init__(self, community: Community, names: Iterable[str] | None = None,
                 buyers: Iterable[str] | None = None, contracts: Iterable[str] = ()):
        """`buyers`: only events whose second indexed field is one of these addresses (the buyer of
        BuyEnergy / PurchaseSettled), filtered by the node, so a relay reads its members' events only.
        `contracts`: further deployed contracts by name (PeriodLedger, CommunityGovernor...) whose events
        are read too. Codecs are keyed by (address, topic0): the same signature on two contracts (an
        ERC20 and an ERC721 Transfer) is decoded by each contract's own ABI."""
        self.w3 = community.w3
        self._buyers = None if buyers is None else ["0x" + "00" * 12 + a.lower().removeprefix("0x") for a in buyers]
        wanted = set(names) if names is not None else None
        self._codecs: dict[tuple[str, bytes], EventCodec] = {}
        for contract in (community.exchange, community.token, *(community.contract(n) for n in contracts)):
            for item in contract.abi:
                if item.get("type") != "event" or (wanted is not None and item["name"] not in wanted):
                    continue
                topic = bytes(self.w3.keccak(text=_signature(item)))
                self._codecs[(contract.address, topic)] = EventCodec(contract, item)
        self._topics = sorted({topic for _, topic in self._codecs})
        self._addresses = sorted({address for address, _ in self._codecs})

    def head(self) -> int:
        return self.w3.eth.block_number

    def fetch(self, from_block: int, to_block: int) -> list[ChainEvent]:
        """Every wanted event in [from_block, to_block], in chain order."""
        if to_block < from_block or self._buyers == []:
            return []
        topics = [self._topics] + ([None, self._buyers] if self._buyers is not None else [])
        logs = self.w3.eth.get_logs(
            {"address": self._addresses, "fromBlock": from_block, "toBlock": to_block, "topics": topics}
        )
        events = []
        for log in logs:
            codec = self._codecs.get((log["address"], bytes(log["topics"][0])))  # web3 checksums addresses
            if codec is None:  # a wanted signature emitted by another of the contracts
                continue
            try:
                args, error = codec.args(log), None
            except Exception as exc:  # noqa: BLE001 - one malformed log must not stop a range
                args = {"topics": [bytes(t).hex() for t in log["topics"]], "data": bytes(log["data"]).hex()}
                error = f"undecodable {codec.name} log: {type(exc).__name__}: {exc}"
            events.append(
                ChainEvent(
                    name=codec.name,
                    args=args,
                    address=log["address"],
                    block_number=log["blockNumber"],
                    block_hash=log["blockHash"].to_0x_hex(),
                    tx_hash=log["transactionHash"].to_0x_hex(),
                    log_index=log["logIndex"],
                    error=error,
                )
            )
        events.sort(key=lambda e: e.key)
        return events


def _signature(event_abi: dict[str, Any]) -> str:
    return f"{event_abi['name']}({','.join(abi_type(i) for i in event_abi['inputs'])})"


def abi_type(param: dict[str, Any]) -> str:
    """The canonical ABI type of a parameter (tuples spelled out), as in signatures and eth_abi."""
    if param["type"].startswith("tuple"):
        return f"({','.join(abi_type(c) for c in param['components'])}){param['type'][5:]}"
    return param["type"]


# ------------------------------------------------------------------------------------ transactions


class ContractRevert(Exception):
    """A transaction or call reverted with one of the contracts' custom errors."""

    def __init__(self, name: str, fields: dict[str, Any], raw: str):
        super().__init__(f"{name}({', '.join(f'{k}={v}' for k, v in fields.items())})")
        # Exception.args is the message tuple: the error's own arguments live in `fields`.
        self.name, self.fields, self.raw = name, dict(fields), raw


def error_decoder(*contracts: Contract):
    """Returns decode(revert_data_hex) -> ContractRevert | None for the custom errors in `contracts`."""
    table: dict[str, tuple[str, list[str], list[str]]] = {}
    for contract in contracts:
        for item in contract.abi:
            if item.get("type") == "error":
                selector = Web3.keccak(text=_signature(item))[:4].hex()
                table[selector.removeprefix("0x")] = (
                    item["name"],
                    [i["name"] for i in item["inputs"]],
                    [abi_type(i) for i in item["inputs"]],
                )

    def decode(data: str | bytes | None) -> ContractRevert | None:
        if not data:
            return None
        raw = data.hex() if isinstance(data, (bytes, bytearray)) else str(data)
        raw = raw.removeprefix("0x")
        entry = table.get(raw[:8])
        if entry is None:
            return None
        name, names, types = entry
        values = abi_decode(types, bytes.fromhex(raw[8:]))
        return ContractRevert(name, dict(zip(names, values)), "0x" + raw)

    return decode


# Gas above an estimate: a transaction mined a block later than estimated may write more. A membership
# vote checkpoint keyed by the block's timestamp is a cheap update within the estimate's second and a
# new slot (~22 k gas, two traces per mint or burn) a second later.
ESTIMATE_MARGIN = 50_000


class Transactor:
    """Signs and sends transactions for one key, keeping its own nonce so that several
    transactions can be in flight; reverts come back as ContractRevert with the error's name."""

    def __init__(self, community: Community, account: LocalAccount, receipt_timeout: float = 30.0):
        self.w3, self.account = community.w3, account
        self.receipt_timeout = receipt_timeout
        self._decode = error_decoder(*community.all_contracts())  # every deployed contract's custom errors
        self._nonce: int | None = None
        self._chain_id = community.deployment.chain_id

    @property
    def address(self) -> str:
        return self.account.address

    def resync(self) -> None:
        """Forget the local nonce (after an RPC error or a node restart)."""
        self._nonce = None

    def send(self, fn, gas: int | None = None) -> bytes:
        """Estimate (which surfaces reverts before spending gas), sign and send; returns tx hash."""
        params = self._params()
        try:
            if gas is None:
                gas = int(fn.estimate_gas(params) * 1.2) + ESTIMATE_MARGIN
        except Exception as exc:  # web3 wraps revert data in several exception types
            raise self._revert(exc) from exc
        return self._sign_and_send(fn.build_transaction({**params, "gas": gas, **self._fees()}))

    def send_value(self, to: str, wei: int) -> bytes:
        """A plain transfer of the chain's coin (gas money for a new key)."""
        return self._sign_and_send({**self._params(), "to": to, "value": wei, "gas": 21_000, **self._fees()})

    def _params(self) -> dict:
        if self._nonce is None:
            self._nonce = self.w3.eth.get_transaction_count(self.account.address, "pending")
        return {"from": self.account.address, "nonce": self._nonce, "chainId": self._chain_id}

    def _fees(self) -> dict:
        base = self.w3.eth.get_block("latest").get("baseFeePerGas", 0)
        return {"maxFeePerGas": 2 * base + 10**9, "maxPriorityFeePerGas": 10**9}

    def _sign_and_send(self, tx: dict) -> bytes:
        tx_hash = self.w3.eth.send_raw_transaction(self.account.sign_transaction(tx).raw_transaction)
        self._nonce += 1
        return tx_hash

    def wait(self, tx_hash: bytes):
        receipt = self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=self.receipt_timeout, poll_latency=0.05)
        if receipt["status"] != 1:
            raise ContractRevert("TransactionFailed", {"tx": tx_hash.hex()}, "")
        return receipt

    def transact(self, fn, gas: int | None = None):
        return self.wait(self.send(fn, gas))

    def _revert(self, exc: Exception) -> Exception:
        data = getattr(exc, "data", None)
        if isinstance(data, dict):
            data = data.get("data")
        if data is None and exc.args:
            data = exc.args[-1] if isinstance(exc.args[-1], str) and exc.args[-1].startswith("0x") else None
        decoded = self._decode(data) if isinstance(data, (str, bytes)) else None
        return decoded or exc
