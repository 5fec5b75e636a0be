import ArgumentParser
import Deployments
import Foundation
import PhotonCore

struct BackupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Save a cluster's store (etcd, ZooKeeper, the Swarm's Raft state) to the installer.",
        discussion: """
            Runs the kind's backup steps on the first machine of its backup role (etcdctl snapshot save; \
            ZooKeeper's snapshot and logs; the Swarm's state, dockerd stopped on that manager), copies the \
            file over SFTP to -o (0600) and writes BACKUP.json beside it with its SHA-256, the cluster's kind \
            and version and when it was taken. 'photon restore' reads both.
            """
    )

    @OptionGroup var blueprint: BlueprintOptions
    @OptionGroup var state: StateOptions

    @Argument(help: "The cluster to back up.")
    var cluster: String

    @Option(name: .shortAndLong, help: "Where to write the backup (default: CLUSTER-YYYYMMDD-HHMMSS.backup here).")
    var output: String?

    func run() async throws {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd-HHmmss"
        let stamp = formatter.string(from: Date())
        let path = output ?? "\(cluster)-\(stamp).backup"
        let runner = try await Runner(
            blueprintPath: blueprint.file, templates: blueprint.templates, state: state.location,
            options: RunSettings(yes: true, parallelism: nil, format: .text, noWait: false), command: "backup")
        let manifest = try await runner.backup(cluster: cluster, output: path)
        Output.result(
            "\(path)  \(manifest.description) of \(manifest.cluster) (\(manifest.kind) \(manifest.version ?? "")), \(manifest.bytes) bytes, sha256 \(manifest.sha256)"
        )
    }
}

struct RestoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract: "Rebuild a cluster's store from a backup photon made.",
        discussion: """
            Checks BACKUP against BACKUP.json (its SHA-256, the cluster's kind and version), asks, puts it on \
            every machine of the roles that hold the store, and runs the kind's restore steps the way the \
            software documents (etcd: snapshot restore on every member; ZooKeeper: every member stopped, its \
            data replaced, started; Swarm: the state put back on the first manager and \
            --force-new-cluster), each step on all of those machines before the next, then their join and \
            health steps again.
            """
    )

    @OptionGroup var blueprint: BlueprintOptions
    @OptionGroup var state: StateOptions

    @Argument(help: "The cluster to restore.")
    var cluster: String

    @Argument(help: "The backup file (photon backup's -o).")
    var backup: String

    @Flag(name: [.short, .customLong("yes")], help: "Do not ask for confirmation (required when not on a terminal).")
    var yes = false

    func run() async throws {
        let runner = try await Runner(
            blueprintPath: blueprint.file, templates: blueprint.templates, state: state.location,
            options: RunSettings(yes: yes, parallelism: nil, format: .text, noWait: false), command: "restore")
        try await runner.restore(cluster: cluster, from: backup)
    }
}
