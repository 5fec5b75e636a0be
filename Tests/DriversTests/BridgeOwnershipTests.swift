import EngineTestSupport
import Foundation
import MachineAccess
import PhotonCore
import Testing

@testable import Drivers

/// Whose the bridge is, read from the bridge itself: it goes with the last machine of a deployment only
/// when photon made it and no other machine is on it, whatever files a killed photon lost.
@Suite("The bridge's owner", .serialized)
struct BridgeOwnershipTests {
    @Test("a bridge photon made goes with the last machine even when no file says photon made it, and with a destroy that finds no machine")
    func madeByPhoton() async throws {
        let machines = try LocalMachines(network: "10.247.0.0/24")
        defer { machines.destroy() }
        let made = try await machines.driver.create(machines.spec("test-own-1", host: 2))
        // What a photon killed between making the bridge and writing anything, or an older state folder, holds.
        try? FileManager.default.removeItem(atPath: machines.machinesDirectory + "/.bridge")
        try await machines.driver.delete(name: made.name)
        #expect(machines.leftovers(of: [made.name], addresses: [made.address]) == [])

        // A killed apply that made the bridge and no machine: destroy finds no machine, and still lets it go.
        let network = HostNetwork(network: machines.network, bridge: machines.bridge)
        try network.ensureBridge()
        #expect(network.bridgeIsPhotons)
        try await machines.driver.releaseIfUnused()
        #expect(HostBridges.leftover(machines.bridge) == nil)
    }

    @Test("a bridge another deployment's machine is on, or that someone else made, stays")
    func notOnlyOurs() async throws {
        let first = try LocalMachines(network: "10.248.0.0/24"), second = try LocalMachines(network: "10.248.0.0/24")
        defer {
            first.destroy()
            second.destroy()
        }
        let a = try await first.driver.create(first.spec("test-share-1", host: 2))
        let b = try await second.driver.create(second.spec("test-share-2", host: 3))
        try await first.driver.delete(name: a.name)
        #expect(HostNetwork(network: second.network, bridge: second.bridge).ports == ["pv" + HostNetwork.hex(IPv4Address(b.address)!.value)])
        #expect(try await second.run("hostname", on: b).stdout == "test-share-2\n", "the other deployment's machine is still reachable")
        try await second.driver.delete(name: b.name)
        #expect(HostBridges.leftover(second.bridge) == nil)

        // Someone's own bridge on the network (another MAC): photon uses it and never removes it.
        let theirs = try HostCommand.runBlocking(
            ["ip", "-batch", "-"], input: "link add name \(first.bridge) type bridge\naddr add 10.248.0.1/24 dev \(first.bridge)\nlink set \(first.bridge) up\n"
        )
        #expect(theirs.succeeded, "\(theirs.diagnostic)")
        let c = try await first.driver.create(first.spec("test-share-3", host: 4))
        try await first.driver.delete(name: c.name)
        #expect(FileManager.default.fileExists(atPath: "/sys/class/net/\(first.bridge)"), "a bridge photon did not make stays")
    }
}
