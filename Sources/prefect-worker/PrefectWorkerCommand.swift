import ArgumentParser
import FoundationEssentials
import PrefectAPI
import PrefectWorker
import PrefectWorkerCore
import Systemd

#if canImport(Glibc)
import Glibc
#endif

struct PrefectWorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prefect-worker",
        abstract: "A Prefect process worker: runs a work pool's flow runs as supervised child processes.",
        version: PrefectWorkerVersion.text,
        subcommands: [StartCommand.self, ConfigCommand.self])

    /// Parses, runs, and maps errors to exit codes: 2 for a missing or malformed setting (one line),
    /// 1 for a worker that cannot go on, 3 for a stop that had to cut runs in flight, 0 otherwise.
    static func runAndExit() async {
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let error as SettingsError {
            StderrWriter.write("prefect-worker: error: \(error)\n")
            Glibc.exit(2)
        } catch let code as ExitCode {
            Glibc.exit(code.rawValue)
        } catch let error as WorkerError {
            StderrWriter.write("prefect-worker: error: \(error)\n")
            Glibc.exit(1)
        } catch {
            let code = exitCode(for: error)
            if code == .success {
                exit(withError: error)  // --help, --version
            }
            // Argument errors from ArgumentParser (EX_USAGE) are settings errors too: exit 2.
            if code == .validationFailure {
                StderrWriter.write("prefect-worker: error: \(message(for: error))\n")
                Glibc.exit(2)
            }
            StderrWriter.write("prefect-worker: error: \(error)\n")
            Glibc.exit(1)
        }
    }
}
