import Crypto
import Engine
import EngineTestSupport
import Foundation
import MachineAccess
import SSH
import Testing

/// The transport against real OpenSSH servers started by each test.
@Suite("SSH transport against OpenSSH", .serialized)
struct TransportTests {
    func sha256(_ bytes: [UInt8]) -> String { SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined() }

    @Test("exec: large stdout and stderr at once, exit codes, signals, environment")
    func exec() async throws {
        let server = try SSHD()
        defer { server.stop() }
        let connection = try await server.connect()
        // 3 MB on each stream, interleaved: more than the channel window, so reading must not block on one stream.
        let big = try await connection.execute(
            "for i in $(seq 1 30000); do echo out-$i-padding-padding-padding-padding-padding-padding-padding-padding; echo err-$i-padding-padding-padding-padding-padding-padding-padding-padding >&2; done"
        )
        #expect(big.exitStatus == 0)
        #expect(big.stdout.split(separator: "\n").count == 30000)
        #expect(big.stderr.split(separator: "\n").count == 30000)
        #expect(big.stdout.hasSuffix("out-30000-padding-padding-padding-padding-padding-padding-padding-padding\n"))
        #expect(try await connection.execute("exit 42").exitStatus == 42)
        let killed = try await connection.execute("kill -TERM $$")
        #expect(killed.signal == "TERM")
        #expect(!killed.succeeded)
        let environment = try await connection.execute("echo \"$PHOTON_ROLE\"", environment: ["PHOTON_ROLE": "workers"])
        #expect(environment.stdout == "workers\n")
        // Streaming sees the output as it comes.
        let chunks = Locked<[String]>([])
        _ = try await connection.execute("echo one; echo two >&2") { stream, bytes in
            chunks.withLock { $0.append("\(stream == .stdout ? "out" : "err"):\(String(decoding: bytes, as: UTF8.self))") }
        }
        #expect(Set(chunks.current) == ["out:one\n", "err:two\n"])
        await connection.close()
    }

