import Blueprints
import Drivers
import Engine
import Foundation
import MachineAccess
import PhotonCore
import Testing

/// The local driver builds host paths from machine names: whoever calls it (apply, or the agent on the
/// plane's behalf), a name that is not a host name label never reaches the file system.
@Suite("Local driver: machine names", .tags(.security))
struct MachineNameTests {
    @Test("delete, lookup and create refuse names that are not labels, touching nothing", arguments: ["..", "../..", "a/b", ".", "", "x\u{0}", "-a", "A"])
    func hostileNames(_ name: String) async throws {
        let base = NSTemporaryDirectory() + "photon-names-\(UUID().uuidString.prefix(8))"
        let machines = base + "/machines"
        try FileManager.default.createDirectory(atPath: machines, withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: base + "/keep", contents: Data("x".utf8))
        defer { try? FileManager.default.removeItem(atPath: base) }
        let driver = LocalDriver(
            LocalDriver.Configuration(
                deployment: "demo", network: IPv4Network("10.250.77.0/24")!, machinesDirectory: machines,
                hiddenPaths: [], authorizedKey: "ssh-ed25519 AAAA test"))
        await #expect(throws: DriverError.self) { try await driver.delete(name: name) }
        await #expect(throws: DriverError.self) { _ = try await driver.lookup(name: name) }
        await #expect(throws: DriverError.self) {
            _ = try await driver.create(
                MachineSpec(name: name, group: "g", kind: "k", role: "r", index: 1, flavor: Flavor.builtIn["small"]!, address: "10.250.77.2", needs: []))
        }
        #expect(await driver.isRunning(name: name) == nil)
        #expect(FileManager.default.fileExists(atPath: base + "/keep") && FileManager.default.fileExists(atPath: machines))
    }
}
