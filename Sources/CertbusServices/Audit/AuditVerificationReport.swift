/// Something `certbus audit verify` found wrong, naming the row or checkpoint.
public struct AuditProblem: Error, Sendable, Equatable, Codable, CustomStringConvertible {
    /// The kind of problem.
    public enum Kind: String, Sendable, Codable {
        /// A row's content does not produce its chain hash: edited, moved, or replaced.
        case rowMismatch = "ROW_MISMATCH"
        /// A chain position has no row: a row was deleted (or its seal removed).
        case positionMissing = "POSITION_MISSING"
        /// A chain position holds more than one row: a row was inserted.
        case positionDuplicated = "POSITION_DUPLICATED"
        /// A row carries another row's chain position: rows were reordered (or a row's txid/id edited).
        case positionMismatch = "POSITION_MISMATCH"
        /// The chain does not start at position 1 and no checkpoint gives a starting point.
        case startMissing = "START_MISSING"
        /// A checkpoint's signature is not valid.
        case checkpointSignatureInvalid = "CHECKPOINT_SIGNATURE_INVALID"
        /// A checkpoint was signed by a key other than the trusted one.
        case checkpointUntrustedKey = "CHECKPOINT_UNTRUSTED_KEY"
        /// The recomputed chain differs from a checkpoint at its position: the chain was rewritten.
        case checkpointMismatch = "CHECKPOINT_MISMATCH"
        /// A checkpoint covers positions beyond the end of the chain: rows were deleted from the end.
        case chainTruncated = "CHAIN_TRUNCATED"
        /// A row's stored values cannot be read (corrupt or bad type).
        case malformedRow = "MALFORMED_ROW"
    }

    public var kind: Kind
    /// What is wrong, for people.
    public var message: String
    /// The log id of the first bad row, when a row is to blame.
    public var rowId: Int64?
    /// The chain position involved.
    public var chainPosition: Int64?
    /// The checkpoint involved (0 for an exported file without id).
    public var checkpointId: Int64?

    public init(_ kind: Kind, _ message: String, rowId: Int64? = nil, chainPosition: Int64? = nil, checkpointId: Int64? = nil) {
        self.kind = kind
        self.message = message
        self.rowId = rowId
        self.chainPosition = chainPosition
        self.checkpointId = checkpointId
    }

    public var description: String { "\(kind.rawValue): \(message)" }
}

/// The result of verifying the audit chain.
public struct AuditVerificationReport: Sendable, Equatable, Codable {
    /// True when no problem was found.
    public var valid: Bool = true
    /// The first problem found (verification stops there), nil when valid.
    public var problem: AuditProblem? {
        didSet { valid = problem == nil }
    }
    /// Rows whose chain hash was recomputed and matched.
    public var rowsVerified: Int64 = 0
    /// First and last chain positions verified.
    public var firstPosition: Int64?
    public var lastPosition: Int64?
    /// The recomputed chain hash at `lastPosition` (hex).
    public var headHash: String?
    /// Where the walk started: `genesis` or `checkpoint at position N`.
    public var startedFrom: String = "genesis"
    /// Stored checkpoints whose signature was checked and whose position was compared with the chain.
    public var checkpointsVerified: Int = 0
    /// Whether an exported checkpoint was compared with the chain.
    public var exportedCheckpointMatched: Bool = false
    /// Sealed rows at or below the starting checkpoint, not re-verified (archived history, boundary stragglers).
    public var rowsBeforeStart: Int64 = 0
    /// Rows after the chain head, not sealed yet (recent, or waiting for an older transaction to finish).
    public var unsealedRows: Int64 = 0
    /// Hex of the public key checkpoints were required to be signed with, when one was given.
    public var trustedPublicKey: String?
    /// Remarks that are not problems (e.g. which key was trusted).
    public var notes: [String] = []

    public init() {}
}
