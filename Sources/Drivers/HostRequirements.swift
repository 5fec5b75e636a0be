import Foundation
import PhotonCore
#if canImport(Glibc)
import Glibc
#endif

/// What the local driver needs on the host, checked before the first machine is made.
enum HostRequirements {
    static func check() throws {
        guard geteuid() == 0 else {
            throw DriverError(machine: nil, operation: "prepare the host", "the local driver needs root: it makes a bridge and LXC machines",
                              help: "run photon as root (sudo photon …)")
        }
        let needed: [(program: String, package: String)] = [
            ("lxc-start", "lxc"), ("lxc-stop", "lxc"), ("lxc-info", "lxc"), (MachineLayout.tini, "tini"),
            ("/usr/sbin/sshd", "openssh-server"), ("ip", "iproute2"), ("unshare", "util-linux"),
        ]
        let missing = needed.filter { HostCommand.resolve($0.program) == nil }
        guard missing.isEmpty else {
            let packages = Array(Set(missing.map(\.package))).sorted()
            throw DriverError(machine: nil, operation: "prepare the host",
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

    /// Which of `addresses` accept a connection on `port`, all asked at once: the whole answer takes at
    /// most `timeout` (per 512 addresses, to stay clear of the descriptor limit).
    static func accepting(_ addresses: [IPv4Address], port: Int, within timeout: Duration) -> [Bool] {
        var answers: [Bool] = []
        answers.reserveCapacity(addresses.count)
        for start in stride(from: 0, to: addresses.count, by: 512) {
            answers += acceptingChunk(Array(addresses[start..<min(addresses.count, start + 512)]), port: port, within: timeout)
        }
        return answers
    }

    private static func acceptingChunk(_ addresses: [IPv4Address], port: Int, within timeout: Duration) -> [Bool] {
        var answers = [Bool](repeating: false, count: addresses.count)
        var pending: [pollfd] = []
        var positions: [Int] = []
        defer { for entry in pending { close(entry.fd) } }
        for (position, address) in addresses.enumerated() {
            let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard descriptor >= 0 else { continue }
            var target = sockaddr_in()
            target.sin_family = sa_family_t(AF_INET)
            target.sin_port = in_port_t(UInt16(port).bigEndian)
            target.sin_addr.s_addr = address.value.bigEndian
            let started = withUnsafePointer(to: &target) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            if started == 0 || errno == EINPROGRESS {
                answers[position] = started == 0
                pending.append(pollfd(fd: descriptor, events: started == 0 ? 0 : Int16(POLLOUT), revents: 0))
                positions.append(position)
            } else {
                close(descriptor)
            }
        }
        let deadline = ContinuousClock.now + timeout
        var waiting = pending.indices.filter { pending[$0].events != 0 }.count
        while waiting > 0 {
            let left = deadline - ContinuousClock.now
            guard left > .zero else { break }
            let milliseconds = max(1, Int32(left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000))
            guard poll(&pending, nfds_t(pending.count), milliseconds) > 0 else { continue }
            for index in pending.indices where pending[index].events != 0 && pending[index].revents != 0 {
                var error: Int32 = 0
                var length = socklen_t(MemoryLayout<Int32>.size)
                getsockopt(pending[index].fd, SOL_SOCKET, SO_ERROR, &error, &length)
                answers[positions[index]] = error == 0
                pending[index].events = 0  // answered: poll no longer watches it
                waiting -= 1
            }
        }
        return answers
    }
}
