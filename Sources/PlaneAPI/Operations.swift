import Engine
import Etcd
import Foundation
import PhotonCore
import StateStore

/// What an operation runs on: the blueprint as the user wrote it and the kinds it is planned with.
public struct BlueprintBundle: Codable, Sendable, Hashable {
    /// The blueprint's file name (its base name: the deployment's name comes from inside it).
    public var blueprintFile: String
    public var blueprint: String
    /// Every file of the kinds folder, by relative path ("swarm/kind.yaml").
    public var kinds: [String: String]

    public init(blueprintFile: String, blueprint: String, kinds: [String: String]) {
        self.blueprintFile = blueprintFile
        self.blueprint = blueprint
        self.kinds = kinds
    }

    /// Reads a kinds folder into a workspace's `kinds`.
    public static func kindFiles(in directory: String) throws -> [String: String] {
        var files: [String: String] = [:]
        let manager = FileManager.default
        guard let enumerator = manager.enumerator(atPath: directory) else { throw PhotonError("cannot read the kinds folder \(directory)") }
        while let relative = enumerator.nextObject() as? String {
            var isDirectory: ObjCBool = false
            let path = directory + "/" + relative
            guard manager.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue else { continue }
            guard let data = manager.contents(atPath: path) else { throw PhotonError("cannot read \(path)") }
            files[relative] = String(decoding: data, as: UTF8.self)
        }
        return files
    }

    /// Writes the blueprint and the kinds under `directory`; returns the blueprint's path and the kinds folder.
    func materialize(in directory: String) throws -> (blueprint: String, kinds: String) {
        let manager = FileManager.default
        try? manager.removeItem(atPath: directory)
        let kindsDirectory = directory + "/kinds"
        try manager.createDirectory(atPath: kindsDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        for (relative, text) in kinds {
            guard !relative.split(separator: "/").contains("..") else { throw PhotonError("refusing the kind file path \(relative)") }
            let path = kindsDirectory + "/" + relative
            try manager.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            guard manager.createFile(atPath: path, contents: Data(text.utf8)) else { throw PhotonError("cannot write \(path)") }
        }
        let name = (blueprintFile as NSString).lastPathComponent
        let blueprintPath = directory + "/" + (name.isEmpty || name == ".." ? "blueprint.yaml" : name)
        guard manager.createFile(atPath: blueprintPath, contents: Data(blueprint.utf8), attributes: [.posixPermissions: 0o600]) else {
            throw PhotonError("cannot write \(blueprintPath)")
        }
        return (blueprintPath, kindsDirectory)
    }
}

/// A long operation the plane runs (Photon Controller's task): apply, scale or destroy, as recorded in etcd.
public struct OperationRecord: Codable, Sendable, Hashable {
    public enum Status: String, Codable, Sendable {
        case queued, running, succeeded, failed, interrupted
        public var isFinished: Bool { self == .succeeded || self == .failed || self == .interrupted }
    }

    public var id: String
    /// What it does, as requested.
    public var request: OperationRequest
    /// What it changes, for people ("scale web workers=5").
    public var summary: String
    public var status: Status
    /// The API server running it.
    public var node: String?
    public var attempts: Int
    public var createdAt: Date
    public var startedAt: Date?
    public var finishedAt: Date?
    public var exitStatus: Int32?
    /// The runs of the recorded state it made (one per attempt).
    public var runs: [Int64]
}

/// Operation records and their event streams in etcd: `op/<id>` and `events/<id>/<seq>`.
///
/// What decides what the plane runs — operation records, the plane's workspace and the one submitted
/// with an apply — is stored authenticated (``RecordAuthenticator``): a record that does not verify
/// is ignored, as if it were not there, so only holders of the deployment's key can start an operation.
struct OperationBook: Sendable {
    let etcd: EtcdClient
    let prefix: String
    let authenticator: RecordAuthenticator

    func key(_ id: String) -> String { prefix + "op/" + id }
    func eventKey(_ id: String, _ sequence: Int) -> String { prefix + "events/" + id + "/" + String(format: "%09d", sequence) }
    var workspaceKey: String { prefix + "plane/workspace" }

    /// How an authenticated record is stored: its exact bytes and their tag.
    struct Authenticated: Codable {
        var body: Data
        var tag: String
    }

