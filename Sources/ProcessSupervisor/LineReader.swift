import PrefectWorkerCore

#if canImport(Glibc)
import Glibc
#endif

/// Reads a pipe on its own thread and hands out whole lines. A line longer than `maxLineBytes` is
/// handed out in pieces of that size (marked partial) so one endless line cannot grow memory;
/// invalid UTF-8 is repaired rather than dropped.
final class LineReader: Sendable {
    private let fd: Int32
    private let pid: Int32
    private let stream: OutputLine.Stream
    private let maxLineBytes: Int
    private let onLine: @Sendable (OutputLine) -> Void
    /// The pipe's end was read.
    let finished = Completion()

    init(fd: Int32, pid: Int32, stream: OutputLine.Stream, maxLineBytes: Int, onLine: @escaping @Sendable (OutputLine) -> Void) {
        self.fd = fd
        self.pid = pid
        self.stream = stream
        self.maxLineBytes = maxLineBytes
        self.onLine = onLine
    }

    func start() {
        startWorkerThread(name: "pw-\(stream.rawValue)") { [self] in readUntilEOF() }
    }

    /// Waits up to `seconds` for the pipe's end (a grandchild holding it open may delay it forever).
    func waitForEOF(seconds: Double, clock: any WorkerClock) async -> Bool {
        await finished.wait(upTo: seconds, clock: clock)
    }

    private func readUntilEOF() {
        defer {
            close(fd)
            finished.complete()
        }
        var pending: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { break }
            var start = 0
            for index in 0..<count where buffer[index] == UInt8(ascii: "\n") {
                pending.append(contentsOf: buffer[start..<index])
                emit(pending, partial: false)
                pending.removeAll(keepingCapacity: true)
                start = index + 1
            }
            pending.append(contentsOf: buffer[start..<count])
            // Split only when more than one piece is held, so a line of exactly N pieces ends
            // with a whole piece, not with an empty line.
            while pending.count > maxLineBytes {
                emit(Array(pending[0..<maxLineBytes]), partial: true)
                pending.removeFirst(maxLineBytes)
            }
        }
        if !pending.isEmpty { emit(pending, partial: false) }
    }

    /// Hands out `bytes` in pieces of at most `maxLineBytes`; all but the last piece of a complete
    /// line are marked partial.
    private func emit(_ bytes: [UInt8], partial: Bool) {
        var bytes = bytes[...]
        if !partial, bytes.last == UInt8(ascii: "\r") { bytes.removeLast() }
        while bytes.count > maxLineBytes {
            deliver(bytes.prefix(maxLineBytes), partial: true)
            bytes = bytes.dropFirst(maxLineBytes)
        }
        deliver(bytes, partial: partial)
    }

    private func deliver(_ bytes: ArraySlice<UInt8>, partial: Bool) {
        onLine(OutputLine(stream: stream, text: String(decoding: bytes, as: UTF8.self), isPartial: partial, pid: pid))
    }
}
