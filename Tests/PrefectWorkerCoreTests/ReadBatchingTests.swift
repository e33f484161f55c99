import PrefectWorkerCore
import Testing

@Suite struct ReadBatchingTests {
    /// A step at a time: a read asked, request `number` come back, or a wake-up; then the ids of
    /// the request that goes (nil: none).
    enum Step: Sendable {
        case ask(String, at: Double = 0, sends: [String]?)
        case back(Int, at: Double = 0, sends: [String]?)
        case wake(at: Double, sends: [String]?)
    }

    static let scripts: [(String, ReadBatching<String>, [Step])] = [
        ("an idle reader sends at once, alone", ReadBatching(maxInFlight: 1), [
            .ask("a", sends: ["a"]), .back(1, sends: nil), .ask("b", sends: ["b"]),
        ]),
        ("reads asked while one is out go together when it comes back", ReadBatching(maxInFlight: 1), [
            .ask("a", sends: ["a"]), .ask("b", sends: nil), .ask("c", sends: nil), .ask("d", sends: nil),
            .back(1, sends: ["b", "c", "d"]), .back(2, sends: nil),
        ]),
        ("a second request may go while the first is out", ReadBatching(maxInFlight: 2), [
            .ask("a", sends: ["a"]), .ask("b", sends: ["b"]), .ask("c", sends: nil), .ask("d", sends: nil),
            .back(2, sends: ["c", "d"]), .back(1, sends: nil), .back(3, sends: nil),
        ]),
        ("an id already in flight is read again after it", ReadBatching(maxInFlight: 1), [
            .ask("a", sends: ["a"]), .ask("a", sends: nil), .back(1, sends: ["a"]),
        ]),
        ("an id asked twice while waiting is read once", ReadBatching(maxInFlight: 1), [
            .ask("x", sends: ["x"]), .ask("a", sends: nil), .ask("a", sends: nil), .ask("b", sends: nil), .back(1, sends: ["a", "b"]),
        ]),
        ("no request holds more than maxBatch ids", ReadBatching(maxBatch: 2, maxInFlight: 1), [
            .ask("x", sends: ["x"]), .ask("a", sends: nil), .ask("b", sends: nil), .ask("c", sends: nil),
            .back(1, sends: ["a", "b"]), .back(2, sends: ["c"]), .back(3, sends: nil),
        ]),
        ("a request out for `patience` holds nothing back", ReadBatching(maxInFlight: 1, patience: 2), [
            .ask("a", at: 0, sends: ["a"]), .ask("b", at: 1.9, sends: nil), .wake(at: 2, sends: ["b"]),
            .ask("c", at: 2.5, sends: nil), .back(1, at: 3, sends: nil), .back(2, at: 3.1, sends: ["c"]),
        ]),
        ("a read asked after the patience ran out goes at once", ReadBatching(maxInFlight: 1, patience: 2), [
            .ask("a", at: 0, sends: ["a"]), .ask("b", at: 5, sends: ["b"]),
        ]),
    ]

    @Test(arguments: scripts)
    func batches(_ name: String, _ start: ReadBatching<String>, _ steps: [Step]) {
        var batching = start
        for (index, step) in steps.enumerated() {
            let (request, expected): (ReadBatching<String>.Request?, [String]?) = switch step {
            case .ask(let key, let now, let sends): (batching.ask(key, now: now), sends)
            case .back(let number, let now, let sends): (batching.answered(number, now: now), sends)
            case .wake(let now, let sends): (batching.wake(now: now), sends)
            }
            #expect(request?.keys == expected, "\(name), step \(index + 1)")
        }
    }

    @Test func theWakeUpIsWhenTheYoungestHoldingRequestsPatienceRunsOut() {
        var batching = ReadBatching<String>(maxInFlight: 2, patience: 2)
        _ = batching.ask("a", now: 0)
        #expect(batching.wakeAt(now: 0) == nil, "nothing waits")
        _ = batching.ask("b", now: 1)
        _ = batching.ask("c", now: 1.5)
        #expect(batching.wakeAt(now: 1.5) == 2, "request 1 stops holding c back at 2")
        #expect(batching.wakeAt(now: 2.2) == nil, "c may go now: no wake-up, the next call sends it")
        #expect(batching.wake(now: 2.2)?.keys == ["c"])
        #expect(batching.wakeAt(now: 2.2) == nil)
    }

    @Test func nothingIsLeftWaitingOnceEveryRequestCameBack() {
        var batching = ReadBatching<Int>(maxBatch: 3, maxInFlight: 2)
        var out: [Int] = []
        var read = 0
        for key in 0..<10 {
            if let request = batching.ask(key, now: 0) { out.append(request.number); read += request.keys.count }
        }
        while let number = out.popLast() {
            if let request = batching.answered(number, now: 0) { out.append(request.number); read += request.keys.count }
        }
        #expect(read == 10)
        #expect(batching.waiting.isEmpty && batching.inFlight.isEmpty)
    }
}
