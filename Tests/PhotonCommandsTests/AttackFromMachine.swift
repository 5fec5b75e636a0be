import EngineTestSupport
import Foundation
import PhotonCore
import Testing

/// Root on one machine of a project's deployment plays the attacker (`MachineAttacks`), over ssh as root
/// with the deployment's key: the installer's state, keys and blueprint folder stay out of reach, no
/// forbidden capability is held, no module or host disk is reachable, and the masks hold.
enum AttackFromMachine {
    static let forbidden: Set<String> = ["sys_module", "sys_rawio", "sys_boot", "sys_time", "mac_admin", "mac_override"]

    static func check(
        _ project: LocalDriverCLITests.Project, deployment: String, address: String,
        sourceLocation: Testing.SourceLocation = #_sourceLocation
    ) throws {
        let state = project.directory.appendingPathComponent(".photon/\(deployment)").path
        // A secret of the installer's kept beside the state, as a sealing key or an agent token is.
        let marker = "photon-installer-secret-\(UUID().uuidString)"
        try Data((marker + "\n").utf8).write(to: URL(fileURLWithPath: state + "/attack-probe.key"))
        defer { try? FileManager.default.removeItem(atPath: state + "/attack-probe.key") }
        let secrets = [
            MachineAttacks.Secret(path: state + "/id_ed25519", marker: "PRIVATE KEY"),
            MachineAttacks.Secret(path: state + "/attack-probe.key", marker: marker),
            MachineAttacks.Secret(path: state + "/machines", marker: "known_hosts"),
            MachineAttacks.Secret(path: project.directory.path, marker: "photon.yaml"),
        ]
        let script = MachineAttacks.script(secrets: secrets, hostDisk: MachineAttacks.hostRootDevice())
        let result = try HostCommand.runBlocking(
            [
                "ssh", "-i", state + "/id_ed25519", "-o", "StrictHostKeyChecking=yes", "-o", "UserKnownHostsFile=\(state)/machines/known_hosts",
                "-o", "BatchMode=yes", "-o", "ConnectTimeout=5", "root@\(address)", "bash -s",
            ], input: script)
        let report = MachineAttacks.Report(result.stdout)
        #expect(report.breaches == [], "\(address): \(report.breaches)\n\(result.stderr)", sourceLocation: sourceLocation)
        #expect(report.missing == [], "\(address) reported nothing for \(report.missing):\n\(result.stdout)\(result.stderr)", sourceLocation: sourceLocation)
        #expect(secrets.indices.allSatisfy { report.refused.contains("secret-\($0)") }, "\(address): \(result.stdout)", sourceLocation: sourceLocation)
        #expect(
            !report.capabilities.isEmpty && report.capabilities.isDisjoint(with: forbidden),
            "\(address) holds \(report.capabilities.intersection(forbidden))", sourceLocation: sourceLocation)
    }
}
