import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Many TCP connection attempts at once, for "does it still answer" questions asked on every apply.
public enum PortProbe {
    /// Which of `targets` accept a connection, all asked at once: the whole answer takes at most
    /// `timeout` (per 512 targets, to stay clear of the descriptor limit). A machine on a local bridge
    /// answers or refuses within a millisecond, so only a silent one costs the wait. Blocks: call it
    /// off the cooperative pool.
    public static func accepting(_ targets: [(address: IPv4Address, port: Int)], within timeout: Duration) -> [Bool] {
        var answers: [Bool] = []
        answers.reserveCapacity(targets.count)
        for start in stride(from: 0, to: targets.count, by: 512) {
            answers += acceptingChunk(Array(targets[start..<min(targets.count, start + 512)]), within: timeout)
        }
        return answers
    }

    private static func acceptingChunk(_ targets: [(address: IPv4Address, port: Int)], within timeout: Duration) -> [Bool] {
        var answers = [Bool](repeating: false, count: targets.count)
        var pending: [pollfd] = []
        var positions: [Int] = []
        var descriptors: [Int32] = []
        defer { for descriptor in descriptors { close(descriptor) } }
        for (position, target) in targets.enumerated() where (1...65535).contains(target.port) {
            let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard descriptor >= 0 else { continue }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(target.port).bigEndian)
            address.sin_addr.s_addr = target.address.value.bigEndian
            let started = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard started == 0 || errno == EINPROGRESS else {
                close(descriptor)
                continue
            }
            descriptors.append(descriptor)
            if started == 0 {
                answers[position] = true
                continue
            }
            pending.append(pollfd(fd: descriptor, events: Int16(POLLOUT), revents: 0))
            positions.append(position)
        }
        let deadline = ContinuousClock.now + timeout
        var waiting = pending.count
        while waiting > 0 {
            let left = deadline - ContinuousClock.now
            guard left > .zero else { break }
            let milliseconds = max(1, Int32(left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000))
            guard poll(&pending, nfds_t(pending.count), milliseconds) > 0 else { continue }
            for index in pending.indices where pending[index].fd >= 0 && pending[index].revents != 0 {
                var error: Int32 = 0
                var length = socklen_t(MemoryLayout<Int32>.size)
                getsockopt(pending[index].fd, SOL_SOCKET, SO_ERROR, &error, &length)
                answers[positions[index]] = error == 0
                pending[index].fd = -1  // answered: poll skips a negative descriptor
                waiting -= 1
            }
        }
        return answers
    }
}
