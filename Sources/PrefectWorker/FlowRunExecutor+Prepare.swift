import FoundationEssentials
import Logging
import PrefectAPI
import PrefectWorkerCore
import ProcessSupervisor

/// Everything needed to start a claimed run's child.
struct PreparedRun: Sendable {
    let run: FlowRun
    let job: JobConfiguration
    let reporting: StateReporting
    let arguments: [String]
    let environment: [String: String]
    /// The settings of the run's private Prefect profile file (credentials for an engine run);
    /// nil = no file.
    let profileSettings: [String: String]?
    let timeoutSeconds: Double?
    /// Whether the output lines also go to the Prefect API (`output_to_api`).
    let outputToAPI: Bool
    /// The run as the worker's events name it.
    let eventRun: WorkerEvents.Run
    /// Masks the values the job configuration took from block documents, for every text the
    /// worker writes about the run.
    let redaction: SecretRedaction
}

extension FlowRunExecutor {
    /// Reads the deployment, renders the job template and decides the command and environment.
    func prepare(_ run: FlowRun, logger: Logger) async throws -> PreparedRun {
        var deployment: Deployment?
        if let deploymentId = run.deploymentId {
            // A server that is briefly away must not crash a claimed run: wait for an answer.
            guard let answer = await untilAnswered("read deployment \(deploymentId)", logger: logger, {
                try await reads.deployments.read(deploymentId)
            }) else {
                throw PreparationError(message: "could not read deployment \(deploymentId)")
            }
            deployment = answer
            if deployment == nil {
                throw RunSkipped(reason: "its deployment \(deploymentId) was deleted", proposal: FinalStateDecision.deploymentDeleted(deploymentId))
            }
        }
        // Waited for like the deployment: the flow's name goes into the run's environment. Read
        // once per flow (FlowNames).
        var flow = flowNames.flow(id: run.flowId)
        if flow == nil {
            flow = await untilAnswered("read flow \(run.flowId)", logger: logger, { try await api.readFlow(id: run.flowId) }) ?? nil
            if let flow { flowNames.remember(flow) }
        }

        let values = JobTemplateRenderer.mergeJobVariables(
            deployment: deployment?.jobVariables ?? [:], flowRun: run.jobVariables ?? [:])
        let template = await poolCache.pool.baseJobTemplate
        let populated = try JobTemplateRenderer(workerEnvironment: configuration.environment)
            .populate(baseJobTemplate: template, values: values)
        let (resolved, redaction) = try await resolveReferences(in: populated, logger: logger)
        let job: JobConfiguration
        let arguments: [String]
        do {
            // A message about the resolved configuration may quote a value; none may show a secret.
            job = try JobTemplateRenderer.jobConfiguration(from: resolved)
            arguments = try job.command.map(CommandLineSplitter.split) ?? [configuration.python, "-m", "prefect.engine"]
        } catch {
            throw PreparationError(message: redaction.redact("\(error)"))
        }
        let reporting = try StateReporting.resolve(jobVariables: values, command: job.command)
        let timeout = try RunTimeout.resolve(jobVariables: values, default: configuration.runTimeoutSeconds)
        let outputToAPI = try OutputToAPI.resolve(jobVariables: values, default: configuration.outputToAPI)
        if job.command == nil, let problem = await pythonCheck.problem() { throw PreparationError(message: problem) }
        if arguments.isEmpty { throw SpawnError.emptyCommand }

        let identity = ChildEnvironment.RunIdentity(
            flowRunId: run.id, flowId: run.flowId, flowName: flow?.name, deploymentId: run.deploymentId,
            deploymentName: deployment?.name, workerName: configuration.workerName)
        let credentials = configuration.credentialSettings
        let delivery = configuration.passCredentialsToRuns.delivery(reporting: reporting, hasCredentials: !credentials.isEmpty)
        let environment = ChildEnvironment.build(
            workerEnvironment: ChildEnvironment.inheritable(
                from: configuration.environment, passCredentials: delivery == .environment,
                policy: configuration.environmentPolicy),
            settings: configuration.settingsEnvironment.merging(delivery == .environment ? credentials : [:]) { _, secret in secret },
            run: identity, jobEnv: job.env)
        // The run reads its own Prefect profile instead of the user's: it carries the user's
        // active profile on, with the worker's server and credentials on top.
        let profileSettings = delivery == .profileFile
            ? configuration.prefectProfileValues.merging(configuration.settingsEnvironment.merging(credentials) { _, secret in secret }) { _, worker in worker }
            : nil
        if reporting == .engine, !credentials.isEmpty, delivery == .none,
            environment["PREFECT_API_KEY"] == nil, environment["PREFECT_API_AUTH_STRING"] == nil
        {
            logger.warning(
                "the engine gets none of the worker's API credentials (pass_credentials_to_runs = never) and may not reach the server; use auto or put the credential in the deployment's env")
        }
        let eventRun = WorkerEvents.Run(
            flowRunId: run.id, flowRunName: run.name, flowId: run.flowId, flowName: flow?.name, deploymentId: run.deploymentId,
            deploymentName: deployment?.name, tags: run.tags ?? [])
        return PreparedRun(
            run: run, job: job, reporting: reporting, arguments: arguments, environment: environment, profileSettings: profileSettings,
            timeoutSeconds: timeout,
            outputToAPI: outputToAPI, eventRun: eventRun, redaction: redaction)
    }
}

struct PreparationError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}
