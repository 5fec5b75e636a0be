internal import CLibSSH2
import Foundation
import MachineAccess
import PhotonCore

/// How photon proves who it is.
public enum SSHCredentials: Sendable {
    /// A private key's text, OpenSSH or PEM format (ed25519 or ECDSA), with its passphrase if it has one.
    case privateKey(String, passphrase: String?)
    /// A private key file.
    case privateKeyFile(String, passphrase: String?)
    /// The keys of the ssh-agent at `$SSH_AUTH_SOCK`.
    case agent
}

/// What a command printed and which stream.
public enum OutputStream: Sendable { case stdout, stderr }

/// One SSH connection to one machine, kept for a whole run. Its libssh2 session lives on a thread of its
/// own; the API is async, and cancelling the calling task interrupts a call that is waiting.
public final class SSHConnection: @unchecked Sendable {
    public let host: String
    public let port: Int
    public let user: String
    /// The host key's fingerprint as the server presented it ("SHA256:…").
    public private(set) var hostKeyFingerprint = ""
    /// The server's host key as a known_hosts line's type and key (`ssh-ed25519 AAAA…`), once checked.
    public private(set) var hostKey: String?
    let worker: WorkerThread
    /// The current operation's cancel flag (set and read on the worker thread only).
    private(set) var cancel = CancelFlag()
    private var session: Session?
    /// The SFTP channel, opened on first use (Connection+Files.swift).
    var sftp: SFTP?

    /// Most bytes kept in memory per stream of one command; the rest is only streamed.
    public static let captureLimit = 16 << 20

    /// How often an idle or long-running session tells the server it is alive (OpenSSH's
    /// `ServerAliveInterval`): NAT and firewall state along the way is not dropped during a long command.
    public static let defaultKeepaliveInterval: Duration = .seconds(15)

    private init(host: String, port: Int, user: String) {
        self.host = host
        self.port = port
        self.user = user
        worker = WorkerThread(name: "ssh \(user)@\(host):\(port)")
    }

    deinit {
        let session = self.session, sftp = self.sftp
        self.sftp = nil
        self.session = nil
        // Free the handles on their own thread, then let it end.
        worker.submit {
            _ = sftp
            _ = session
        }
        worker.stop()
    }

    /// Connects, checks the server's host key against `expectedFingerprint` before anything else, and
    /// authenticates. A different key is a permanent error naming both fingerprints.
    public static func open(
        host: String, port: Int = 22, user: String, credentials: SSHCredentials, expectedFingerprint: String,
        connectTimeout: Duration = .seconds(10),
        keepaliveInterval: Duration = defaultKeepaliveInterval
    ) async throws -> SSHConnection {
        let connection = SSHConnection(host: host, port: port, user: user)
        try await connection.perform(timeout: connectTimeout + .seconds(20)) { connection in
            let session = try Session(host: host, port: port, timeout: connectTimeout, cancel: connection.cancel)
            // Prefer the key types photon pins; RSA cannot be verified with SHA-2 by libssh2 1.10.
            _ = libssh2_session_method_pref(session.handle, LIBSSH2_METHOD_HOSTKEY, "ssh-ed25519,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,ecdsa-sha2-nistp521")
            _ = libssh2_session_method_pref(session.handle, LIBSSH2_METHOD_KEX, "curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256")
            session.deadline = .now + connectTimeout
            try session.call(.handshake, "the SSH handshake") { libssh2_session_handshake(session.handle, libssh2_socket_t(session.socket)) }
            let fingerprint = try Self.fingerprint(session)
            connection.hostKeyFingerprint = fingerprint
            guard fingerprint == expectedFingerprint else {
                throw SSHError(
                    .hostKeyMismatch,
                    """
                    host key of \(host):\(port) is \(fingerprint), but \(expectedFingerprint) is pinned for it; \
                    refusing to authenticate (the machine was replaced, or someone is in the middle)
                    """)
            }
            connection.hostKey = Self.hostKeyLine(session)
            try Authenticator(session: session, user: user).authenticate(credentials)
            libssh2_keepalive_config(session.handle, 1, UInt32(max(1, keepaliveInterval.components.seconds)))
            connection.session = session
        }
        return connection
    }