    static func encode<T: Encodable>(_ value: T) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = .sortedKeys
        return Array(try encoder.encode(value))
    }

    static func decode<T: Decodable>(_ type: T.Type, _ bytes: [UInt8]) throws -> T {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try decoder.decode(type, from: Data(bytes))
    }

    /// `value` as stored under `key`, with its tag.
    func sealed<T: Encodable>(_ value: T, key: String) throws -> [UInt8] {
        let body = try Self.encode(value)
        return try Self.encode(Authenticated(body: Data(body), tag: authenticator.tag(body, key: key)))
    }

    /// The value stored under `key`, or nil (with a warning on stderr) when it is not authentic.
    func opened<T: Decodable>(_ type: T.Type, _ value: KeyValue) -> T? {
        guard let stored = try? Self.decode(Authenticated.self, value.value),
            authenticator.verify(Array(stored.body), key: value.key, tag: stored.tag),
            let decoded = try? Self.decode(type, Array(stored.body))
        else {
            FileHandle.standardError.write(Data("photon serve: ignoring \(value.key): it is not a record this plane wrote (its tag does not verify)\n".utf8))
            return nil
        }
        return decoded
    }

    func all() async throws -> [OperationRecord] {
        try await etcd.list(prefix: prefix + "op/").values.compactMap { opened(OperationRecord.self, $0) }
    }

    func get(_ id: String) async throws -> OperationRecord? {
        try await etcd.get(key(id)).flatMap { opened(OperationRecord.self, $0) }
    }

    func put(_ record: OperationRecord) async throws {
        try await etcd.put(key(record.id), try sealed(record, key: key(record.id)))
    }

    /// Creates a queued operation unless one is queued or running; returns it, or the one in the way.
    func create(_ request: OperationRequest, summary: String) async throws -> (created: OperationRecord?, blocking: OperationRecord?) {
        for _ in 0..<20 {
            let existing = try await all()
            if let busy = existing.first(where: { !$0.status.isFinished }) { return (nil, busy) }
            // Ids come from every key under op/, authentic or not: a forged record never shares an id with a real one.
            let taken = try await etcd.list(prefix: prefix + "op/").values.compactMap { Int($0.key.split(separator: "/").last ?? "") }
            let next = (taken.max() ?? 0) + 1
            let id = String(format: "%06d", next)
            let record = OperationRecord(
                id: id, request: request, summary: summary, status: .queued, node: nil, attempts: 0,
                createdAt: Date(), startedAt: nil, finishedAt: nil, exitStatus: nil, runs: [])
            // Create-only, and only while no other operation appeared: two servers racing get one each at most.
            let result = try await etcd.transaction(if: [.version(key(id), equals: 0)], then: [.put(key(id), try sealed(record, key: key(id)))])
            if result.succeeded { return (record, nil) }
        }
        throw PhotonError("cannot create the operation: other operations kept appearing")
    }

    func events(_ id: String, from sequence: Int) async throws -> [(sequence: Int, line: String)] {
        try await eventsAndRevision(id).events.filter { $0.sequence >= sequence }
    }

    /// Every event of the operation, and the store's revision when they were read.
    func eventsAndRevision(_ id: String) async throws -> (events: [(sequence: Int, line: String)], revision: Int64) {
        let (values, revision) = try await etcd.list(prefix: prefix + "events/" + id + "/")
        return (values.compactMap(Self.event), revision)
    }

    static func event(_ value: KeyValue) -> (sequence: Int, line: String)? {
        guard let sequence = Int(value.key.split(separator: "/").last ?? "") else { return nil }
        return (sequence, value.string)
    }

    enum FollowSignal: Sendable {
        case events([(sequence: Int, line: String)])
        /// A few seconds passed.
        case tick
    }

