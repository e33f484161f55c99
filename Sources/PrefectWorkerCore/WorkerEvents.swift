import FoundationEssentials

/// The events Prefect's worker emits for the UI's event feed (docs/prefect-worker-protocol.md §7), built as JSON
/// (pure: ids and times come from the caller). Nothing in the server's orchestration depends on them.
public struct WorkerEvents: Sendable, Equatable {
    /// A flow run as its events name it.
    public struct Run: Sendable, Equatable {
        public var flowRunId: String
        public var flowRunName: String
        public var flowId: String
        public var flowName: String?
        public var deploymentId: String?
        public var deploymentName: String?
        public var tags: [String]

        public init(
            flowRunId: String, flowRunName: String, flowId: String, flowName: String? = nil, deploymentId: String? = nil,
            deploymentName: String? = nil, tags: [String] = []
        ) {
            self.flowRunId = flowRunId
            self.flowRunName = flowRunName
            self.flowId = flowId
            self.flowName = flowName
            self.deploymentId = deploymentId
            self.deploymentName = deploymentName
            self.tags = tags
        }
    }

    public var workerName: String
    public var poolId: String
    public var poolName: String
    public var version: String

    public init(workerName: String, poolId: String, poolName: String, version: String) {
        self.workerName = workerName
        self.poolId = poolId
        self.poolName = poolName
        self.version = version
    }

    /// As python-slugify does it for the names Prefect generates: lower case, runs of anything but
    /// letters and digits become one `-`, none at either end.
    public static func slug(_ name: String) -> String {
        var slug = ""
        var pendingDash = false
        for character in name.lowercased() {
            if character.isLetter || character.isNumber {
                if pendingDash && !slug.isEmpty { slug.append("-") }
                pendingDash = false
                slug.append(character)
            } else {
                pendingDash = true
            }
        }
        return slug
    }

    var resource: JSONValue {
        .object([
            "prefect.resource.id": .string("prefect.worker.process.\(Self.slug(workerName))"),
            "prefect.resource.name": .string(workerName), "prefect.version": .string(version),
            "prefect.worker-type": .string("process"),
        ])
    }

    var poolResource: JSONValue {
        .object([
            "prefect.resource.id": .string("prefect.work-pool.\(poolId)"), "prefect.resource.role": .string("work-pool"),
            "prefect.resource.name": .string(poolName),
        ])
    }

    func event(_ name: String, id: String, at: Date, related: [JSONValue], follows: String?) -> JSONValue {
        var event: [String: JSONValue] = [
            "id": .string(id), "occurred": .string(RFC3339.format(at)), "event": .string(name), "resource": resource,
            "related": .array(related), "payload": .object([:]),
        ]
        if let follows { event["follows"] = .string(follows) }
        return .object(event)
    }

    public func started(id: String, at: Date) -> JSONValue {
        event("prefect.worker.started", id: id, at: at, related: [poolResource], follows: nil)
    }

    public func stopped(id: String, at: Date, follows started: String?) -> JSONValue {
        event("prefect.worker.stopped", id: id, at: at, related: [poolResource], follows: started)
    }

    public func submitted(id: String, at: Date, run: Run) -> JSONValue {
        event("prefect.worker.submitted-flow-run", id: id, at: at, related: related(run, infrastructure: [:]), follows: nil)
    }

    /// `statusCode`: the exit code, or minus the signal that ended the process, as Python reports it.
    public func executed(id: String, at: Date, run: Run, pid: Int32, statusCode: Int32?, follows submitted: String?) -> JSONValue {
        var infrastructure: [String: JSONValue] = ["prefect.infrastructure.identifier": .string("\(pid)")]
        if let statusCode { infrastructure["prefect.infrastructure.status-code"] = .string("\(statusCode)") }
        return event(
            "prefect.worker.executed-flow-run", id: id, at: at, related: related(run, infrastructure: infrastructure),
            follows: submitted)
    }

    func related(_ run: Run, infrastructure: [String: JSONValue]) -> [JSONValue] {
        var related: [JSONValue] = []
        if let deploymentId = run.deploymentId {
            related.append(.object([
                "prefect.resource.id": .string("prefect.deployment.\(deploymentId)"), "prefect.resource.role": .string("deployment"),
                "prefect.resource.name": .string(run.deploymentName ?? ""),
            ]))
        }
        related.append(.object([
            "prefect.resource.id": .string("prefect.flow.\(run.flowId)"), "prefect.resource.role": .string("flow"),
            "prefect.resource.name": .string(run.flowName ?? ""),
        ]))
        var flowRun: [String: JSONValue] = [
            "prefect.resource.id": .string("prefect.flow-run.\(run.flowRunId)"), "prefect.resource.role": .string("flow-run"),
            "prefect.resource.name": .string(run.flowRunName),
        ]
        flowRun.merge(infrastructure) { _, new in new }
        related.append(.object(flowRun))
        for tag in run.tags {
            related.append(.object(["prefect.resource.id": .string("prefect.tag.\(tag)"), "prefect.resource.role": .string("tag")]))
        }
        related.append(poolResource)
        return related
    }
}

extension ProcessExit {
    /// The exit as Python's `returncode`: the code, or minus the signal; nil when unknown.
    public var statusCode: Int32? {
        switch self {
        case .exited(let code): return code
        case .signaled(let signal): return -signal
        case .unknown: return nil
        }
    }
}
