// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title DAISEE collective settlement
/// @notice Settles each period's local energy in the community token against the statement root the
/// PMO committed in the period ledger: every debtor's amount is collected once, every creditor is paid
/// from what was collected for that same period and version, never more. Anyone may trigger a step
/// with its Merkle proof; a member who cannot pay holds back only a pro-rata share of the others'
/// credits, which they receive as soon as it is collected. Supplier and tax lines are not settled here.
/// @dev A statement leaf is abi.encode(salt, account, member, debit, credit, statement) hashed as in
/// OpenZeppelin's StandardMerkleTree; debit and credit are net token base units (one of them 0).
interface ICollectiveSettlement {
    /// @notice One member's statement leaf.
    /// @param salt The member's secret for the period (keeps the leaf from being guessed).
    /// @param account Pays the debit, receives the credit.
    /// @param member The member's pseudonymous id.
    /// @param statement keccak256 of the member's statement file (its canonical JSON).
    struct Entry {
        bytes32 salt;
        address account;
        bytes32 member;
        uint256 debit;
        uint256 credit;
        bytes32 statement;
    }

    /// @notice The settlement of one period version so far.
    struct Pot {
        uint128 collected;
        uint128 paid;
    }

    event Collected(uint32 indexed period, uint32 indexed version, address indexed account, uint256 amount);
    /// @notice A batched collection skipped a member whose transfer failed (no allowance or balance).
    event CollectionFailed(uint32 indexed period, uint32 indexed version, address indexed account, uint256 amount);
    /// @notice `account` received `amount`; `paidTotal` is what its credit has received so far.
    event Paid(uint32 indexed period, uint32 indexed version, address indexed account, uint256 amount, uint256 paidTotal);

    /// @notice The proof does not lead from the entry to the committed statement root.
    error InvalidProof();
    /// @notice The entry has no debit to collect.
    error NothingToCollect();
    /// @notice The entry's debit was already collected.
    error AlreadyCollected();
    /// @notice The entry has no credit, or nothing more of it is covered by collections yet.
    error NothingToPay();
    error ZeroAddress();
    /// @notice Versions are numbered from 1.
    error NoSuchVersion();
    /// @notice The lists of a batch differ in length.
    error LengthMismatch();

    /// @notice Collect one debit (the account's allowance to this contract).
    function collect(uint32 period, uint32 version, Entry calldata entry, bytes32[] calldata proof) external;

    /// @notice Collect one debit with the account's EIP-2612 permit, relayed by anyone.
    function collectWithPermit(
        uint32 period,
        uint32 version,
        Entry calldata entry,
        bytes32[] calldata proof,
        uint256 deadline,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) external;

    /// @notice Collect many debits; a member whose transfer fails is skipped (CollectionFailed).
    /// Reverts on an invalid proof or an entry with no debit (a caller's mistake, not a member's).
    /// @return count How many debits were collected.
    function collectMany(uint32 period, uint32 version, Entry[] calldata entries, bytes32[][] calldata proofs)
        external
        returns (uint256 count);

    /// @notice Pay a creditor what collections cover of its credit and it has not received yet:
    /// credit × collected / settlementTotal − paid so far, never beyond what is collected and unpaid.
    function pay(uint32 period, uint32 version, Entry calldata entry, bytes32[] calldata proof) external;

    /// @notice What a period version collected and paid so far.
    function pot(uint32 period, uint32 version) external view returns (Pot memory);

    /// @notice Whether a statement leaf's debit was collected.
    function collected(uint32 period, uint32 version, bytes32 leaf) external view returns (bool);

    /// @notice What a statement leaf's credit has received so far.
    function paidTo(uint32 period, uint32 version, bytes32 leaf) external view returns (uint256);

    /// @notice The StandardMerkleTree leaf hash of an entry.
    function leafOf(Entry calldata entry) external pure returns (bytes32);
}
