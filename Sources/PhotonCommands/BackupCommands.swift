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
        let path = output ?? "\(cluster)-\(PrivateFile.stamp()).backup"
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
            --force-new-cluster), each step on all of those machines before the next, then the health steps \
            of every machine of the cluster.
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

struct StateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "state",
        abstract: "Back up and restore the installer's own state of a deployment.",
        subcommands: [StateBackupCommand.self, StateRestoreCommand.self]
    )
}

struct StateBackupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Write the deployment's state (database, sealing key, SSH key, host keys, plane files) to a tar archive (0600).",
        discussion: "The database is copied with SQLite's online backup: a run may go on meanwhile. Machines' disks and the binaries cache are not in it."
    )

    @OptionGroup var blueprint: BlueprintOptions
    @OptionGroup var state: StateOptions

    @Option(name: .shortAndLong, help: "The archive to write (default: DEPLOYMENT-state-YYYYMMDD-HHMMSS.tar here).")
    var output: String?

    func run() async throws {
        let deployment = try Workspace(templates: blueprint.templates).loadBlueprint(blueprint.file).name.value
        let path = output ?? "\(deployment)-state-\(PrivateFile.stamp()).tar"
        let files = try StateBackup.backup(stateDirectory: state.directory(for: deployment), deployment: deployment, to: path)
        Output.result(path)
        Output.error("the state of \(deployment): \(files.joined(separator: ", "))")
    }
}

struct StateRestoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract: "Replace the deployment's state with a backup photon state backup wrote.",
        discussion: """
            The archive is checked first (a photon state of this deployment whose secrets open with its key). \
            What it replaces is moved to replaced-TIME/ in the state folder, never deleted. Refused while a run holds the lock.
            """
    )

    @OptionGroup var blueprint: BlueprintOptions
    @OptionGroup var state: StateOptions

    @Argument(help: "The archive photon state backup wrote.")
    var archive: String

    @Flag(name: [.short, .customLong("yes")], help: "Do not ask for confirmation (required when not on a terminal).")
    var yes = false

    func run() async throws {
        let deployment = try Workspace(templates: blueprint.templates).loadBlueprint(blueprint.file).name.value
        let directory = state.directory(for: deployment)
        try Confirmation.ask(
            "Replace the recorded state of \(deployment) in \(directory) with \(archive)?", yes: yes, command: "state restore",
            changing: "the recorded state")
        let replaced = try StateBackup.restore(stateDirectory: directory, deployment: deployment, from: archive)
        Output.error("restored the state of \(deployment) from \(archive); the state it replaced is in \(replaced)")
    }
}
