import Engine
import Foundation
import MachineAccess
import PhotonCore
import Planning

/// A control plane and shell kept in a directory, so they survive the photon process: crash tests kill
/// `apply` with SIGKILL and run it again against the same machines.
///
/// Layout: `<root>/machines/<name>/handle.json` for each machine (with its incarnation, a new id each time
/// the machine is really made); `<root>/machines/<name>/fs/…` its files; `<root>/machines/<name>/commands.log`
/// a trace of the commands it ran. A machine appears at once, by renaming a complete directory into place.
/// The toy kind's commands (`toy-init`, `toy-join`) behave like real non-idempotent ones: their effect
/// is a counter file guards can test, bumped atomically, so "how many times did it run" survives any kill.
public final class FileBackedMachines: MachineDriver, RemoteShell, @unchecked Sendable {
    public let root: URL
    private let lock = NSLock()

    public init(root: URL) {
        self.root = root
        try? FileManager.default.createDirectory(at: root.appendingPathComponent("machines"), withIntermediateDirectories: true)
    }

    func directory(_ name: String) -> URL { root.appendingPathComponent("machines").appendingPathComponent(name) }

    func locked<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }

    /// Appends a line and flushes it to disk before returning, like a real side effect that happened.
    func append(_ line: String, to file: URL) throws {
        if !FileManager.default.fileExists(atPath: file.path) { _ = FileManager.default.createFile(atPath: file.path, contents: nil) }
        let handle = try FileHandle(forWritingTo: file)
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: Data((line + "\n").utf8))
        try handle.synchronize()
    }

    // MARK: MachineDriver

    public func create(_ spec: MachineSpec) async throws -> MachineHandle {
        try locked {
            if let existing = try read(spec.name) { return existing }
            let handle = MachineHandle(
                name: spec.name, address: spec.address ?? "192.0.2.1", hostKeyFingerprint: "SHA256:file-\(spec.name)", driverID: UUID().uuidString)
            // Build the whole machine aside, then rename it into place: it exists completely or not at all.
            let staging = root.appendingPathComponent("machines/.staging-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: staging.appendingPathComponent("fs"), withIntermediateDirectories: true)
            try JSONEncoder().encode(handle).write(to: staging.appendingPathComponent("handle.json"))
            try FileManager.default.moveItem(at: staging, to: directory(spec.name))
            try? append("\(spec.name) \(handle.driverID)", to: root.appendingPathComponent("creations.log"))
            return handle
        }
    }

    func read(_ name: String) throws -> MachineHandle? {
        guard let data = FileManager.default.contents(atPath: directory(name).appendingPathComponent("handle.json").path) else { return nil }
        return try JSONDecoder().decode(MachineHandle.self, from: data)
    }

    public func delete(name: String) async throws {
        try locked {
            guard FileManager.default.fileExists(atPath: directory(name).path) else { return }
            // Rename away first so a half-removed machine never looks present.
            let trash = root.appendingPathComponent("machines/.deleted-\(UUID().uuidString)")
            try FileManager.default.moveItem(at: directory(name), to: trash)
            try? append(name, to: root.appendingPathComponent("deletions.log"))
            try FileManager.default.removeItem(at: trash)
        }
    }

    public func lookup(name: String) async throws -> MachineHandle? { try locked { try read(name) } }

    public func list() async throws -> [MachineHandle] {
        try locked {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent("machines").path)) ?? []
            return try names.filter { !$0.hasPrefix(".") }.sorted().compactMap(read)
        }
    }

    // MARK: RemoteShell

    func path(_ path: String, on machine: String) -> URL {
        directory(machine).appendingPathComponent("fs").appendingPathComponent(String(path.drop(while: { $0 == "/" })))
    }

    public func upload(_ data: [UInt8], to path: String, mode: Int, owner: String?, on machine: MachineHandle) async throws {
        let target = self.path(path, on: machine.name)
        try FileManager.default.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(data).write(to: target, options: .atomic)
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: target.path)
    }

    public func execute(_ command: String, on machine: MachineHandle, timeout: Duration?) async throws -> CommandOutput {
        guard FileManager.default.fileExists(atPath: directory(machine.name).path) else {
            throw FakeError("connection refused: \(machine.name) does not exist", transient: true)
        }
        if command.hasPrefix("test -e ") {
            let checked = String(command.dropFirst("test -e ".count)).trimmingCharacters(in: CharacterSet(charactersIn: "'"))
            return CommandOutput(exitStatus: FileManager.default.fileExists(atPath: path(checked, on: machine.name).path) ? 0 : 1)
        }
        try locked {
            if command.hasPrefix("toy-init") { try bump("/var/lib/toy/initialised", on: machine.name) }
            if command.hasPrefix("toy-join") {
                let config = try? String(contentsOf: path("/etc/toy.conf", on: machine.name), encoding: .utf8)
                try bump("/var/lib/toy/joined", on: machine.name, note: "with \(ToyKind.token(inConfig: config) ?? "no token"): \(command)")
            }
            try append(command, to: directory(machine.name).appendingPathComponent("commands.log"))
        }
        if command.hasPrefix("toy-token") { return CommandOutput(stdout: "TOKEN-\(machine.name)\n") }
        return CommandOutput()
    }

    public func isListening(host: String, port: Int, timeout: Duration) async -> Bool { true }

    /// Adds one to a counter file atomically: the command's effect and the count of its runs are one write.
    func bump(_ file: String, on machine: String, note: String = "") throws {
        let target = path(file, on: machine)
        try FileManager.default.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
        let current = (try? String(contentsOf: target, encoding: .utf8)).flatMap { Int($0.split(separator: "\n").first ?? "") } ?? 0
        try Data("\(current + 1)\n\(note)\n".utf8).write(to: target, options: .atomic)
    }

    // MARK: What happened

    /// Machines really made: how many distinct machines each name has had (adoption makes none).
    public func creations() -> [String: Int] {
        var incarnations: [String: Set<String>] = [:]
        let text = (try? String(contentsOf: root.appendingPathComponent("creations.log"), encoding: .utf8)) ?? ""
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: " ")
            if parts.count == 2 { incarnations[String(parts[0]), default: []].insert(String(parts[1])) }
        }
        // A machine made just before a kill may have missed its log line: its directory says it exists.
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent("machines").path)) ?? []
        for name in names where !name.hasPrefix(".") {
            if let handle = try? read(name) { incarnations[name, default: []].insert(handle.driverID) }
        }
        return incarnations.mapValues(\.count)
    }

    /// How many times a toy command's effect happened on a machine (`initialised`, `joined`).
    public func runs(of marker: String, on machine: String) -> Int {
        let text = (try? String(contentsOf: path("/var/lib/toy/\(marker)", on: machine), encoding: .utf8)) ?? ""
        return Int(text.split(separator: "\n").first ?? "") ?? 0
    }

    /// The last toy-join on a machine: `with <token from its configuration>: <command line>`.
    public func lastJoin(on machine: String) -> String? {
        let text = (try? String(contentsOf: path("/var/lib/toy/joined", on: machine), encoding: .utf8)) ?? ""
        let lines = text.split(separator: "\n")
        return lines.count > 1 ? String(lines[1]) : nil
    }

    public func deletions() -> [String: Int] { counts(in: "deletions.log") }

    func counts(in file: String) -> [String: Int] {
        let text = (try? String(contentsOf: root.appendingPathComponent(file), encoding: .utf8)) ?? ""
        return text.split(separator: "\n").reduce(into: [:]) { $0[String($1), default: 0] += 1 }
    }

    /// Commands a machine ran, in order.
    public func commands(on machine: String) -> [String] {
        let text = (try? String(contentsOf: directory(machine).appendingPathComponent("commands.log"), encoding: .utf8)) ?? ""
        return text.split(separator: "\n").map(String.init)
    }
}
