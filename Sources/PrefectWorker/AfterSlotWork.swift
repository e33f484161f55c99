/// Work a run leaves for after its slot is given back (it holds no run's place, and a stopping
/// worker still waits for it, bounded).
protocol AfterSlotWork: Sendable {
    func run() async
}

extension CrashedHooks: AfterSlotWork {}

/// Several, one after the other.
struct AfterSlotWorks: AfterSlotWork {
    let works: [any AfterSlotWork]

    func run() async {
        for work in works { await work.run() }
    }
}
