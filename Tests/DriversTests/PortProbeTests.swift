import Foundation
import PhotonCore
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("Port probes, many at once")
struct PortProbeTests {
    /// A socket listening on 127.0.0.1 (a port the kernel picks), and the port.
    static func listener() throws -> (descriptor: Int32, port: Int) {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) == 0 && getsockname(descriptor, $0, &length) == 0 }
        }
        guard bound, listen(descriptor, 1024) == 0 else { throw POSIXError(.EADDRINUSE) }
        return (descriptor, Int(UInt16(bigEndian: address.sin_port)))
    }

    @Test("a listening port answers, a closed one does not, each in its place; more targets than one poll holds; never longer than the deadline")
    func answers() throws {
        let open = try Self.listener()
        defer { close(open.descriptor) }
        let closed = try Self.listener()
        close(closed.descriptor)  // nothing listens there now: refused at once
        let loopback = try #require(IPv4Address("127.0.0.1"))
        let targets = (0..<600).map { (address: loopback, port: $0 % 3 == 0 ? closed.port : open.port) }
        let started = ContinuousClock.now
        let answers = PortProbe.accepting(targets, within: .milliseconds(500))
        #expect(ContinuousClock.now - started < .seconds(2))
        #expect(answers.count == targets.count)
        for (index, answered) in answers.enumerated() {
            #expect(answered == (index % 3 != 0), "target \(index) on port \(targets[index].port)")
        }
        #expect(PortProbe.accepting([(loopback, 0), (loopback, 70000)], within: .milliseconds(100)) == [false, false], "ports out of range")
    }
}
