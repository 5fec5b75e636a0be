import PhotonCore
import YAMLReader

/// How a kind's cluster store is saved and rebuilt (`photon backup`, `photon restore`).
///
/// Backup: the `backup` steps of ``role`` run on its first machine and leave one file at ``file``, which
/// photon downloads to the installer with its digest. Restore: photon uploads that file to the same path
/// on every machine of the roles that have `restore` steps, runs those steps stage by stage (each step on
/// all of the machines before the next: a store whose members must all stop before any starts again
/// needs that), then the `health` steps of every machine of the cluster.
public struct BackupDeclaration: Sendable, Hashable {
    /// The role whose first machine takes the backup.
    public var role: String
    /// Where the backup steps leave the snapshot, and where a restore puts it (absolute).
    public var file: String
    /// What the snapshot is, for people ("etcd snapshot", "ZooKeeper snapshot and logs").
    public var description: String
    public var location: SourceLocation

    public init(role: String, file: String, description: String, location: SourceLocation) {
        self.role = role
        self.file = file
        self.description = description
        self.location = location
    }
}

extension KindReading {
    /// `backup: {role, file, description}`, with the role's `backup` steps and some role's `restore` steps.
    func backupSection(_ value: YAMLValue, roles: [RoleDeclaration]) -> BackupDeclaration? {
        guard let section = value.mapping() else { return nil }
        defer { section.finish() }
        let roleValue = section.required("role")
        let fileValue = section.required("file")
        let description = section.optional("description")?.string() ?? "backup"
        guard let roleName = roleValue?.string(), let file = fileValue?.string() else { return nil }
        guard let role = roles.first(where: { $0.name == roleName }) else {
            error(
                "backup names role '\(roleName)', which the kind does not have", at: roleValue?.location,
                help: Suggestions.help(for: roleName, among: roles.map(\.name), noun: "role"))
            return nil
        }
        guard file.hasPrefix("/"), !file.contains("{"), !file.contains(where: { $0.isWhitespace || $0.isNewline }) else {
            error("backup.file is an absolute path on the machine, without templates or spaces", at: fileValue?.location)
            return nil
        }
        if role.steps(in: .backup).isEmpty {
            error(
                "role \(roleName) has no backup steps to leave the backup at \(file)", at: roleValue?.location, help: "add 'backup:' steps to role \(roleName)")
        }
        if !roles.contains(where: { !$0.steps(in: .restore).isEmpty }) {
            error(
                "no role has restore steps: a backup must say how it is restored", at: value.location,
                help: "add 'restore:' steps to the roles that hold the store")
        }
        return BackupDeclaration(role: roleName, file: file, description: description, location: value.location)
    }
}
