import Etcd
import Foundation
import PKI
import PhotonCore

/// A real etcd (Debian's etcd-server) on loopback ports of its own, with its data in a temporary
/// folder, for tests. `stop()` (or deinit) ends it by its pid and removes the folder.
///
/// By default it is set up as the management plane's etcd is: clients and peers over TLS with
/// certificates from a certificate authority of its own, client certificates required; `tls: false`
/// gives plain HTTP.
public final class LocalEtcd: @unchecked Sendable {
    public let clientURL: String
    public let directory: String
    /// What a client needs to be let in (nil for plain HTTP).
    public let clientTLS: EtcdTLS?
    /// The authority its members and clients are signed by (nil for plain HTTP).
    public let authority: CertificateAuthority?
    public let clientPort: Int
    private var pid: pid_t

    /// Starts etcd and returns once it answers on its client port (within 20 s).
    public init(tls: Bool = true) throws {
        // On tmpfs: etcd syncs every write, which on a disk shared with a loaded test run can take seconds.
        let base = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm/" : NSTemporaryDirectory()
        directory = base + "photon-etcd-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        clientPort = try LoopbackPort.free()
        let peerPort = try LoopbackPort.free()
        let scheme = tls ? "https" : "http"
        clientURL = "\(scheme)://127.0.0.1:\(clientPort)"
        var arguments = [
            "etcd", "--name=test", "--data-dir=\(directory)/data", "--listen-client-urls=\(clientURL)", "--advertise-client-urls=\(clientURL)",
            "--listen-peer-urls=\(scheme)://127.0.0.1:\(peerPort)", "--initial-advertise-peer-urls=\(scheme)://127.0.0.1:\(peerPort)",
            "--initial-cluster=test=\(scheme)://127.0.0.1:\(peerPort)", "--log-level=error",
        ]
        if tls {
            let authority = try CertificateAuthority.create(commonName: "test-etcd-ca")
            let member = try authority.issue(CertificateRequest(commonName: "test", names: ["127.0.0.1", "localhost"], usages: [.server, .client]))
            let client = try authority.issue(CertificateRequest(commonName: "test-client", names: [], usages: [.client]))
            for (name, text) in [
                ("ca.crt", authority.issued.certificatePEM), ("member.crt", member.certificatePEM), ("member.key", member.privateKeyPEM),
                ("client.crt", client.certificatePEM), ("client.key", client.privateKeyPEM),
            ] {
                guard FileManager.default.createFile(atPath: "\(directory)/\(name)", contents: Data(text.utf8), attributes: [.posixPermissions: 0o600]) else {
                    throw PhotonError("cannot write \(directory)/\(name)")
                }
            }
            arguments += [
                "--cert-file=\(directory)/member.crt", "--key-file=\(directory)/member.key", "--client-cert-auth", "--trusted-ca-file=\(directory)/ca.crt",
                "--peer-cert-file=\(directory)/member.crt", "--peer-key-file=\(directory)/member.key", "--peer-client-cert-auth",
                "--peer-trusted-ca-file=\(directory)/ca.crt",
            ]
            self.authority = authority
            clientTLS = EtcdTLS(authorityPEM: authority.issued.certificatePEM, certificatePEM: client.certificatePEM, privateKeyPEM: client.privateKeyPEM)
        } else {
            authority = nil
            clientTLS = nil
        }
        pid = try HostCommand.spawnDetached(arguments)
        let deadline = Date().addingTimeInterval(20)
        while !LoopbackPort.accepts(clientPort) {
            guard Date() < deadline else {
                stop()
                throw PhotonError(
                    "etcd did not start on port \(clientPort) within 20 s", help: "is Debian's etcd-server installed? (apt-get install etcd-server)")
            }
            usleep(20_000)
        }
    }

    /// The files of ``clientTLS``: the authority, the client certificate and its key.
    public var clientFiles: (authority: String, certificate: String, key: String)? {
        clientTLS == nil ? nil : (directory + "/ca.crt", directory + "/client.crt", directory + "/client.key")
    }

    /// A client with this etcd's client certificate.
    public func client(serializableReads: Bool = false) throws -> EtcdClient {
        try EtcdClient(endpoints: [clientURL], tls: clientTLS, serializableReads: serializableReads)
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
