import FoundationEssentials

/// What the worker asks of an engine over its control channel before signalling it
/// (docs/prefect-worker-protocol.md §5.5). The engine acknowledges an intent it takes, and then
/// treats the SIGTERM that follows accordingly.
public enum ControlIntent: String, Sendable, Equatable, CaseIterable {
    /// Record CANCELLED and run the flow's `on_cancellation` hooks.
    case cancel
    /// Exit without proposing a state: the supervisor puts the run back to SCHEDULED.
    case reschedule
    /// Exit without proposing a state: the run is left to the infrastructure's own retry.
    case relinquish

    /// The one byte that carries it.
    public var byte: UInt8 {
        switch self {
        case .cancel: UInt8(ascii: "c")
        case .reschedule: UInt8(ascii: "r")
        case .relinquish: UInt8(ascii: "q")
        }
    }
}

/// How an engine's attempt ended, as its control channel says: the first of a receipt and an
/// acknowledged intent wins, and nothing replaces it.
public enum AttemptConclusion: Sendable, Equatable {
    /// The engine reported this final (or paused) state itself (type and name as the server has them).
    case stateReported(type: String, name: String)
    /// The server aborted the engine's proposal: orchestration has the run.
    case orchestrationAborted
    /// The engine acknowledged the worker's intent: the worker decides the run's next state.
    case delegated(ControlIntent)
}

/// The supervisor's side of one authenticated control session after the token line, version 2 of
/// Prefect's attempt-control protocol (`prefect/_internal/attempt_control.py`), version 1 included:
///
/// - `a`: the engine acknowledged the intent that was sent.
/// - `00 'P' 'F' <version> <capabilities>`: the engine's hello. The answer is the same frame with
///   version 2 and the receipt capability when the engine offers both, else version 1 and none.
///   A version-1 engine never sends it; a version-1 supervisor ignored it.
/// - `01 <length: 4 bytes big-endian> <JSON>`: an outcome receipt (only after version 2 was
///   selected; at most 4096 bytes), answered with `02`.
///
/// Anything else is malformed and ends the session. Pure: bytes in, messages out.
public struct AttemptControlSession: Sendable {
    public static let negotiationPrefix: [UInt8] = [0x00, UInt8(ascii: "P"), UInt8(ascii: "F")]
    public static let receiptPrefix: UInt8 = 0x01
    public static let receiptAck: UInt8 = 0x02
    public static let intentAck = UInt8(ascii: "a")
    public static let maxReceiptSize = 4096
    public static let currentVersion: UInt8 = 2
    public static let legacyVersion: UInt8 = 1
    public static let receiptCapability: UInt8 = 1

    public enum Message: Sendable, Equatable {
        case intentAcknowledged
        /// Send `reply`; receipts may follow when `receipts`.
        case negotiated(reply: [UInt8], receipts: Bool)
        /// Send `receiptAck` and record the conclusion.
        case receipt(AttemptConclusion)
        /// End the session.
        case malformed(String)
    }

    private enum Expecting: Sendable {
        case message
        case negotiation([UInt8])
        case receiptLength([UInt8])
        case receiptPayload(size: Int, [UInt8])
        case nothing
    }

    private var expecting = Expecting.message
    public private(set) var receiptsNegotiated = false

    public init() {}

    /// The messages complete with `bytes`; nothing more is read after a malformed one.
    public mutating func feed(_ bytes: some Sequence<UInt8>) -> [Message] {
        var messages: [Message] = []
        for byte in bytes {
            if let message = take(byte) {
                messages.append(message)
                if case .malformed = message { expecting = .nothing }
            }
        }
        return messages
    }

    private mutating func take(_ byte: UInt8) -> Message? {
        switch expecting {
        case .nothing:
            return nil
        case .message:
            switch byte {
            case Self.intentAck: return .intentAcknowledged
            case Self.negotiationPrefix[0]: expecting = .negotiation([byte])
            case Self.receiptPrefix:
                guard receiptsNegotiated else { return .malformed("a receipt before receipts were negotiated") }
                expecting = .receiptLength([])
            default: return .malformed("unexpected byte \(byte)")
            }
            return nil
        case .negotiation(var frame):
            frame.append(byte)
            guard frame.count == Self.negotiationPrefix.count + 2 else {
                expecting = .negotiation(frame)
                return nil
            }
            expecting = .message
            guard Array(frame.prefix(3)) == Self.negotiationPrefix else { return .malformed("a malformed negotiation frame") }
            let offersReceipts = frame[3] >= Self.currentVersion && frame[4] & Self.receiptCapability != 0
            receiptsNegotiated = offersReceipts
            let reply = Self.negotiationPrefix
                + (offersReceipts ? [Self.currentVersion, Self.receiptCapability] : [Self.legacyVersion, 0])
            return .negotiated(reply: reply, receipts: offersReceipts)
        case .receiptLength(var length):
            length.append(byte)
            guard length.count == 4 else {
                expecting = .receiptLength(length)
                return nil
            }
            let size = length.reduce(0) { $0 << 8 | Int($1) }
            guard size <= Self.maxReceiptSize else { return .malformed("a receipt of \(size) bytes") }
            if size == 0 { return .malformed("an empty receipt") }
            expecting = .receiptPayload(size: size, [])
            return nil
        case .receiptPayload(let size, var payload):
            payload.append(byte)
            guard payload.count == size else {
                expecting = .receiptPayload(size: size, payload)
                return nil
            }
            expecting = .message
            guard let conclusion = Self.decodeReceipt(payload) else { return .malformed("a malformed receipt") }
            return .receipt(conclusion)
        }
    }

    /// A receipt's JSON: `{"disposition": "ORCHESTRATION_ABORTED"}`, or `STATE_REPORTED` with
    /// exactly `state_id` (a UUID), `state_type` (1-64 characters) and `state_name`.
    public static func decodeReceipt(_ payload: [UInt8]) -> AttemptConclusion? {
        guard let decoded = try? JSONDecoder().decode(JSONValue.self, from: Data(payload)),
            case .object(let fields) = decoded
        else { return nil }
        switch fields["disposition"]?.stringValue {
        case "ORCHESTRATION_ABORTED"?:
            return fields.count == 1 ? .orchestrationAborted : nil
        case "STATE_REPORTED"?:
            guard Set(fields.keys) == ["disposition", "state_id", "state_type", "state_name"],
                let id = fields["state_id"]?.stringValue, UUID(uuidString: id) != nil,
                let type = fields["state_type"]?.stringValue, !type.isEmpty, type.count <= 64,
                let name = fields["state_name"]?.stringValue
            else { return nil }
            return .stateReported(type: type, name: name)
        default:
            return nil
        }
    }
}
