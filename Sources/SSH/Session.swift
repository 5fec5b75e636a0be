internal import CLibSSH2
import Foundation

/// One libssh2 session and its TCP socket. Used only on its connection's worker thread; every call is
/// non-blocking and waits on the socket with `poll`, so a deadline or a cancellation interrupts it.
final class Session {
    let handle: OpaquePointer
    let socket: Int32
    let host: String
    /// The current operation's cancel flag.
    var cancel: CancelFlag
    /// Until when the current operation may wait.
    var deadline: ContinuousClock.Instant = .now + .seconds(60)

    /// Connects TCP (with `TCP_NODELAY`) within `timeout`; the SSH handshake is a separate step.
    init(host: String, port: Int, timeout: Duration, cancel: CancelFlag) throws {
        LibSSH2.initialized
        self.host = host
        self.cancel = cancel
        socket = try Session.connect(host: host, port: port, timeout: timeout, cancel: cancel)
        guard let session = clibssh2_session_new() else {
            close(socket)
            throw SSHError(.connect, "libssh2 could not allocate a session for \(host)")
        }
        handle = session
        libssh2_session_set_blocking(session, 0)
    }

    deinit {
        clibssh2_session_disconnect(handle, "photon done")
        libssh2_session_free(handle)
        close(socket)
    }

    // MARK: TCP

    static func connect(host: String, port: Int, timeout: Duration, cancel: CancelFlag) throws -> Int32 {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var results: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &results)
        guard status == 0, let first = results else {
            throw SSHError(.connect, "cannot resolve \(host): \(String(cString: gai_strerror(status)))")
        }
        defer { freeaddrinfo(results) }
        var lastError = "no address"
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let address = entry {
            entry = address.pointee.ai_next
            let fd = Foundation.socket(address.pointee.ai_family, address.pointee.ai_socktype, address.pointee.ai_protocol)
            guard fd >= 0 else { continue }
            var one: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, socklen_t(MemoryLayout<Int32>.size))
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            if Foundation.connect(fd, address.pointee.ai_addr, address.pointee.ai_addrlen) == 0 { return fd }
            guard errno == EINPROGRESS else {
                lastError = String(cString: strerror(errno))
                close(fd)
                continue
            }
            let deadline = ContinuousClock.now + timeout
            var ready = false
            while !ready {
                if cancel.isRaised {
                    close(fd)
                    throw SSHError(.cancelled, "connecting to \(host):\(port) was cancelled")
                }
                let left = deadline - .now
                guard left > .zero else { break }
                var descriptor = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                let milliseconds = Int32(min(100, max(1, left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000)))
                if poll(&descriptor, 1, milliseconds) > 0 { ready = true }
            }
            guard ready else {
                close(fd)
                throw SSHError(.timeout, "connecting to \(host):\(port) timed out after \(timeout)")
            }
            var socketError: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &socketError, &length)
            if socketError == 0 { return fd }
            lastError = String(cString: strerror(socketError))
            close(fd)
        }
        throw SSHError(.connect, "cannot connect to \(host):\(port): \(lastError)")
    }

    // MARK: Calls

    /// libssh2's message for the last error on this session.
    func lastError() -> (code: Int32, message: String) {
        var message: UnsafeMutablePointer<CChar>?
        var length: Int32 = 0
        let code = libssh2_session_last_error(handle, &message, &length, 0)
        return (code, message.map { String(cString: $0) } ?? "error \(code)")
    }

    /// Throws when the current operation was cancelled or its deadline has passed.
    func checkInterrupted(_ doing: @autoclosure () -> String) throws {
        if cancel.isRaised { throw SSHError(.cancelled, "\(doing()) on \(host) was cancelled") }
        if deadline <= .now { throw SSHError(.timeout, "\(doing()) on \(host) timed out") }
    }

    /// Waits until the socket is ready in the direction libssh2 is blocked on, or the deadline or a cancel;
    /// with `once`, for at most one 100 ms slice (for loops that must look at libssh2's buffers again).
    func waitSocket(_ doing: @autoclosure () -> String, once: Bool = false) throws {
        let directions = libssh2_session_block_directions(handle)
        var events: Int16 = 0
        if directions & LIBSSH2_SESSION_BLOCK_INBOUND != 0 { events |= Int16(POLLIN) }
        if directions & LIBSSH2_SESSION_BLOCK_OUTBOUND != 0 { events |= Int16(POLLOUT) }
        if events == 0 { events = Int16(POLLIN) }
        while true {
            try checkInterrupted(doing())
            let left = deadline - .now
            var descriptor = pollfd(fd: socket, events: events, revents: 0)
            let milliseconds = Int32(min(100, max(1, left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000)))
            let ready = poll(&descriptor, 1, milliseconds)
            if ready > 0 { return }
            if ready < 0, errno != EINTR { throw SSHError(.disconnected, "\(doing()) on \(host): \(String(cString: strerror(errno)))") }
            if once { return }
        }
    }

    /// The one funnel for libssh2 return codes: retries on EAGAIN after waiting on the socket, turns any
    /// other negative code into an ``SSHError`` with libssh2's message.
    @discardableResult
    func call(_ kind: SSHError.Kind, _ doing: @autoclosure () -> String, _ operation: () -> Int32) throws -> Int32 {
        while true {
            let code = operation()
            if code == LIBSSH2_ERROR_EAGAIN {
                try waitSocket(doing())
                continue
            }
            if code < 0 { throw error(kind, doing(), code: code) }
            return code
        }
    }

    /// For libssh2 calls that return a pointer: nil with EAGAIN means "wait and call again".
    func pointer<T>(_ kind: SSHError.Kind, _ doing: @autoclosure () -> String, _ operation: () -> T?) throws -> T {
        while true {
            if let result = operation() { return result }
            let code = libssh2_session_last_errno(handle)
            guard code == LIBSSH2_ERROR_EAGAIN else { throw error(kind, doing(), code: code) }
            try waitSocket(doing())
        }
    }

    /// Frees a handle from a deinit: waits out EAGAIN within the deadline, and gives up quietly on a dead
    /// session (whose handles free at once).
    func release(_ doing: @autoclosure () -> String, _ operation: () -> Int32) {
        while operation() == LIBSSH2_ERROR_EAGAIN {
            guard (try? waitSocket(doing())) != nil else { break }
        }
    }

    func error(_ kind: SSHError.Kind, _ doing: String, code: Int32) -> SSHError {
        let last = lastError()
        var kind = kind
        if [LIBSSH2_ERROR_SOCKET_DISCONNECT, LIBSSH2_ERROR_SOCKET_RECV, LIBSSH2_ERROR_SOCKET_SEND].contains(code) { kind = .disconnected }
        if code == LIBSSH2_ERROR_TIMEOUT || code == LIBSSH2_ERROR_SOCKET_TIMEOUT { kind = .timeout }
        return SSHError(kind, "\(doing) on \(host): \(last.message)", code: code)
    }
}