    /// New events of the operation from `revision` on, as etcd commits them, and a tick every 3 s. A
    /// watch that breaks (its member went away) is made again from where it stopped.
    func follow(_ id: String, fromRevision revision: Int64) -> AsyncStream<FollowSignal> {
        let etcd = self.etcd
        let prefix = self.prefix + "events/" + id + "/"
        return AsyncStream { continuation in
            let watcher = Task {
                var from = revision
                while !Task.isCancelled {
                    do {
                        for try await batch in etcd.watch(prefix: prefix, fromRevision: from) {
                            continuation.yield(.events(batch.compactMap(Self.event).sorted { $0.sequence < $1.sequence }))
                            from = (batch.map(\.modRevision).max() ?? from - 1) + 1
                        }
                    } catch {
                        try? await Task.sleep(for: .seconds(1))
                    }
                }
            }
            let ticker = Task {
                while !Task.isCancelled {
                    try? await Task.sleep(for: .seconds(3))
                    continuation.yield(.tick)
                }
            }
            continuation.onTermination = { _ in
                watcher.cancel()
                ticker.cancel()
            }
        }
    }

    func append(_ id: String, sequence: Int, line: String) async throws {
        try await etcd.put(eventKey(id, sequence), Array(line.utf8))
    }

    func workspace() async throws -> BlueprintBundle? {
        try await etcd.get(workspaceKey).flatMap { opened(BlueprintBundle.self, $0) }
    }

    func setWorkspace(_ workspace: BlueprintBundle) async throws {
        try await etcd.put(workspaceKey, try sealed(workspace, key: workspaceKey))
    }

    /// Operations beyond the last `keeping` finished ones go, with their events.
    func prune(keeping: Int) async throws {
        let finished = try await all().filter { $0.status.isFinished }.sorted { $0.id > $1.id }
        for record in finished.dropFirst(keeping) {
            try await etcd.delete(prefix: prefix + "events/" + record.id + "/")
            try await etcd.delete(key(record.id))
        }
    }
}

/// Runs operations on the leader: each is photon itself (`photon apply|scale|destroy … --format json`)
/// in a child process whose state is the plane's etcd; its NDJSON events and its stderr lines become
/// the operation's event stream. A run interrupted with its leader is started again by the next one,
/// and resumes from the journal like any interrupted apply.
final class OperationRunner: Sendable {
    let book: OperationBook
    let configuration: ServeConfiguration
    let executable: String
    private let running = Locked<[String: pid_t]>([:])

    init(book: OperationBook, configuration: ServeConfiguration, executable: String) {
        self.book = book
        self.configuration = configuration
        self.executable = executable
    }

    /// Starts every queued operation, and every running one that no process of this server runs (its
    /// server died or lost the lead).
    func supervise() async {
        guard let operations = try? await book.all() else { return }
        for operation in operations.sorted(by: { $0.id < $1.id }) where !operation.status.isFinished {
            let mine = running.withLock { $0[operation.id] != nil }
            if !mine { await launch(operation) }
        }
    }

    /// Stops the children this server runs (it lost the lead): the next leader resumes them.
    func stopAll() {
        for pid in running.withLock({ Array($0.values) }) { kill(pid, SIGTERM) }
    }