    @Test("a 64 MiB upload arrives intact, with its mode; a download reads it back")
    func bigUpload() async throws {
        let server = try SSHD()
        defer { server.stop() }
        let connection = try await server.connect()
        var generator = SystemRandomNumberGenerator()
        let data = (0..<(64 << 20) / 8).flatMap { _ in withUnsafeBytes(of: generator.next() as UInt64) { Array($0) } }
        let path = server.directory.appendingPathComponent("big.bin").path
        try await connection.upload(data, to: path, mode: 0o640)
        let remote = try await connection.execute("sha256sum \(path)")
        #expect(remote.stdout.hasPrefix(sha256(data)))
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        #expect((attributes[.posixPermissions] as? Int) == 0o640)
        // Replacing it keeps the name and takes the new mode.
        try await connection.upload(Array("small\n".utf8), to: path, mode: 0o600)
        #expect((try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int) == 0o600)
        #expect(try await connection.download(path) == Array("small\n".utf8))
        // No temporary file is left beside it.
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: server.directory.path).filter { $0.contains(".photon-") }
        #expect(leftovers.isEmpty)
        await connection.close()
    }

    @Test("a different host key is refused before authentication, naming both fingerprints")
    func wrongHostKey() async throws {
        let server = try SSHD()
        defer { server.stop() }
        let pinned = "SHA256:" + String(repeating: "A", count: 43)
        // An unauthorized client key: had authentication come first, this would be an authentication error.
        let stranger = DeploymentKey.generate(comment: "stranger")
        let error = await #expect(throws: SSHError.self) {
            _ = try await server.connect(fingerprint: pinned, credentials: .privateKey(stranger.privateKey, passphrase: nil))
        }
        #expect(error?.kind == .hostKeyMismatch)
        #expect(error?.isTransient == false)
        #expect(error?.message.contains(server.hostKeyFingerprint) == true)
        #expect(error?.message.contains(pinned) == true)
    }

    @Test("a client key the server does not know is refused with a clear, permanent error")
    func wrongClientKey() async throws {
        let server = try SSHD()
        defer { server.stop() }
        let stranger = DeploymentKey.generate(comment: "stranger")
        let error = await #expect(throws: SSHError.self) {
            _ = try await server.connect(credentials: .privateKey(stranger.privateKey, passphrase: nil))
        }
        #expect(error?.kind == .authentication)
        #expect(error?.isTransient == false)
        #expect(error?.message == "127.0.0.1 refused the key for user root: its public key is not in the user's authorized_keys")
    }

    @Test("RSA keys get a clear error; keys in OpenSSH and PEM format, with a passphrase, and from the agent work")
    func keyFormats() async throws {
        let directory = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("photon-keys-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        func keygen(_ name: String, _ arguments: String...) throws -> (path: String, publicKey: String) {
            let path = directory.appendingPathComponent(name).path
            try SSHD.shell(["ssh-keygen", "-q", "-f", path, "-C", name] + arguments)
            return (path, try String(contentsOfFile: path + ".pub", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines))
        }
        let rsa = try keygen("rsa", "-t", "rsa", "-b", "2048", "-N", "")
        let rsaError = await #expect(throws: SSHError.self) {
            let server = try SSHD(authorizedKey: rsa.publicKey)
            defer { server.stop() }
            _ = try await server.connect(credentials: .privateKeyFile(rsa.path, passphrase: nil))
        }
        #expect(rsaError?.message.contains("is an RSA key: libssh2 1.10 cannot sign with rsa-sha2") == true)
        #expect(rsaError?.message.contains("use an ed25519 or ECDSA key") == true)

        let locked = try keygen("locked", "-t", "ed25519", "-N", "correct horse")
        let pem = try keygen("pem", "-t", "ecdsa", "-b", "256", "-m", "PEM", "-N", "")
        let server = try SSHD(authorizedKey: [locked.publicKey, pem.publicKey].joined(separator: "\n"))
        defer { server.stop() }
        let withPassphrase = try await server.connect(credentials: .privateKeyFile(locked.path, passphrase: "correct horse"))
        #expect(try await withPassphrase.execute("echo ok").stdout == "ok\n")
        await withPassphrase.close()
        let wrongPassphrase = await #expect(throws: SSHError.self) {
            _ = try await server.connect(credentials: .privateKeyFile(locked.path, passphrase: "wrong"))
        }
        #expect(wrongPassphrase?.kind == .key)
        #expect(wrongPassphrase?.message.contains("wrong passphrase") == true)
        let ecdsa = try await server.connect(credentials: .privateKeyFile(pem.path, passphrase: nil))
        #expect(try await ecdsa.execute("echo ok").stdout == "ok\n")
        await ecdsa.close()

        // The agent: a real ssh-agent holding the passphrase-protected key.
        let socket = directory.appendingPathComponent("agent.sock").path
        let agent = try SSHD.spawn(["/usr/bin/ssh-agent", "-D", "-a", socket])
        defer {
            kill(agent, SIGTERM)
            var status: Int32 = 0
            waitpid(agent, &status, 0)
        }
        for _ in 0..<100 where !FileManager.default.fileExists(atPath: socket) { usleep(10_000) }
        let add = Process()
        add.executableURL = URL(fileURLWithPath: "/usr/bin/ssh-add")
        add.arguments = [pem.path]
        add.environment = ["SSH_AUTH_SOCK": socket]
        add.standardError = FileHandle.nullDevice
        try add.run()
        add.waitUntilExit()
        #expect(add.terminationStatus == 0)
        setenv("SSH_AUTH_SOCK", socket, 1)
        defer { unsetenv("SSH_AUTH_SOCK") }
        let viaAgent = try await server.connect(credentials: .agent)
        #expect(try await viaAgent.execute("echo agent").stdout == "agent\n")
        await viaAgent.close()
    }

    @Test("a refused connection is transient; a closed port in a fan-out does not hold up the others")
    func refusedIsTransient() async throws {
        let port = try LoopbackPort.free()
        let error = await #expect(throws: SSHError.self) {
            _ = try await SSHConnection.open(host: "127.0.0.1", port: port, user: "root", credentials: .agent, expectedFingerprint: "SHA256:x")
        }
        #expect(error?.kind == .connect)
        #expect(error?.isTransient == true)
        #expect(error?.message.contains("Connection refused") == true)
    }

    @Test("sshd killed in the middle of an upload leaves no file at the target path")
    func killedMidUpload() async throws {
        let server = try SSHD()
        defer { server.stop() }
        let connection = try await server.connect()
        let target = server.directory.appendingPathComponent("config.bin").path
        let data = [UInt8](repeating: 7, count: 256 << 20)
        let upload = Task { try await connection.upload(data, to: target, mode: 0o644) }
        // Kill the session process serving this connection once the upload is under way.
        try await Task.sleep(for: .milliseconds(300))
        let sessions = try SSHD.shell("pgrep", "-P", String(server.pid)).split(separator: "\n").compactMap { pid_t($0) }
        for session in sessions { kill(session, SIGKILL) }
        let error = await #expect(throws: SSHError.self) { try await upload.value }
        #expect(error?.isTransient == true)
        #expect(!FileManager.default.fileExists(atPath: target))
    }

    @Test("non-ASCII user names and paths")
    func nonASCII() async throws {
        let user = "jürgen"
        try SSHD.shell("useradd", "--badname", "-m", "-s", "/bin/sh", user)
        defer { _ = try? SSHD.shell("userdel", "-r", user) }
        try SSHD.shell("usermod", "-p", "*", user)
        let server = try SSHD(user: user)
        defer { server.stop() }
        let connection = try await server.connect()
        #expect(try await connection.execute("id -un").stdout == "\(user)\n")
        let directory = "/home/\(user)/répertoire ☃"
        _ = try await connection.execute("mkdir -p '\(directory)'")
        let path = "\(directory)/fichier-é.conf"
        try await connection.upload(Array("ünïcødé\n".utf8), to: path, mode: 0o644)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "ünïcødé\n")
        #expect(try await connection.download(path) == Array("ünïcødé\n".utf8))
        await connection.close()
    }

    @Test("cancelling the task interrupts a command that is waiting")
    func cancellation() async throws {
        let server = try SSHD()
        defer { server.stop() }
        let connection = try await server.connect()
        let started = ContinuousClock.now
        let task = Task { try await connection.execute("sleep 30") }
        try await Task.sleep(for: .milliseconds(200))
        task.cancel()
        let error = await #expect(throws: SSHError.self) { try await task.value }
        #expect(error?.kind == .cancelled)
        #expect(ContinuousClock.now - started < .seconds(5))
        // A cancelled session is dropped; a timeout interrupts a command on a fresh one too.
        let fresh = try await server.connect()
        let timeout = await #expect(throws: SSHError.self) { _ = try await fresh.execute("sleep 30", timeout: .milliseconds(300)) }
        #expect(timeout?.kind == .timeout)
        #expect(timeout?.isTransient == true)
    }

    @Test("the engine's remote shell: one connection per machine, reused, reopened after it broke")
    func transportReuse() async throws {
        let server = try SSHD()
        defer { server.stop() }
        let transport = SSHTransport(credentials: server.credentials)
        let machine = MachineHandle(name: "m1", address: "127.0.0.1", port: server.port, hostKeyFingerprint: server.hostKeyFingerprint, driverID: "m1")
        let first = try await transport.connection(to: machine)
        for _ in 0..<5 { #expect(try await transport.execute("true", on: machine, timeout: nil).succeeded) }
        #expect(try await transport.connection(to: machine) === first)
        // Break it: a timed-out command drops the session; the next call opens a new one.
        _ = try? await transport.execute("sleep 10", on: machine, timeout: .milliseconds(200))
        #expect(try await transport.execute("echo again", on: machine, timeout: nil).stdout == "again\n")
        #expect(try await transport.connection(to: machine) !== first)
        #expect(await transport.isListening(host: "127.0.0.1", port: server.port, timeout: .seconds(1)))
        #expect(await !transport.isListening(host: "127.0.0.1", port: try LoopbackPort.free(), timeout: .seconds(1)))
        let unpinned = MachineHandle(name: "m2", address: "127.0.0.1", port: server.port, hostKeyFingerprint: nil, driverID: "m2")
        await #expect(throws: SSHError.self) { _ = try await transport.execute("true", on: unpinned, timeout: nil) }
        await transport.closeAll()
    }

    @Test("50 sshd processes serve 1,000 execs through the fan-out, each result on its own; nothing leaks")
    func fanOut() async throws {
        // A user whose login shell is /bin/sh, as on the machines photon targets (root's shell here may run a heavy .bashrc).
        let user = "photon-fanout"
        try SSHD.shell("useradd", "-m", "-s", "/bin/sh", user)
        defer { _ = try? SSHD.shell("userdel", "-r", user) }
        try SSHD.shell("usermod", "-p", "*", user)
        // Counted after the first use of Foundation's Process, which keeps descriptors and a thread of its own.
        let threadsBefore = try FileManager.default.contentsOfDirectory(atPath: "/proc/self/task").count
        let key = DeploymentKey.generate(comment: "fan-out")
        var servers: [SSHD] = []
        defer { for server in servers { server.stop() } }
        for _ in 0..<50 { servers.append(try SSHD(user: user, authorizedKey: key.publicKey)) }
        let dead = MachineHandle(name: "dead", address: "127.0.0.1", port: try LoopbackPort.free(), hostKeyFingerprint: "SHA256:dead", driverID: "dead")
        do {
            let transport = SSHTransport(credentials: .privateKey(key.privateKey, passphrase: nil), defaultUser: user)
            let machines = servers.enumerated().map { index, server in
                MachineHandle(name: "m\(index)", address: "127.0.0.1", port: server.port, hostKeyFingerprint: server.hostKeyFingerprint, driverID: "m\(index)")
            }
            let jobs = (0..<1000).map { machines[$0 % machines.count] } + [dead]
            let results = await FanOut.run(jobs, limit: 64) { machine in
                try await transport.execute("echo \(machine.name)", on: machine, timeout: .seconds(60)).stdout
            }
            #expect(results.count == 1001)
            for (index, result) in results.dropLast().enumerated() {
                switch result {
                case .success(let output): #expect(output == "m\(index % 50)\n")
                case .failure(let error): Issue.record("exec \(index) on m\(index % 50) failed: \(error)")
                }
            }
            guard case .failure = results.last else {
                Issue.record("the dead host succeeded")
                return
            }
            await transport.closeAll()
        }
        for server in servers { server.stop() }
        // Give finished worker threads a moment to end.
        try await Task.sleep(for: .milliseconds(300))
        let threadsAfter = try FileManager.default.contentsOfDirectory(atPath: "/proc/self/task").count
        #expect(threadsAfter <= threadsBefore + 4, "threads: \(threadsBefore) before, \(threadsAfter) after")
        // Other suites open descriptors of their own meanwhile, so a count of the process's would not
        // say whose they are: no descriptor of this process is a connection to one of these servers.
        let ports = Set(servers.map(\.port))
        #expect(OpenSockets.connected(toLoopbackPorts: ports) == [], "connections to the fan-out's servers left open")
        // This test's servers only: other suites run their own sshd beside it.
        let listed = (try? SSHD.shell("pgrep", "-af", "photon-sshd-")) ?? ""
        let strays = listed.split(separator: "\n").filter { line in servers.contains { line.contains($0.directory.path) } }
        #expect(strays.isEmpty, "sshd processes left: \(strays)")
    }
}