    /// The key the server presented, as OpenSSH writes it in known_hosts (nil for a type photon never pins).
    static func hostKeyLine(_ session: Session) -> String? {
        var length = 0
        var type: Int32 = 0
        guard let blob = libssh2_session_hostkey(session.handle, &length, &type), length > 0 else { return nil }
        let name: String
        switch type {
        case LIBSSH2_HOSTKEY_TYPE_ED25519: name = "ssh-ed25519"
        case LIBSSH2_HOSTKEY_TYPE_ECDSA_256: name = "ecdsa-sha2-nistp256"
        case LIBSSH2_HOSTKEY_TYPE_ECDSA_384: name = "ecdsa-sha2-nistp384"
        case LIBSSH2_HOSTKEY_TYPE_ECDSA_521: name = "ecdsa-sha2-nistp521"
        default: return nil
        }
        return name + " " + Data(bytes: blob, count: length).base64EncodedString()
    }

    static func fingerprint(_ session: Session) throws -> String {
        guard let hash = libssh2_hostkey_hash(session.handle, LIBSSH2_HOSTKEY_HASH_SHA256) else {
            throw SSHError(.handshake, "the server on \(session.host) presented no host key")
        }
        let bytes = Data(bytes: hash, count: 32)
        return "SHA256:" + bytes.base64EncodedString().trimmingCharacters(in: CharacterSet(charactersIn: "="))
    }

    /// Runs `body` on the connection's thread with a deadline; a cancelled task interrupts it.
    func perform<T: Sendable>(timeout: Duration?, _ body: @escaping (SSHConnection) throws -> T) async throws -> T {
        try Task.checkCancellation()
        // A flag of this operation's own: a cancel that comes before the worker reaches the body (a busy
        // machine) still stops it, and one caller's cancel never stops another caller's operation.
        let flag = CancelFlag()
        return try await withTaskCancellationHandler {
            try await worker.run { [self] in
                cancel = flag
                if let session {
                    session.deadline = .now + (timeout ?? .seconds(3600))
                    session.cancel = flag
                }
                return try body(self)
            }
        } onCancel: {
            flag.raise()
        }
    }

    func requireSession() throws -> Session {
        guard let session else { throw SSHError(.disconnected, "the connection to \(host) is closed") }
        return session
    }

    /// Set (from the worker thread) once the session is gone, read by owners on any thread.
    private let broken = CancelFlag()

    /// The session was dropped after a failure that left it unusable: the owner should reconnect.
    public var isBroken: Bool { broken.isRaised }

    func drop(after error: any Error) {
        guard let error = error as? SSHError else { return }
        if [.disconnected, .timeout, .cancelled, .connect].contains(error.kind) {
            broken.raise()
            sftp = nil
            session = nil
        }
    }

    // MARK: Commands

    /// Runs a command line; its output is captured (up to ``captureLimit`` per stream) and streamed to
    /// `onOutput` as it arrives. A non-zero exit is a result, not an error.
    public func execute(
        _ command: String, environment: [String: String] = [:], timeout: Duration? = nil,
        onOutput: (@Sendable (OutputStream, [UInt8]) -> Void)? = nil
    ) async throws -> CommandOutput {
        try await perform(timeout: timeout) { connection in
            do {
                return try connection.run(command, environment: environment, onOutput: onOutput)
            } catch {
                connection.drop(after: error)
                throw error
            }
        }
    }

