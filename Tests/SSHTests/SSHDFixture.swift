import EngineTestSupport
import Foundation
import PhotonCore
import SSH
import Testing

/// A real OpenSSH server on 127.0.0.1 at a free port, with its own host key and authorized_keys,
/// started for a test and stopped (by its PID) with everything it used when the test ends.
final class SSHD: @unchecked Sendable {
    let directory: URL
    let port: Int
    /// sshd's pid. It is spawned with posix_spawn, not Foundation's Process: sshd closes every inherited
    /// descriptor at start, which Process takes for an exit and answers with a blocking wait that stalls
    /// every other Process in the test run.
    let pid: pid_t
    let hostKeyFingerprint: String
    let clientKey: DeploymentKey
    let user: String

    /// Starts sshd; `authorizedKey` defaults to a fresh deployment key, which `clientKey` holds. With
    /// `debugLog`, sshd logs at DEBUG1 to ``log`` (what each session asked of the server).
    init(user: String = "root", authorizedKey: String? = nil, extraConfig: String = "", debugLog: Bool = false) throws {
        directory = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("photon-sshd-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        self.user = user
        clientKey = DeploymentKey.generate(comment: "photon-test")
        try SSHD.shell("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", directory.appendingPathComponent("host_ed25519").path)
        let fingerprintLine = try SSHD.shell("ssh-keygen", "-lf", directory.appendingPathComponent("host_ed25519.pub").path)
        hostKeyFingerprint = String(fingerprintLine.split(separator: " ")[1])
        try Data(((authorizedKey ?? clientKey.publicKey) + "\n").utf8).write(to: directory.appendingPathComponent("authorized_keys"))
        chmod(directory.path, 0o755)
        chmod(directory.appendingPathComponent("authorized_keys").path, 0o644)
        try FileManager.default.createDirectory(atPath: "/run/sshd", withIntermediateDirectories: true)
        port = try LoopbackPort.free()
        let config = """
            Port \(port)
            ListenAddress 127.0.0.1
            HostKey \(directory.appendingPathComponent("host_ed25519").path)
            PidFile none
            AuthorizedKeysFile \(directory.appendingPathComponent("authorized_keys").path)
            PermitRootLogin prohibit-password
            PasswordAuthentication no
            KbdInteractiveAuthentication no
            UsePAM no
            StrictModes no
            MaxStartups 200:30:400
            MaxSessions 100
            AcceptEnv PHOTON_*
            Subsystem sftp internal-sftp
            \(debugLog ? "LogLevel DEBUG1" : "")
            \(extraConfig)

            """
        try Data(config.utf8).write(to: directory.appendingPathComponent("sshd_config"))
        let logArguments = debugLog ? ["-E", directory.appendingPathComponent("sshd.log").path] : ["-e"]
        pid = try SSHD.spawn(["/usr/sbin/sshd", "-D"] + logArguments + ["-f", directory.appendingPathComponent("sshd_config").path])
        // Ready when the port accepts connections.
        let deadline = Date().addingTimeInterval(10)
        while !LoopbackPort.accepts(port) {
            guard Date() < deadline, kill(pid, 0) == 0 else {
                stop()
                throw SSHDError("sshd on port \(port) did not start")
            }
            usleep(10_000)
        }
    }

    /// Starts a program with its output discarded; the caller reaps it.
    static func spawn(_ arguments: [String]) throws -> pid_t { try HostCommand.spawnDetached(arguments) }

    var credentials: SSHCredentials { .privateKey(clientKey.privateKey, passphrase: nil) }

    /// sshd's log, when started with `debugLog`.
    var log: String { (try? String(contentsOf: directory.appendingPathComponent("sshd.log"), encoding: .utf8)) ?? "" }

    /// Kills the processes serving sessions (sshd's descendants, not sshd itself), by pid: what a
    /// session runs ends even when the client never closes it.
    func killSessions() {
        var parents: [pid_t: pid_t] = [:]
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let process = pid_t(entry),
                let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { continue }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            if fields.count > 1, let parent = pid_t(fields[1]) { parents[process] = parent }
        }
        func descends(_ process: pid_t) -> Bool {
            var current = process
            for _ in 0..<64 {
                guard let parent = parents[current], parent > 1 else { return false }
                if parent == pid { return true }
                current = parent
            }
            return false
        }
        for process in parents.keys where descends(process) { kill(process, SIGKILL) }
    }

    func connect(fingerprint: String? = nil, credentials: SSHCredentials? = nil) async throws -> SSHConnection {
        try await SSHConnection.open(
            host: "127.0.0.1", port: port, user: user, credentials: credentials ?? self.credentials,
            expectedFingerprint: fingerprint ?? hostKeyFingerprint)
    }

    private let stopped = NSLock()
    private var isStopped = false

    /// Stops sshd by its pid, reaps it, and removes its directory.
    func stop() {
        let first = stopped.withLock { () -> Bool in
            defer { isStopped = true }
            return !isStopped
        }
        guard first else { return }
        kill(pid, SIGTERM)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1, errno == EINTR {}
        try? FileManager.default.removeItem(at: directory)
    }

    deinit { stop() }

    @discardableResult
    static func shell(_ arguments: String...) throws -> String { try shell(arguments) }

    @discardableResult
    static func shell(_ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw SSHDError("\(arguments.joined(separator: " ")) failed") }
        return String(decoding: data, as: UTF8.self)
    }
}

struct SSHDError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
