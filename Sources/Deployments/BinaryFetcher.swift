import AsyncHTTPClient
import Foundation
import NIOCore
import PhotonCore
import Planning

/// Brings the binaries a run uploads into the installer's content-addressed cache: each file once, from
/// a folder or over HTTP(S), checked against its SHA-256 before it is named by its digest. A download
/// cut short resumes from what it had (`Range`), or starts again when the server will not resume.
package struct BinaryFetcher: Sendable {
    package var cacheDirectory: String

    package init(cacheDirectory: String) {
        self.cacheDirectory = cacheDirectory
    }

    package func cachedPath(_ file: BinaryFile) -> String { "\(cacheDirectory)/\(file.sha256)" }

    /// The files not cached yet, fetched a few at a time; `report` says what is fetched.
    package func fetch(_ files: [BinaryFile], report: @escaping @Sendable (String) -> Void = { _ in }) async throws {
        let missing = files.filter { !FileManager.default.fileExists(atPath: cachedPath($0)) }
        guard !missing.isEmpty else { return }
        try FileManager.default.createDirectory(atPath: cacheDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        try await withThrowingTaskGroup(of: Void.self) { group in
            var next = missing.makeIterator()
            func start() {
                guard let file = next.next() else { return }
                group.addTask {
                    report("fetching \(file.label) from \(file.source)")
                    try await fetch(file)
                }
            }
            for _ in 0..<4 { start() }
            while try await group.next() != nil { start() }
        }
    }

    /// One file into the cache, or an error naming it, its source and both digests.
    package func fetch(_ file: BinaryFile) async throws {
        let partial = cachedPath(file) + ".partial"
        if file.isDownload {
            try await download(file.source, to: partial)
        } else {
            try await OwnThread.run { try Self.copy(file.source, to: partial, name: file.label) }
        }
        let actual = try await OwnThread.run { try Self.digest(of: partial) }
        guard actual == file.sha256 else {
            try? FileManager.default.removeItem(atPath: partial)
            throw PhotonError(
                "\(file.label) from \(file.source) has SHA-256 \(actual), expected \(file.sha256)",
                help: "the file is not the one the kind (or binaries.sha256 in the blueprint) pins: fetch it again, or check the mirror or folder")
        }
        guard rename(partial, cachedPath(file)) == 0 else {
            throw PhotonError("cannot keep \(file.label) in \(cacheDirectory): \(String(cString: strerror(errno)))")
        }
    }

    static let http: HTTPClient = {
        var configuration = HTTPClient.Configuration(redirectConfiguration: .follow(max: 10, allowCycles: false))
        configuration.timeout.connect = .seconds(15)
        configuration.timeout.read = .seconds(60)
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }()

    /// Appends to what `partial` already holds when the server answers a range with 206; starts over on 200.
    func download(_ url: String, to partial: String) async throws {
        for attempt in 1...2 {
            let have = (try? FileManager.default.attributesOfItem(atPath: partial)[.size] as? Int) ?? 0
            var request = HTTPClientRequest(url: url)
            if have > 0 { request.headers.add(name: "Range", value: "bytes=\(have)-") }
            let response: HTTPClientResponse
            do {
                response = try await Self.http.execute(request, timeout: .minutes(30))
            } catch {
                throw PhotonError(
                    "cannot download \(url): \(error)", help: "check the installer's network, or give binaries.from: a folder made by `photon bundle`")
            }
            switch response.status.code {
            case 206 where have > 0:
                try await write(response.body, to: partial, appending: true)
                return
            case 200:
                try await write(response.body, to: partial, appending: false)
                return
            case 416 where attempt == 1:
                // The partial file is not a prefix the server can continue: start over.
                try? FileManager.default.removeItem(atPath: partial)
            default:
                throw PhotonError("cannot download \(url): HTTP \(response.status.code) \(response.status.reasonPhrase)")
            }
        }
    }

    func write(_ body: HTTPClientResponse.Body, to path: String, appending: Bool) async throws {
        if !appending || !FileManager.default.fileExists(atPath: path) {
            guard FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600]) else {
                throw PhotonError("cannot write \(path)")
            }
        }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        if appending { try handle.seekToEnd() } else { try handle.truncate(atOffset: 0) }
        for try await buffer in body {
            try handle.write(contentsOf: Data(buffer.readableBytesView))
        }
    }

    static func copy(_ source: String, to partial: String, name: String) throws {
        guard let input = FileHandle(forReadingAtPath: source) else {
            throw PhotonError(
                "\(name) is not in the binaries folder: cannot read \(source)",
                help: "`photon bundle -f BLUEPRINT -o FOLDER` gathers every binary the blueprint needs")
        }
        defer { try? input.close() }
        guard FileManager.default.createFile(atPath: partial, contents: nil, attributes: [.posixPermissions: 0o600]),
            let output = FileHandle(forWritingAtPath: partial)
        else { throw PhotonError("cannot write \(partial)") }
        defer { try? output.close() }
        while let chunk = try input.read(upToCount: 4 << 20), !chunk.isEmpty { try output.write(contentsOf: chunk) }
    }

    static func digest(of path: String) throws -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw PhotonError("cannot read \(path)") }
        defer { try? handle.close() }
        var hasher = StreamingDigest()
        while let chunk = try handle.read(upToCount: 4 << 20), !chunk.isEmpty { hasher.update(chunk) }
        return hasher.finalize()
    }
}
