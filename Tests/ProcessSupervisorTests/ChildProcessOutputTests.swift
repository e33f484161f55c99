import PrefectWorkerCore
import ProcessSupervisor
import Testing

@Suite struct ChildProcessOutputTests {
    @Test func linesArriveOnTheirStreamInOrder() async throws {
        let lines = LineCollector()
        let script = "i=1; while [ $i -le 50 ]; do echo out$i; echo err$i >&2; i=$((i+1)); done"
        let child = try ChildProcess.spawn(shell(script), onOutput: lines.onOutput)
        #expect(await exitOf(child) == .exited(code: 0))
        #expect(lines.texts(.stdout) == (1...50).map { "out\($0)" })
        #expect(lines.texts(.stderr) == (1...50).map { "err\($0)" })
        #expect(lines.all.allSatisfy { $0.pid == child.pid && !$0.isPartial })
    }

    @Test func finalLineWithoutNewlineIsDelivered() async throws {
        let lines = LineCollector()
        let child = try ChildProcess.spawn(shell("printf 'a\\nlast'; printf 'e1\\ne-last' >&2"), onOutput: lines.onOutput)
        #expect(await exitOf(child) == .exited(code: 0))
        #expect(lines.texts(.stdout) == ["a", "last"])
        #expect(lines.texts(.stderr) == ["e1", "e-last"])
    }

    @Test func longLineArrivesInPiecesThatConcatenateToIt() async throws {
        let lines = LineCollector()
        let length = 200_000
        // A line far longer than both maxLineBytes and one pipe read, then a short line.
        let script = "head -c \(length) /dev/zero | tr '\\0' x; echo; echo short"
        let child = try ChildProcess.spawn(shell(script, maxLineBytes: 1000), onOutput: lines.onOutput)
        #expect(await exitOf(child) == .exited(code: 0))
        let stdout = lines.all.filter { $0.stream == .stdout }
        try #require(stdout.count >= 3)
        #expect(stdout.last?.text == "short")
        let pieces = stdout.dropLast()
        #expect(pieces.contains { $0.isPartial })
        #expect(pieces.dropLast().allSatisfy { $0.isPartial })
        #expect(pieces.last?.isPartial == false)
        #expect(pieces.filter { $0.isPartial }.allSatisfy { $0.text.utf8.count == 1000 })
        #expect(pieces.map(\.text).joined() == String(repeating: "x", count: length))
    }

    @Test
    func longLineWrittenAtOnceIsSplitToo() async throws {
        let lines = LineCollector()
        let line = String(repeating: "y", count: 100)
        let child = try ChildProcess.spawn(shell("echo \(line)", maxLineBytes: 16), onOutput: lines.onOutput)
        #expect(await exitOf(child) == .exited(code: 0))
        let pieces = lines.all
        #expect(pieces.allSatisfy { $0.text.utf8.count <= 16 }, "piece sizes: \(pieces.map(\.text.utf8.count))")
        #expect(pieces.map(\.text).joined() == line)
    }

    @Test func noCaptureDeliversNothingAndStillRuns() async throws {
        let lines = LineCollector()
        let child = try ChildProcess.spawn(shell("echo out; echo err >&2; exit 0", captureOutput: false), onOutput: lines.onOutput)
        #expect(await exitOf(child) == .exited(code: 0))
        #expect(lines.all.isEmpty)
    }
}
