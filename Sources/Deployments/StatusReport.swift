import Blueprints
import Foundation
import PhotonCore
import PlaneAPI
import Planning
import StateStore

/// What `photon status` shows, gathered without changing anything.
package struct StatusReport: Encodable {
    package struct Machine: Encodable {
        package var name, group, kind, role: String
        package var index: Int
        package var address: String
        package var lifecycle: String
        /// What the control plane says, when it can tell without connecting (local machines).
        package var running: Bool?
        /// Whether its SSH port answers, for running local machines (false: its sshd died).
        package var sshAnswers: Bool?
    }
    package struct Run: Encodable {
        package var id: Int64
        package var command: String
        package var status: String
        package var startedAt: Date
        package var finishedAt: Date?
        package var summary: String?
        package var failures: [String]
    }
    package struct Lock: Encodable {
        package var id: String
        package var pid: Int32
        package var host: String
        package var command: String
        package var since: Date
    }
    package var deployment: String
    package var stateDirectory: String
    package var serial: Int
    package var lock: Lock?
    package var lastRun: Run?
    package var machines: [Machine]
    /// Counts set by `photon scale`, with the blueprint's count they replaced.
    package var scaled: [ScaledCount]
    package var drift: PlanSummary?
    /// Set when the deployment runs on its management plane (the report then is the plane's).
    package var plane: Plane?
    /// Certificates that expire within 30 days (the next apply renews them).
    package var expiringCertificates: [ExpiringCertificate] = []

    package struct Plane: Encodable {
        package var endpoint: String
        package var fingerprint: String
        package var leader: String?
        package var operation: String?
    }

    /// The deployment's report: from its management plane when the plane runs it (and `state` does not
    /// say --local), else from the state on this host, with the blueprint's drift when one is given and
    /// what the local driver can tell of each machine without connecting.
    package static func make(blueprintPath file: String?, templates: String?, state: StateLocation) async throws -> StatusReport {
        var blueprint: Blueprint?
        var workspace: Workspace?
        if let file {
            workspace = try Workspace(templates: templates)
            blueprint = try workspace?.loadBlueprint(file)
        }
        let deployment = blueprint?.name.value ?? URL(fileURLWithPath: state.directory ?? ".").lastPathComponent
        let directory = state.directory(for: deployment)
        if !state.local, PlaneEnvironment.current == nil, let context = try PlaneContext.load(stateDirectory: directory) {
            return try await planeReport(context, directory: directory)
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
        return StatusReport(
            deployment: deployment, stateDirectory: directory, serial: recorded.serial,
            lock: try store.lockHolder().map { StatusReport.Lock(id: $0.id.uuidString, pid: $0.pid, host: $0.host, command: $0.command, since: $0.since) },
            lastRun: lastRun.map {
                StatusReport.Run(
                    id: $0.id, command: $0.command, status: $0.status.rawValue, startedAt: $0.startedAt, finishedAt: $0.finishedAt,
                    summary: $0.summary, failures: failures)
            },
            machines: recorded.machines.sorted { ($0.group, $0.role, $0.index) < ($1.group, $1.role, $1.index) }.map {
                StatusReport.Machine(
                    name: $0.name, group: $0.group, kind: $0.kind, role: $0.role, index: $0.index, address: $0.address, lifecycle: $0.lifecycle.rawValue,
                    running: running[$0.name], sshAnswers: running[$0.name] == true ? deaf.map { [name = $0.name] in !$0.contains(name) } : nil)
            },
            scaled: recorded.scaledCounts.values.sorted { $0.key < $1.key },
            drift: drift, plane: nil, expiringCertificates: ExpiringCertificate.among(recorded.generatedSecrets))
    }

    /// The deployment as its management plane reports it.
    package static func planeReport(_ context: PlaneContext, directory: String) async throws -> StatusReport {
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
        var lastRun: StatusReport.Run?
        if let run = runs.first {
            let detail = try await get("/v1/runs/\(run.id)", as: RunDetailBody.self)
            lastRun = StatusReport.Run(
                id: run.id, command: run.command, status: run.status, startedAt: run.startedAt, finishedAt: run.finishedAt,
                summary: run.summary,
                failures: detail.steps.filter { $0.status == "failed" }.map { "\($0.action) on \($0.machine): \($0.message ?? "failed")" })
        }
        var machines: [StatusReport.Machine] = []
        for cluster in clusters {
            for role in cluster.roles {
                for machine in role.machines {
                    machines.append(
                        StatusReport.Machine(
                            name: machine.name, group: cluster.name, kind: cluster.kind, role: role.name, index: machine.index,
                            address: machine.address, lifecycle: machine.lifecycle, running: nil))
                }
            }
        }
        return StatusReport(
            deployment: deployment.name, stateDirectory: "management plane at \(client.baseURL)", serial: deployment.serial,
            lock: deployment.lock.map { StatusReport.Lock(id: $0.id, pid: $0.pid, host: $0.host, command: $0.command, since: $0.since) },
            lastRun: lastRun, machines: machines,
            scaled: deployment.scaled.map { ScaledCount(group: $0.cluster, role: $0.role, count: $0.count, baseCount: $0.blueprintCount) },
            drift: nil,
            plane: StatusReport.Plane(
                endpoint: client.baseURL, fingerprint: context.fingerprint, leader: deployment.leader,
                operation: deployment.operation.map { "\($0.id) \($0.summary) (\($0.status.rawValue))" }),
            expiringCertificates: try installerCertificates(directory: directory, deployment: deployment.name) + (deployment.expiringCertificates ?? []))
    }

    /// The management plane's certificates, which this installer keeps (and renews) for the plane's machines.
    package static func installerCertificates(directory: String, deployment: String) throws -> [ExpiringCertificate] {
        guard FileManager.default.fileExists(atPath: directory + "/" + SQLiteStateStore.databaseFileName) else { return [] }
        let store = try SQLiteStateStore.open(directory: directory, deployment: deployment)
        defer { try? store.close() }
        return ExpiringCertificate.among(try store.readRecordedState().generatedSecrets).filter { $0.group == "management" }
    }
}
