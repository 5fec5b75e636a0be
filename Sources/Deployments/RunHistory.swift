import Foundation
import PhotonCore
import StateStore

/// `photon runs` and `photon logs`: the runs the installer's state keeps (the last 100), and one run's log
/// and failed steps. Read-only: the state is opened, read and closed, never locked.
package struct RunHistory {
    /// One kept run, as `photon runs --format json` prints it.
    package struct Run: Encodable, Sendable {
        package var id: Int64
        package var command: String
        /// ISO 8601, UTC.
        package var startedAt: String
        package var finishedAt: String?
        package var seconds: Double?
        package var status: String
        package var summary: String?
    }

    /// A step that failed in the run, with the last lines it wrote to stderr (secrets already masked).
    package struct Failure: Encodable, Sendable {
        package var action: String
        package var machine: String
        package var message: String?
        package var stderrTail: String?
    }

    package let directory: String
    package let deployment: String

    static func time(_ date: Date) -> String { ISO8601DateFormatter().string(from: date) }

    package init(blueprintPath: String, templates: String?, state: StateLocation) throws {
        let blueprint = try Workspace(templates: templates).loadBlueprint(blueprintPath)
        deployment = blueprint.name.value
        directory = state.directory(for: deployment)
    }

    func withStore<T>(_ body: (SQLiteStateStore) throws -> T) throws -> T {
        guard FileManager.default.fileExists(atPath: directory + "/" + SQLiteStateStore.databaseFileName) else {
            throw PhotonError("deployment \(deployment) has no recorded state in \(directory)", help: "'photon apply -f BLUEPRINT' creates it")
        }
        let store = try SQLiteStateStore.open(directory: directory, deployment: deployment)
        defer { try? store.close() }
        return try body(store)
    }

    package func runs(limit: Int) throws -> [Run] {
        try withStore { store in
            try store.runs(limit: limit).map { record in
                Run(
                    id: record.id, command: record.command, startedAt: Self.time(record.startedAt), finishedAt: record.finishedAt.map(Self.time),
                    seconds: record.finishedAt.map { $0.timeIntervalSince(record.startedAt) }, status: record.status.rawValue, summary: record.summary)
            }
        }
    }

    /// The run (the last one when nil), its log's path, and its failed steps.
    package func run(_ id: Int64?) throws -> (run: Run, log: String, failures: [Failure]) {
        try withStore { store in
            let kept = try store.runs(limit: Runner.keptRuns)
            guard let record = id.map({ wanted in kept.first { $0.id == wanted } }) ?? kept.first else {
                if let id {
                    throw PhotonError("there is no run \(id) of \(deployment)", help: "'photon runs' lists the kept runs (the last \(Runner.keptRuns))")
                }
                throw PhotonError("\(deployment) has no runs yet", help: "'photon apply' makes the first")
            }
            let failures = try store.journal(run: record.id).filter { $0.status == .failed }.map {
                Failure(action: $0.actionID, machine: $0.machine, message: $0.message, stderrTail: $0.stderrTail)
            }
            let run = Run(
                id: record.id, command: record.command, startedAt: Self.time(record.startedAt), finishedAt: record.finishedAt.map(Self.time),
                seconds: record.finishedAt.map { $0.timeIntervalSince(record.startedAt) }, status: record.status.rawValue, summary: record.summary)
            return (run, "\(directory)/runs/\(record.id).log", failures)
        }
    }
}
