import ArgumentParser
import Blueprints
import Deployments
import Foundation
import PhotonCore
import PlaneAPI
import Planning
import StateStore

struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show a deployment's machines, the last run, the lock holder, and drift from the blueprint."
    )

    @Option(name: [.short, .customLong("file")], help: ArgumentHelp("The blueprint, to compare with what is recorded.", valueName: "file"))
    var file: String?

    @OptionGroup var kinds: TemplatesOption
    @OptionGroup var state: StateOptions

    @Option(help: "Output format: text or json.")
    var format: OutputFormat = .text

    func validate() throws {
        if file == nil, state.directory == nil { throw ValidationError("give -f BLUEPRINT or --state DIR") }
    }

    struct Report: Encodable {
        struct Machine: Encodable {
            var name, group, kind, role: String
            var index: Int
            var address: String
            var lifecycle: String
            /// What the control plane says, when it can tell without connecting (local machines).
            var running: Bool?
            /// Whether its SSH port answers, for running local machines (false: its sshd died).
            var sshAnswers: Bool?
        }
        struct Run: Encodable {
            var id: Int64
            var command: String
            var status: String
            var startedAt: Date
            var finishedAt: Date?
            var summary: String?
            var failures: [String]
        }
        struct Lock: Encodable {
            var id: String
            var pid: Int32
            var host: String
            var command: String
            var since: Date
        }
        var deployment: String
        var stateDirectory: String
        var serial: Int
        var lock: Lock?
        var lastRun: Run?
        var machines: [Machine]
        /// Counts set by `photon scale`, with the blueprint's count they replaced.
        var scaled: [ScaledCount]
        var drift: PlanSummary?
        /// Set when the deployment runs on its management plane (the report then is the plane's).
        var plane: Plane?
        /// Certificates that expire within 30 days (the next apply renews them).
        var expiringCertificates: [ExpiringCertificate] = []

        struct Plane: Encodable {
            var endpoint: String
            var fingerprint: String
            var leader: String?
            var operation: String?
        }
    }

    func run() async throws {
        var blueprint: Blueprint?
        var workspace: Workspace?
        if let file {
            workspace = try Workspace(templates: kinds.templates)
            blueprint = try workspace?.loadBlueprint(file)
        }
        let deployment = blueprint?.name.value ?? URL(fileURLWithPath: state.directory ?? ".").lastPathComponent
        let directory = state.directory(for: deployment)
        if !state.local, PlaneEnvironment.current == nil, let context = try PlaneContext.load(stateDirectory: directory) {
            let report = try await planeReport(context, directory: directory)
            if format == .json { Output.result(JSONOutput.encode(report)) } else { Output.result(text(report)) }
            return
        }
        guard FileManager.default.fileExists(atPath: directory + "/" + SQLiteStateStore.databaseFileName) else {
            throw PhotonError(
                "deployment \(deployment) has no recorded state in \(directory)", help: "nothing was applied yet; 'photon apply -f BLUEPRINT' creates it")
        }
        let store = try SQLiteStateStore.open(directory: directory, deployment: deployment)
        let recorded = try store.readRecordedState()
        var drift: PlanSummary?
        if let blueprint, let workspace {
            drift = try workspace.planner(for: blueprint).plan(blueprint, recorded: recorded).summary
        }
        var running: [String: Bool] = [:]
        var deaf: Set<String>?
        if let blueprint, case .local = blueprint.controlPlane,
            let driver = try? Backends.current.current.driver(blueprint, BackendContext(stateDirectory: directory, recordedHandles: try store.machineHandles()))
        {
            for machine in recorded.machines { running[machine.name] = await driver.isRunning(name: machine.name) }
            deaf = await driver.deafMachines(
                Dictionary(recorded.machines.filter { running[$0.name] == true }.map { ($0.name, $0.address) }, uniquingKeysWith: { first, _ in first }))
        }
        let lastRun = try await store.lastRun()
        let failures =
            try lastRun.map { run in
                try store.journal(run: run.id).filter { $0.status == .failed }.map { "\($0.actionID) on \($0.machine): \($0.message ?? "failed")" }
            } ?? []
        let report = Report(
            deployment: deployment, stateDirectory: directory, serial: recorded.serial,
            lock: try store.lockHolder().map { Report.Lock(id: $0.id.uuidString, pid: $0.pid, host: $0.host, command: $0.command, since: $0.since) },
            lastRun: lastRun.map {
                Report.Run(
                    id: $0.id, command: $0.command, status: $0.status.rawValue, startedAt: $0.startedAt, finishedAt: $0.finishedAt,
                    summary: $0.summary, failures: failures)
            },
            machines: recorded.machines.sorted { ($0.group, $0.role, $0.index) < ($1.group, $1.role, $1.index) }.map {
                Report.Machine(
                    name: $0.name, group: $0.group, kind: $0.kind, role: $0.role, index: $0.index, address: $0.address, lifecycle: $0.lifecycle.rawValue,
                    running: running[$0.name], sshAnswers: running[$0.name] == true ? deaf.map { [name = $0.name] in !$0.contains(name) } : nil)
            },
            scaled: recorded.scaledCounts.values.sorted { $0.key < $1.key },
            drift: drift, plane: nil, expiringCertificates: ExpiringCertificate.among(recorded.generatedSecrets))
        if format == .json {
            Output.result(JSONOutput.encode(report))
            return
        }
        Output.result(text(report))
    }

    /// The deployment as its management plane reports it.
    func planeReport(_ context: PlaneContext, directory: String) async throws -> Report {
        let client = try await context.connect()
        func get<T: Decodable>(_ path: String, as type: T.Type) async throws -> T {
            let (status, data) = try await client.send(.GET, path)
            guard status == 200 else { throw PlaneSession.apiError(status, data, path) }
            let decoder = JSONDecoder()
            decoder.dateDecodingStrategy = .iso8601
            return try decoder.decode(T.self, from: data)
        }
        let deployment = try await get("/v1/deployment", as: DeploymentBody.self)
        let clusters = try await get("/v1/clusters", as: [ClusterBody].self)
        let runs = try await get("/v1/runs?limit=1", as: [RunBody].self)
        var lastRun: Report.Run?
        if let run = runs.first {
            let detail = try await get("/v1/runs/\(run.id)", as: RunDetailBody.self)
            lastRun = Report.Run(
                id: run.id, command: run.command, status: run.status, startedAt: run.startedAt, finishedAt: run.finishedAt,
                summary: run.summary,
                failures: detail.steps.filter { $0.status == "failed" }.map { "\($0.action) on \($0.machine): \($0.message ?? "failed")" })
        }
        var machines: [Report.Machine] = []
        for cluster in clusters {
            for role in cluster.roles {
                for machine in role.machines {
                    machines.append(
                        Report.Machine(
                            name: machine.name, group: cluster.name, kind: cluster.kind, role: role.name, index: machine.index,
                            address: machine.address, lifecycle: machine.lifecycle, running: nil))
                }
            }
        }
        return Report(
            deployment: deployment.name, stateDirectory: "management plane at \(client.baseURL)", serial: deployment.serial,
            lock: deployment.lock.map { Report.Lock(id: $0.id, pid: $0.pid, host: $0.host, command: $0.command, since: $0.since) },
            lastRun: lastRun, machines: machines,
            scaled: deployment.scaled.map { ScaledCount(group: $0.cluster, role: $0.role, count: $0.count, baseCount: $0.blueprintCount) },
            drift: nil,
            plane: Report.Plane(
                endpoint: client.baseURL, fingerprint: context.fingerprint, leader: deployment.leader,
                operation: deployment.operation.map { "\($0.id) \($0.summary) (\($0.status.rawValue))" }),
            expiringCertificates: try installerCertificates(directory: directory, deployment: deployment.name) + (deployment.expiringCertificates ?? []))
    }

    /// The management plane's certificates, which this installer keeps (and renews) for the plane's machines.
    func installerCertificates(directory: String, deployment: String) throws -> [ExpiringCertificate] {
        guard FileManager.default.fileExists(atPath: directory + "/" + SQLiteStateStore.databaseFileName) else { return [] }
        let store = try SQLiteStateStore.open(directory: directory, deployment: deployment)
        defer { try? store.close() }
        return ExpiringCertificate.among(try store.readRecordedState().generatedSecrets).filter { $0.group == "management" }
    }

    func text(_ report: Report) -> String {
        var lines = ["Deployment \(report.deployment): state \(report.stateDirectory), serial \(report.serial)"]
        if let plane = report.plane {
            lines.append("plane: certificate \(plane.fingerprint), leader \(plane.leader ?? "none elected")")
            if let operation = plane.operation { lines.append("operation: \(operation)") }
        }
        if let lock = report.lock {
            lines.append("lock: held by pid \(lock.pid) on \(lock.host) (\(lock.command)) since \(lock.since); id \(lock.id)")
        } else {
            lines.append("lock: free")
        }
        if let run = report.lastRun {
            lines.append("last run: #\(run.id) \(run.command) \(run.status), started \(run.startedAt)\(run.summary.map { ": \($0)" } ?? "")")
            lines.append(contentsOf: run.failures.map { "  failed: \($0)" })
        } else {
            lines.append("last run: none")
        }
        let groups = Dictionary(grouping: report.machines, by: \.group)
        for group in groups.keys.sorted() {
            let machines = groups[group] ?? []
            lines.append("")
            lines.append("\(group == "management" ? "management plane" : "cluster \(group)") (\(machines.first?.kind ?? ""))")
            for role in Set(machines.map(\.role)).sorted() {
                let members = machines.filter { $0.role == role }
                var line = "  \(role): \(members.count) machine\(members.count == 1 ? "" : "s")"
                if let scaled = report.scaled.first(where: { $0.group == group && $0.role == role }) {
                    line += " (scaled to \(scaled.count) by photon scale; the blueprint said \(scaled.baseCount))"
                }
                lines.append(line)
                for machine in members {
                    lines.append(
                        "    \(machine.name)  \(machine.address)  \(machine.lifecycle)\(machine.running == false ? " (stopped: the next apply starts it)" : machine.sshAnswers == false ? " (sshd does not answer: the next apply starts it again)" : "")"
                    )
                }
            }
        }
        if report.machines.isEmpty { lines.append("no machines recorded") }
        if !report.expiringCertificates.isEmpty {
            lines.append("")
            lines.append("certificates expiring within 30 days (the next 'photon apply' renews them):")
            for certificate in report.expiringCertificates {
                let days = Int(certificate.notAfter.timeIntervalSinceNow / 86400)
                lines.append("  \(certificate.name)  \(days < 0 ? "expired" : "in \(days) day\(days == 1 ? "" : "s")") (\(certificate.notAfter))")
            }
        }
        if let drift = report.drift {
            lines.append("")
            if drift.create + drift.update + drift.delete == 0 {
                lines.append("drift: none; the machines match the blueprint")
            } else {
                lines.append("drift: \(drift.create) to create, \(drift.update) to change, \(drift.delete) to delete (photon plan -f shows what)")
            }
        }
        // Everything here was recorded from blueprints, machines or the plane: shown, never obeyed.
        return TerminalText.visible(lines.joined(separator: "\n"))
    }
}

struct UnlockCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "unlock",
        abstract: "Release a deployment's lock left by a process that cannot release it (on another host, or gone).",
        discussion: "The id is printed by the command that found the lock held, and by 'photon status'."
    )

    @Option(help: ArgumentHelp("The lock id to release (required: forcing is deliberate).", valueName: "id"))
    var force: String

    @Option(name: [.short, .customLong("file")], help: ArgumentHelp("The deployment's blueprint.", valueName: "file"))
    var file: String?

    @OptionGroup var kinds: TemplatesOption
    @OptionGroup var state: StateOptions

    func validate() throws {
        if file == nil, state.directory == nil { throw ValidationError("give -f BLUEPRINT or --state DIR") }
    }

    func run() async throws {
        var deployment = URL(fileURLWithPath: state.directory ?? ".").lastPathComponent
        if let file { deployment = try BlueprintLoader().load(path: file).name.value }
        let store = try await state.open(deployment: deployment).store
        try await store.forceUnlock(id: force)
        Output.error("Released lock \(force) of \(deployment).")
    }
}
