import Foundation
import PhotonCore

#if canImport(Glibc)
import Glibc
#endif

/// What the local driver needs on the host, checked before the first machine is made.
enum HostRequirements {
    static func check() throws {
        guard geteuid() == 0 else {
            throw DriverError(
                machine: nil, operation: "prepare the host", "the local driver needs root: it makes a bridge and LXC machines",
                help: "run photon as root (sudo photon …)")
        }
        let needed: [(program: String, package: String)] = [
            ("lxc-start", "lxc"), ("lxc-stop", "lxc"), ("lxc-info", "lxc"), (MachineLayout.tini, "tini"),
            ("/usr/sbin/sshd", "openssh-server"), ("ip", "iproute2"), ("unshare", "util-linux"),
        ]
        let missing = needed.filter { HostCommand.resolve($0.program) == nil }
        guard missing.isEmpty else {
            let packages = Array(Set(missing.map(\.package))).sorted()
            throw DriverError(
                machine: nil, operation: "prepare the host",
                "the local driver needs \(missing.map(\.program).joined(separator: ", ")), which \(missing.count == 1 ? "is" : "are") not installed",
                help: "apt-get install --no-install-recommends \(packages.joined(separator: " "))")
        }
    }
}

/// Whether something accepts TCP connections, without blocking longer than asked.
enum TCPProbe {
    static func accepts(address: IPv4Address, port: Int, within timeout: Duration) -> Bool {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        var target = sockaddr_in()
        target.sin_family = sa_family_t(AF_INET)
        target.sin_port = in_port_t(UInt16(port).bigEndian)
        target.sin_addr.s_addr = address.value.bigEndian
        let started = withUnsafePointer(to: &target) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if started == 0 { return true }
        guard errno == EINPROGRESS else { return false }
        var poller = pollfd(fd: descriptor, events: Int16(POLLOUT), revents: 0)
        let milliseconds = Int32(timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
        guard poll(&poller, 1, milliseconds) == 1 else { return false }
        var error: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        getsockopt(descriptor, SOL_SOCKET, SO_ERROR, &error, &length)
        return error == 0
    }
}
