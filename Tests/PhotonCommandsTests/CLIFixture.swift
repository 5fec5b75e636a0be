import Foundation
import PhotonCore
import Testing

/// Runs the built `photon` executable as a user would, from the repository root.
struct CLIFixture {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The `photon` built beside this test bundle.
    static var executable: URL {
        get throws {
            var directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
            for _ in 0..<4 {
                let candidate = directory.appendingPathComponent("photon")
                if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
                directory = directory.deletingLastPathComponent()
            }
            let fallback = repository.appendingPathComponent(".build/debug/photon")
            guard FileManager.default.isExecutableFile(atPath: fallback.path) else {
                throw FixtureError("the photon executable is not built; run 'swift build' before 'swift test'")
            }
            return fallback
        }
    }

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// Runs `photon arguments…` in the repository root with a controlled environment, waiting on a
    /// thread of its own: a test waiting minutes for photon must not hold one of the few threads of the
    /// cooperative pool, which every asynchronous test (etcd leases, servers) needs to make progress.
    static func run(_ arguments: [String], environment: [String: String] = [:], directory: URL? = nil, executable: URL? = nil) async throws -> Result {
        let executable = try executable ?? self.executable
        return try await OwnThread.run { try runBlocking(arguments, environment: environment, directory: directory, executable: executable) }
    }

    static func runBlocking(_ arguments: [String], environment: [String: String] = [:], directory: URL? = nil, executable: URL? = nil) throws -> Result {
        let process = Process()
        process.executableURL = try executable ?? self.executable
        process.arguments = arguments
        process.currentDirectoryURL = directory ?? repository
        var base = ["PATH": "/usr/bin:/bin", "HOME": NSTemporaryDirectory(), "NO_COLOR": "1"]
        base.merge(environment) { $1 }
        process.environment = base
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        // Read both pipes while the process runs so a large output cannot fill one and block it.
        nonisolated(unsafe) var errorData = Data()
        let reader = Thread { errorData = err.fileHandleForReading.readDataToEndOfFile() }
        reader.start()
        let outputData = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        while !reader.isFinished { usleep(1000) }
        return Result(
            status: process.terminationStatus, stdout: String(decoding: outputData, as: UTF8.self),
            stderr: String(decoding: errorData, as: UTF8.self))
    }

    /// SHA-256 of the photon executable, which plans of the management plane name as an artifact.
    static func executableDigest() throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
        process.arguments = [try executable.path]
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self).split(separator: " ").first.map(String.init) ?? ""
    }

    /// A temporary directory removed when `body` returns.
    static func withTemporaryDirectory<T>(_ body: (URL) async throws -> T) async throws -> T {
        let directory = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("photon-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        return try await body(directory)
    }
}

struct FixtureError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
