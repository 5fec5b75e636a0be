import Foundation
import PhotonCore
import Testing

@testable import Drivers

/// What LXC leaves of a stopped machine, against the host's real cgroups (as root).
@Suite("Machine remains after a stop")
struct MachineRemainsTests {
    /// The machine's payload group in the pids hierarchy (v1) or the unified one (v2), with a subgroup
    /// (as dockerd makes inside a machine).
    static func makeGroups(machine: String) throws -> (group: String, subgroup: String) {
        let group = CgroupLimits.payloadGroup(machine: machine, controller: "pids")
        let subgroup = group + "/docker"
        for path in [group, subgroup] where mkdir(path, 0o755) != 0 && errno != EEXIST {
            throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
        }
        return (group, subgroup)
    }

    @Test("empty groups a stop left are removed, subgroups first; a group with a process stays, and the wait for it fails naming it")
    func leftoverGroups() throws {
        let machine = "photon-remains-\(UUID().uuidString.prefix(8).lowercased())"
        let remains = MachineRemains(machinesDirectory: "/var/tmp/photon-remains-none", name: machine)
        let (group, subgroup) = try Self.makeGroups(machine: machine)
        #expect(remains.existingGroups() == [group])
        #expect(remains.monitorProcess() == nil)
        try remains.awaitGone(timeout: .seconds(2))
        #expect(!FileManager.default.fileExists(atPath: subgroup) && !FileManager.default.fileExists(atPath: group))

        // A process inside: the kernel refuses the removal, so a running machine's group is never taken.
        _ = try Self.makeGroups(machine: machine)
        let sleeper = Process()
        sleeper.executableURL = URL(fileURLWithPath: "/bin/sleep")
        sleeper.arguments = ["30"]
        try sleeper.run()
        defer {
            if sleeper.isRunning { kill(sleeper.processIdentifier, SIGKILL) }
            sleeper.waitUntilExit()
            remains.removeEmptyGroups()
            #expect(remains.existingGroups() == [], "the test leaves no group")
        }
        try Data("\(sleeper.processIdentifier)\n".utf8).write(to: URL(fileURLWithPath: subgroup + "/cgroup.procs"))
        let started = ContinuousClock.now
        #expect(throws: DriverError.self) { try remains.awaitGone(timeout: .milliseconds(300)) }
        #expect(ContinuousClock.now - started < .seconds(2))
        do {
            try remains.awaitGone(timeout: .milliseconds(100))
        } catch let error as DriverError {
            #expect(error.isTransient)
            #expect(error.message.contains("its cgroup \(group) still holds"), "\(error.message)")
        }
        #expect(FileManager.default.fileExists(atPath: subgroup), "the busy group stays")
    }
}
