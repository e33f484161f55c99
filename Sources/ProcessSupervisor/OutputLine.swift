/// One line a child wrote.
public struct OutputLine: Sendable, Equatable {
    public enum Stream: String, Sendable {
        case stdout
        case stderr
    }

    public var stream: Stream
    public var text: String
    /// True when the line was longer than the reader's limit and this is one piece of it.
    public var isPartial: Bool
    /// The child that wrote it.
    public var pid: Int32

    public init(stream: Stream, text: String, isPartial: Bool = false, pid: Int32) {
        self.pid = pid
        self.stream = stream
        self.text = text
        self.isPartial = isPartial
    }
}
