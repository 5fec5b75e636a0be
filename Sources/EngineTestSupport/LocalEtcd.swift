import Foundation
import PhotonCore

/// A real etcd (Debian's etcd-server) on loopback ports of its own, with its data in a temporary
/// folder, for tests. `stop()` (or deinit) ends it by its pid and removes the folder.
public final class LocalEtcd: @unchecked Sendable {
    public let clientURL: String
    public let directory: String
    private var pid: pid_t

    /// Starts etcd and returns once it answers on its client port (within 20 s).
    public init() throws {
        // On tmpfs: etcd syncs every write, which on a disk shared with a loaded test run can take seconds.
        let base = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm/" : NSTemporaryDirectory()
        directory = base + "photon-etcd-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let clientPort = try LoopbackPort.free(), peerPort = try LoopbackPort.free()
        clientURL = "http://127.0.0.1:\(clientPort)"
        pid = try HostCommand.spawnDetached([
            "etcd", "--name=test", "--data-dir=\(directory)/data", "--listen-client-urls=\(clientURL)", "--advertise-client-urls=\(clientURL)",
            "--listen-peer-urls=http://127.0.0.1:\(peerPort)", "--initial-advertise-peer-urls=http://127.0.0.1:\(peerPort)",
            "--initial-cluster=test=http://127.0.0.1:\(peerPort)", "--log-level=error",
        ])
        let deadline = Date().addingTimeInterval(20)
        while !LoopbackPort.accepts(clientPort) {
            guard Date() < deadline else {
                stop()
                throw PhotonError("etcd did not start on port \(clientPort) within 20 s", help: "is Debian's etcd-server installed? (apt-get install etcd-server)")
            }
            usleep(20_000)
        }
    }

    public func stop() {
        guard pid > 0 else { return }
        kill(pid, SIGKILL)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1, errno == EINTR {}
        pid = 0
        try? FileManager.default.removeItem(atPath: directory)
    }

    deinit { stop() }
}

/// Loopback TCP ports for servers tests start.
public enum LoopbackPort {
    /// A loopback TCP port nothing listens on now.
    public static func free() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { throw PhotonError("no free loopback port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    public static func accepts(_ port: Int, host: String = "127.0.0.1") -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr(host)
        address.sin_port = UInt16(port).bigEndian
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }
}
