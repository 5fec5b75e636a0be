internal import CLibSSH2
import Foundation
import MachineAccess

/// What went wrong talking SSH, with libssh2's own message, and whether trying again may help.
public struct SSHError: Error, RetryClassifying, CustomStringConvertible, Sendable {
    public enum Kind: String, Sendable {
        case connect, handshake, hostKeyMismatch, authentication, channel, command, sftp, timeout, cancelled, disconnected, key
    }

    public var kind: Kind
    /// What photon was doing and what libssh2 (or the system) said.
    public var message: String
    /// libssh2's error code, when there is one.
    public var code: Int32?

    public init(_ kind: Kind, _ message: String, code: Int32? = nil) {
        self.kind = kind
        self.message = message
        self.code = code
    }

    public var description: String { message }

    /// Connection refused or reset, timeouts and dropped sessions pass; keys and authentication do not.
    public var isTransient: Bool {
        switch kind {
        case .connect, .timeout, .disconnected: return true
        case .handshake, .channel, .sftp: return code.map(LibSSH2.isTransientCode) ?? false
        case .hostKeyMismatch, .authentication, .command, .cancelled, .key: return false
        }
    }
}

/// Checks on a private key's text before any connection.
public enum SSHKeys {
    /// Why photon cannot sign with this key (an RSA key), or nil.
    public static func unusableKeyProblem(_ text: String) -> String? {
        Authenticator.keyType(text) == "ssh-rsa" ? "it is an RSA key: \(Authenticator.rsaAdvice)" : nil
    }
}

/// The libssh2 photon runs with, for `photon version`.
public enum SSHLibrary {
    public static var version: String { libssh2_version(0).map { String(cString: $0) } ?? "unknown" }
}

enum LibSSH2 {
    /// libssh2_init is not thread-safe: run it exactly once, before any session exists.
    static let initialized: Void = { _ = libssh2_init(0) }()

    static func isTransientCode(_ code: Int32) -> Bool {
        [
            LIBSSH2_ERROR_SOCKET_SEND, LIBSSH2_ERROR_SOCKET_RECV, LIBSSH2_ERROR_SOCKET_DISCONNECT, LIBSSH2_ERROR_TIMEOUT,
            LIBSSH2_ERROR_SOCKET_TIMEOUT, LIBSSH2_ERROR_BANNER_RECV, LIBSSH2_ERROR_KEX_FAILURE,
        ].contains(code)
    }
}

/// A thread of its own for one session's blocking work: libssh2 sessions are used by one thread at a
/// time, and their waits must never occupy Swift's cooperative pool.
final class WorkerThread: @unchecked Sendable {
    private let condition = NSCondition()
    private var work: [() -> Void] = []
    private var stopping = false
    private var thread: Thread?

    init(name: String) {
        let thread = Thread { [self] in loop() }
        thread.name = name
        thread.stackSize = 1 << 20
        self.thread = thread
        thread.start()
    }

    private func loop() {
        while true {
            condition.lock()
            while work.isEmpty, !stopping { condition.wait() }
            if work.isEmpty, stopping {
                condition.unlock()
                return
            }
            let next = work.removeFirst()
            condition.unlock()
            next()
        }
    }

    func submit(_ item: @escaping () -> Void) {
        condition.lock()
        work.append(item)
        condition.signal()
        condition.unlock()
    }

    /// Runs `body` on the thread and returns its result to the awaiting task.
    func run<T: Sendable>(_ body: @escaping () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            submit {
                do { continuation.resume(returning: try body()) } catch { continuation.resume(throwing: error) }
            }
        }
    }

    /// Ends the thread once the work already submitted is done.
    func stop() {
        condition.lock()
        stopping = true
        condition.signal()
        condition.unlock()
    }
}

/// A flag the awaiting task sets when it is cancelled, read by the worker thread between waits.
final class CancelFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var raised = false
    func raise() { lock.withLock { raised = true } }
    var isRaised: Bool { lock.withLock { raised } }
}