    // One function: libssh2's channel steps in order, and every path out of them closes the channel.
    func run(_ command: String, environment: [String: String], onOutput: ((OutputStream, [UInt8]) -> Void)?) throws -> CommandOutput {
        let session = try requireSession()
        var seconds: Int32 = 0
        _ = libssh2_keepalive_send(session.handle, &seconds)
        let channel = try Channel(session: session)
        for (name, value) in environment.sorted(by: { $0.key < $1.key }) {
            // Servers accept only the variables their AcceptEnv lists; the others are refused, harmlessly.
            _ = try? session.call(.channel, "setting \(name)") {
                libssh2_channel_setenv_ex(channel.handle, name, UInt32(name.utf8.count), value, UInt32(value.utf8.count))
            }
        }
        try session.call(.channel, "starting a command") {
            command.withCString { clibssh2_channel_exec(channel.handle, $0, UInt32(command.utf8.count)) }
        }
        var stdout = [UInt8](), stderr = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 32768)
        var stdoutDone = false, stderrDone = false
        while !(stdoutDone && stderrDone) {
            // A command that streams without pause never leaves this loop to wait on the socket: the
            // deadline and a cancel are checked on every turn, and keepalives go out on schedule.
            try session.checkInterrupted("running a command")
            _ = libssh2_keepalive_send(session.handle, &seconds)
            var progressed = false
            for (stream, id) in [(OutputStream.stdout, Int32(0)), (.stderr, Int32(SSH_EXTENDED_DATA_STDERR))] {
                if stream == .stdout ? stdoutDone : stderrDone { continue }
                let count = buffer.withUnsafeMutableBytes { raw in
                    libssh2_channel_read_ex(channel.handle, id, raw.baseAddress?.assumingMemoryBound(to: CChar.self), raw.count)
                }
                if count > 0 {
                    progressed = true
                    let chunk = Array(buffer[0..<count])
                    onOutput?(stream, chunk)
                    if stream == .stdout {
                        if stdout.count < Self.captureLimit { stdout.append(contentsOf: chunk.prefix(Self.captureLimit - stdout.count)) }
                    } else if stderr.count < Self.captureLimit {
                        stderr.append(contentsOf: chunk.prefix(Self.captureLimit - stderr.count))
                    }
                } else if count == 0 || (count == LIBSSH2_ERROR_EAGAIN && libssh2_channel_eof(channel.handle) != 0) {
                    if count == 0, libssh2_channel_eof(channel.handle) != 0 {
                        if stream == .stdout { stdoutDone = true } else { stderrDone = true }
                    }
                } else if count != LIBSSH2_ERROR_EAGAIN {
                    throw session.error(.channel, "reading a command's output", code: Int32(count))
                }
            }
            if !progressed, !(stdoutDone && stderrDone) {
                // Reading one stream can pull the other's data (and the EOF behind it) off the socket into
                // libssh2's buffers; waiting on the socket then would wait for data that already came.
                // (poll_channel_read is negative when it cannot tell: then the short wait below covers it.)
                if libssh2_channel_eof(channel.handle) != 0 || libssh2_poll_channel_read(channel.handle, 1) > 0 { continue }
                try session.waitSocket("waiting for a command", once: true)
            }
        }
        try session.call(.channel, "closing a channel") { libssh2_channel_close(channel.handle) }
        try session.call(.channel, "closing a channel") { libssh2_channel_wait_closed(channel.handle) }
        let status = libssh2_channel_get_exit_status(channel.handle)
        var signalName: UnsafeMutablePointer<CChar>?
        var signalLength = 0
        _ = libssh2_channel_get_exit_signal(channel.handle, &signalName, &signalLength, nil, nil, nil, nil)
        var signal: String?
        if let signalName {
            signal = String(cString: signalName)
            libssh2_free(session.handle, signalName)
        }
        return CommandOutput(
            stdout: String(decoding: stdout, as: UTF8.self), stderr: String(decoding: stderr, as: UTF8.self),
            exitStatus: status, signal: signal)
    }

    /// Ends the session.
    public func close() async {
        broken.raise()
        _ = try? await worker.run { [self] in
            sftp = nil
            session = nil
        }
    }
}
