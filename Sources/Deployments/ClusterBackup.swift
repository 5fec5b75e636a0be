import Crypto
import Foundation
import Kinds
import MachineAccess
import PhotonCore
import Planning

/// What `photon backup` writes beside the snapshot (`BACKUP.json`): what it is a backup of, and its
/// digest, so a restore refuses a damaged file or one of another kind or version.
package struct BackupManifest: Codable, Sendable, Equatable {
    package static let currentFormat = 1

    package var formatVersion: Int
    package var deployment: String
    package var cluster: String
    package var kind: String
    /// The cluster's `version` setting when the backup was taken.
    package var version: String?
    package var description: String
    /// The machine the backup was taken on, and where its snapshot was there.
    package var machine: String
    package var remoteFile: String
    package var sha256: String
    package var bytes: Int
    package var takenAt: Date
    package var photonVersion: String

    package static func path(of backup: String) -> String { backup + ".json" }

    package static func read(besides backup: String) throws -> BackupManifest {
        let path = Self.path(of: backup)
        guard let data = FileManager.default.contents(atPath: path) else {
            throw PhotonError("\(path) is missing: photon backup writes it beside the backup", help: "restore a file that photon backup wrote, with its .json")
        }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        let manifest: BackupManifest
        do { manifest = try decoder.decode(BackupManifest.self, from: data) } catch {
            throw PhotonError("\(path) is not a backup description: \(error)", help: "restore a file that photon backup wrote, with its .json")
        }
        guard manifest.formatVersion == currentFormat else {
            throw PhotonError(
                "\(path) has format \(manifest.formatVersion); this photon reads \(currentFormat)", help: "restore it with the photon that wrote it")
        }
        return manifest
    }

    package func write(besides backup: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        try PrivateFile.write(String(decoding: try encoder.encode(self), as: UTF8.self) + "\n", to: Self.path(of: backup))
    }

    /// The SHA-256 of a file, read in pieces.
    package static func sha256(ofFile path: String) throws -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw PhotonError("cannot read \(path)") }
        defer { try? handle.close() }
        var hash = SHA256()
        while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty { hash.update(data: chunk) }
        return hash.finalize().map { String(format: "%02x", $0) }.joined()
    }
}

extension Runner {
    /// `photon backup`: runs the kind's backup steps, copies the snapshot to `output` (0600) and writes
    /// its manifest beside it. The snapshot on the machine is removed afterwards.
    package func backup(cluster: String, output: String) async throws -> BackupManifest {
        try refuseMaintenanceThroughPlane("backup", cluster: cluster)
        return try await holdingLock {
            let (prepared, target) = try await prepareMaintenance(cluster: cluster, phase: .backup)
            show(prepared.plan)
            try await runMaintenance(prepared)
            guard let machine = target.machines.first else { throw PhotonError("cluster \(cluster) has no \(target.backup.role) machine") }
            let (driver, shell) = try await backends()
            let handle = try await self.handle(machine.name, driver: driver)
            let temporary = output + ".photon-tmp"
            let bytes: Int
            do { bytes = try await shell.download(target.backup.file, to: temporary, on: handle) } catch {
                try? FileManager.default.removeItem(atPath: temporary)
                await shell.closeAll()
                throw PhotonError("cannot copy \(target.backup.file) from \(machine.name): \(error)", help: "run photon backup again")
            }
            _ = try? await shell.execute("rm -f " + ShellQuoting.quote(target.backup.file), on: handle, timeout: .seconds(30))
            // Sessions end before the process does (see Kubeconfig).
            await shell.closeAll()
            let digest = try BackupManifest.sha256(ofFile: temporary)
            guard rename(temporary, output) == 0 else {
                try? FileManager.default.removeItem(atPath: temporary)
                throw PhotonError("cannot write \(output): \(String(cString: strerror(errno)))")
            }
            let manifest = BackupManifest(
                formatVersion: BackupManifest.currentFormat, deployment: blueprint.name.value, cluster: cluster, kind: target.kind,
                version: target.version, description: target.backup.description, machine: machine.name, remoteFile: target.backup.file,
                sha256: digest, bytes: bytes, takenAt: Date(), photonVersion: PhotonVersion.current)
            try manifest.write(besides: output)
            return manifest
        }
    }