    // One function: the life of an operation's child, from its job to its record's last state; the order of the
    // cleanup (its record written before its files go) must be seen whole.
    func launch(_ original: OperationRecord) async {
        var operation = original
        let resumed = operation.status == .running
        operation.status = .running
        operation.node = configuration.node
        operation.attempts += 1
        operation.startedAt = operation.startedAt ?? Date()
        let sequence = Locked(((try? await book.events(operation.id, from: 0))?.map(\.sequence).max() ?? 0) + 1)
        let book = self.book
        let operationID = operation.id
        @Sendable func append(_ line: String) async {
            let next = sequence.withLock { value -> Int in
                defer { value += 1 }
                return value
            }
            try? await book.append(operationID, sequence: next, line: line)
        }
        @Sendable func event(_ event: RunEvent) async {
            await append(RunEventLine(event).json)
        }
        do {
            var chosen = operation.request.kind == .apply ? try await book.submitted(operation.id) : nil
            if chosen == nil { chosen = try await book.workspace() }
            guard let workspace = chosen else {
                throw PhotonError(
                    "the plane has no blueprint to run \(operation.request.kind.rawValue) with", help: "apply a blueprint through the plane first")
            }
            let folder = configuration.stateDirectory + "/operations/" + operation.id
            let files = try workspace.materialize(in: folder)
            try await book.put(operation)
            await event(.operation(state: resumed ? "resumed" : "started", node: configuration.node, attempt: operation.attempts))
            // Beside the folder, not in it: the blueprint's file there may have any name.
            let job = folder + ".job.json"
            try OperationJob(request: operation.request, blueprint: files.blueprint, kinds: files.kinds).write(to: job)
            let child = try HostCommand.spawnWithPipes(
                OperationJob.arguments(executable: executable, file: job),
                environment: [PlaneServer.configurationVariable: configuration.file, "NO_COLOR": "1"])
            running.withLock { $0[operation.id] = child.pid }
            let lines = AsyncStream<(Bool, String)> { continuation in
                let group = DispatchGroup()
                for (isStdout, descriptor) in [(true, child.stdout), (false, child.stderr)] {
                    group.enter()
                    Thread {
                        Self.readLines(descriptor) { continuation.yield((isStdout, $0)) }
                        close(descriptor)
                        group.leave()
                    }.start()
                }
                group.notify(queue: .global()) { continuation.finish() }
            }
            Task {
                var record = operation
                for await (isStdout, line) in lines {
                    if isStdout, line.hasPrefix("{") {
                        if case .run(let id)? = RunEventLine.parse(line)?.event {
                            record.runs.append(id)
                            try? await book.put(record)
                        }
                        await append(line)
                    } else if !line.isEmpty {
                        await event(.log(line: line))
                    }
                }
                let status = await HostCommand.wait(child.pid)
                // It stays this server's until its record says how it ended: the supervisor would
                // otherwise take it for an orphan and start it again.
                defer {
                    running.withLock { $0[operationID] = nil }
                    try? FileManager.default.removeItem(atPath: folder)
                    try? FileManager.default.removeItem(atPath: job)
                }
                record.exitStatus = status
                // Killed by SIGTERM (this server lost the lead) is not an outcome: the next leader resumes it.
                if status == 128 + SIGTERM, let current = try? await book.get(operationID), !current.status.isFinished {
                    await event(.operation(state: "paused", node: configuration.node, attempt: nil))
                    return
                }
                record.status = status == 0 ? .succeeded : status == 130 ? .interrupted : .failed
                record.finishedAt = Date()
                // Everything an operation leaves is written before it reads as finished: a client that
                // sees it finished finds its last event, and the next operation the blueprint it applied.
                if status == 0, record.request.kind == .apply, let submitted = try? await book.submitted(operationID) {
                    try? await book.setWorkspace(submitted)
                }
                await event(.exit(status: status, outcome: record.status.rawValue))
                try? await book.put(record)
                try? await book.prune(keeping: 100)
            }
        } catch {
            operation.status = .failed
            operation.finishedAt = Date()
            await event(.log(line: String(describing: error)))
            await event(.exit(status: 1, outcome: "failed"))
            try? await book.put(operation)
        }
    }

    /// Calls `body` with each line `descriptor` yields, until its end; blocks its thread.
    static func readLines(_ descriptor: Int32, _ body: (String) -> Void) {
        var pending: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            if count <= 0 { break }
            pending.append(contentsOf: buffer[0..<count])
            while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                body(String(decoding: pending[..<newline], as: UTF8.self))
                pending.removeSubrange(...newline)
            }
        }
        if !pending.isEmpty { body(String(decoding: pending, as: UTF8.self)) }
    }
}

extension OperationBook {
    /// The workspace submitted with an apply operation (kept until it succeeds and becomes the plane's).
    func submitted(_ id: String) async throws -> BlueprintBundle? {
        try await etcd.get(prefix + "op-workspace/" + id).flatMap { opened(BlueprintBundle.self, $0) }
    }

    func setSubmitted(_ id: String, _ workspace: BlueprintBundle) async throws {
        try await etcd.put(prefix + "op-workspace/" + id, try sealed(workspace, key: prefix + "op-workspace/" + id))
    }
}

/// Records of the plane that the installer writes at hand-over.
public enum PlaneRecords {
    /// The blueprint and kinds that scale and destroy operations run with, until an apply replaces them.
    public static func setWorkspace(_ workspace: BlueprintBundle, etcd: EtcdClient, prefix: String, authenticator: RecordAuthenticator) async throws {
        try await OperationBook(etcd: etcd, prefix: prefix, authenticator: authenticator).setWorkspace(workspace)
    }
}
