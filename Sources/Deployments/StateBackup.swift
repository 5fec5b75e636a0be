import Foundation
import PhotonCore
import StateStore

/// `photon state backup` and `photon state restore`: the installer's own state of a deployment — the
/// database (copied with SQLite's online backup), the key that seals its secrets, photon's SSH key, the
/// pinned host keys and the management plane's files — as one tar archive (0600). Machines' disks and
/// the binaries cache are not in it: they are made again or fetched again.
package enum StateBackup {
    /// Top-level folders of the state that belong to it (the rest are machines' disks, caches and logs).
    static let keptFolders = ["plane", "agent"]

    package static func backup(stateDirectory: String, deployment: String, to archive: String) throws -> [String] {
        let database = stateDirectory + "/" + SQLiteStateStore.databaseFileName
        guard FileManager.default.fileExists(atPath: database) else {
            throw PhotonError("\(deployment) has no recorded state in \(stateDirectory)", help: "pass --state DIR if it lives elsewhere")
        }
        let staging = stateDirectory + "/.backup-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: staging, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        defer { try? FileManager.default.removeItem(atPath: staging) }
        let store = try SQLiteStateStore.open(directory: stateDirectory, deployment: deployment)
        try store.copyDatabase(to: staging + "/" + SQLiteStateStore.databaseFileName)
        try? store.close()
        var names = [SQLiteStateStore.databaseFileName]
        for name in try covered(in: stateDirectory) where name != SQLiteStateStore.databaseFileName {
            let target = staging + "/" + name
            try FileManager.default.createDirectory(
                atPath: (target as NSString).deletingLastPathComponent, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            try FileManager.default.copyItem(atPath: stateDirectory + "/" + name, toPath: target)
            names.append(name)
        }
        try tar(["-C", staging, "-cf", archive + ".photon-tmp", "."], doing: "writing \(archive)")
        chmod(archive + ".photon-tmp", 0o600)
        guard rename(archive + ".photon-tmp", archive) == 0 else { throw PhotonError("cannot write \(archive): \(String(cString: strerror(errno)))") }
        return names.sorted()
    }

    /// Replaces the state with the archive's after checking it (a photon state of this deployment whose
    /// secrets open with its key). What it replaces is moved to `replaced-<time>/` in the state folder,
    /// never deleted; returns that folder.
    package static func restore(stateDirectory: String, deployment: String, from archive: String) throws -> String {
        guard FileManager.default.fileExists(atPath: archive) else { throw PhotonError("\(archive) does not exist") }
        try FileManager.default.createDirectory(atPath: stateDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let staging = stateDirectory + "/.restoring-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: staging, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        defer { try? FileManager.default.removeItem(atPath: staging) }
        try tar(["-C", staging, "--no-same-owner", "--no-overwrite-dir", "-xf", archive], doing: "reading \(archive)")
        // Only files and folders: a link in the archive would make photon's later writes land outside the state.
        for entry in FileManager.default.enumerator(atPath: staging)?.compactMap({ $0 as? String }) ?? [] {
            let type = (try? FileManager.default.attributesOfItem(atPath: staging + "/" + entry))?[.type] as? FileAttributeType
            guard type == .typeRegular || type == .typeDirectory else {
                throw PhotonError(
                    "\(archive) holds \(TerminalText.visible(entry)), which is not a plain file or folder",
                    help: "restore an archive that photon state backup wrote")
            }
        }
        let restored = try covered(in: staging)
        guard restored.contains(SQLiteStateStore.databaseFileName) else {
            throw PhotonError("\(archive) holds no \(SQLiteStateStore.databaseFileName): it is not a backup of photon's state")
        }
        // Opened and read once: the file is checked (a photon state of this deployment) and its secrets unsealed.
        do {
            let store = try SQLiteStateStore.open(directory: staging, deployment: deployment)
            _ = try store.readRecordedState()
            try store.close()
        } catch {
            throw PhotonError("\(archive) cannot be restored: \(error)", help: "restore a backup that photon state backup wrote for \(deployment)")
        }
        // No run may be writing the state being replaced: its lock is taken (a damaged state has no run).
        let databasePath = stateDirectory + "/" + SQLiteStateStore.databaseFileName
        if FileManager.default.fileExists(atPath: databasePath), let current = try? SQLiteStateStore.open(directory: stateDirectory, deployment: deployment) {
            defer { try? current.close() }
            let lock = try current.acquireLock(command: "state restore \(archive)")
            if let warning = lock.warning { Output.error("warning: \(warning)") }
        }
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withFullDate, .withTime]
        let replaced = stateDirectory + "/replaced-" + formatter.string(from: Date()).replacingOccurrences(of: ":", with: "")
        let current = try covered(in: stateDirectory).filter { !$0.hasPrefix("replaced-") }
        try FileManager.default.createDirectory(atPath: replaced, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let leftovers = [SQLiteStateStore.databaseFileName + "-wal", SQLiteStateStore.databaseFileName + "-shm"]
        for name in current + leftovers where FileManager.default.fileExists(atPath: stateDirectory + "/" + name) {
            let target = replaced + "/" + name
            try FileManager.default.createDirectory(
                atPath: (target as NSString).deletingLastPathComponent, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            try FileManager.default.moveItem(atPath: stateDirectory + "/" + name, toPath: target)
        }
        for name in restored {
            let source = staging + "/" + name
            try FileManager.default.createDirectory(
                atPath: ((stateDirectory + "/" + name) as NSString).deletingLastPathComponent, withIntermediateDirectories: true,
                attributes: [.posixPermissions: 0o700])
            try FileManager.default.moveItem(atPath: source, toPath: stateDirectory + "/" + name)
        }
        return replaced
    }

    /// The state's own files under `directory`, relative: its top-level files, the plane's and agent's
    /// folders, and the pinned host keys.
    static func covered(in directory: String) throws -> [String] {
        var names: [String] = []
        for entry in try FileManager.default.contentsOfDirectory(atPath: directory).sorted() {
            var isFolder: ObjCBool = false
            guard FileManager.default.fileExists(atPath: directory + "/" + entry, isDirectory: &isFolder) else { continue }
            if isFolder.boolValue {
                if keptFolders.contains(entry) { names.append(entry) }
            } else if !entry.hasPrefix("."), !entry.hasSuffix("-wal"), !entry.hasSuffix("-shm"), !entry.hasSuffix(".photon-tmp") {
                names.append(entry)
            }
        }
        if FileManager.default.fileExists(atPath: directory + "/machines/known_hosts") { names.append("machines/known_hosts") }
        return names
    }

    static func tar(_ arguments: [String], doing: String) throws {
        let result = try HostCommand.runBlocking(["tar"] + arguments)
        guard result.succeeded else { throw PhotonError("\(doing) failed: \(TerminalText.visible(result.stderr.suffix(400).description))") }
    }
}