    /// `photon restore`: checks the backup against its manifest and the cluster, asks, puts the file on
    /// every machine that restores from it, and runs the kind's restore steps (then every machine's health steps).
    package func restore(cluster: String, from backup: String) async throws {
        try refuseMaintenanceThroughPlane("restore", cluster: cluster)
        let manifest = try BackupManifest.read(besides: backup)
        guard manifest.cluster == cluster || manifest.deployment != blueprint.name.value else {
            throw PhotonError(
                "\(backup) is a backup of cluster \(manifest.cluster), not \(cluster)",
                help: "restore it into \(manifest.cluster), or name the backup of \(cluster)")
        }
        let digest = try BackupManifest.sha256(ofFile: backup)
        guard digest == manifest.sha256 else {
            throw PhotonError(
                "\(backup) has SHA-256 \(digest), but its backup recorded \(manifest.sha256): the file changed or is damaged",
                help: "restore an intact copy of the backup")
        }
        try await holdingLock {
            let (prepared, target) = try await prepareMaintenance(cluster: cluster, phase: .restore)
            guard manifest.kind == target.kind else {
                throw PhotonError(
                    "\(backup) is a backup of a \(manifest.kind) cluster; \(cluster) is \(target.kind)", help: "restore it into a \(manifest.kind) cluster")
            }
            guard manifest.version == target.version else {
                throw PhotonError(
                    "\(backup) was taken at version \(manifest.version ?? "none"); \(cluster) runs \(target.version ?? "none")",
                    help: "set the cluster's version to \(manifest.version ?? "the backup's") first: a store is restored into the version that wrote it")
            }
            show(prepared.plan)
            try confirm(
                "Restore cluster \(cluster) of \(blueprint.name.value) from \(backup) (taken \(manifest.takenAt.formatted(.iso8601)) on \(manifest.machine))? What its store holds now is replaced."
            )
            guard let data = FileManager.default.contents(atPath: backup) else { throw PhotonError("cannot read \(backup)") }
            let bytes = [UInt8](data)
            let (driver, shell) = try await backends()
            do {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for machine in target.machines {
                        group.addTask {
                            let handle = try await self.handle(machine.name, driver: driver)
                            try await shell.upload(bytes, to: target.backup.file, mode: 0o600, owner: nil, on: handle)
                        }
                    }
                    try await group.waitForAll()
                }
                Output.error("put \(backup) (\(manifest.bytes) bytes) at \(target.backup.file) on \(target.machines.map(\.name).joined(separator: ", "))")
                try await runMaintenance(prepared)
                for machine in target.machines {
                    if let handle = try? await self.handle(machine.name, driver: driver) {
                        _ = try? await shell.execute("rm -f " + ShellQuoting.quote(target.backup.file), on: handle, timeout: .seconds(30))
                    }
                }
                await shell.closeAll()
            } catch {
                // Sessions end before the process does (see Kubeconfig).
                await shell.closeAll()
                throw error
            }
        }
    }

    /// The installer owns the plane's own machines; the plane owns the clusters.
    func refuseMaintenanceThroughPlane(_ command: String, cluster: String) throws {
        guard !usesPlane || cluster == KindCatalog.managementKind else {
            throw PhotonError(
                "photon \(command) reaches the machines from the installer; this deployment's clusters belong to its management plane",
                help: "add --local to run it from the installer with the plane's recorded state")
        }
    }

    func holdingLock<T>(_ body: () async throws -> T) async throws -> T {
        let lock = try await acquireLock()
        if let warning = lock.warning { Output.error("warning: \(warning)") }
        do {
            let value = try await body()
            _ = try? await store.releaseLock(lock.id)
            return value
        } catch {
            _ = try? await store.releaseLock(lock.id)
            throw error
        }
    }

    func prepareMaintenance(cluster: String, phase: Phase) async throws -> (PreparedRun, MaintenanceTarget) {
        let recorded = try await store.recordedState()
        let planner = workspace.planner(for: blueprint, stateDirectory: stateDirectory)
        let resolved = try Resolver(catalog: workspace.catalog, secrets: planner.secrets, recorded: recorded).resolve(blueprint)
        let (plan, renderer, target) = try planner.maintenancePlan(resolved, recorded: recorded, cluster: cluster, phase: phase)
        return (PreparedRun(resolved: resolved, recorded: recorded, newCounts: [], plan: plan, renderer: renderer), target)
    }

    func runMaintenance(_ prepared: PreparedRun) async throws {
        let outcome = try await run(prepared, goal: .apply, confirmed: true)
        switch outcome.status {
        case .succeeded: break
        case .failed: throw OperationExit.failure
        case .interrupted: throw OperationExit.interrupted
        }
    }

    func backends() async throws -> (any MachineDriver, any RemoteShell) {
        let context = try await backendContext()
        return (try Backends.current.current.driver(blueprint, context), try Backends.current.current.shell(blueprint, context))
    }

    func handle(_ name: String, driver: any MachineDriver) async throws -> MachineHandle {
        guard let handle = try await driver.lookup(name: name) else {
            throw PhotonError("machine \(name) is not there", help: "'photon apply -f \(blueprintPath)' makes it again")
        }
        return handle
    }
}