/// A value shared with callbacks in tests.
final class Locked<Value>: @unchecked Sendable {
    private var value: Value
    private let lock = NSLock()
    init(_ value: Value) { self.value = value }
    func withLock<T>(_ body: (inout Value) -> T) -> T { lock.withLock { body(&value) } }
    var current: Value { lock.withLock { value } }
}

/// This process's open TCP connections, found through /proc (the kernel's table maps each socket's
/// inode to its addresses).
enum OpenSockets {
    /// "fd N → remote port P" for each descriptor of this process connected to one of `ports` on 127.0.0.1.
    static func connected(toLoopbackPorts ports: Set<Int>) -> [String] {
        var remotePorts: [String: Int] = [:]  // socket inode → remote port
        let table = (try? String(contentsOfFile: "/proc/net/tcp", encoding: .utf8)) ?? ""
        for line in table.split(separator: "\n").dropFirst() {
            let fields = line.split(separator: " ")
            guard fields.count > 9 else { continue }
            let remote = fields[2].split(separator: ":")
            guard remote.count == 2, remote[0] == "0100007F", let port = Int(remote[1], radix: 16), ports.contains(port) else { continue }
            remotePorts[String(fields[9])] = port
        }
        var found: [String] = []
        for descriptor in (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? [] {
            guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\(descriptor)"),
                target.hasPrefix("socket:["), let port = remotePorts[String(target.dropFirst(8).dropLast())]
            else { continue }
            found.append("fd \(descriptor) → remote port \(port)")
        }
        return found
    }
}
