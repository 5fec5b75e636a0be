import ArgumentParser
import Blueprints
import Deployments
import Foundation
import PhotonCore

struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show a deployment's machines, the last run, the lock holder, and drift from the blueprint."
    )

    @Option(name: [.short, .customLong("file")], help: ArgumentHelp("The blueprint, to compare with what is recorded.", valueName: "file"))
    var file: String?

    @OptionGroup var kinds: TemplatesOption
    @OptionGroup var state: StateOptions

    @Option(help: "Output format: text or json.")
    var format: OutputFormat = .text

    func validate() throws {
        if file == nil, state.directory == nil { throw ValidationError("give -f BLUEPRINT or --state DIR") }
    }

    func run() async throws {
        let report = try await StatusReport.make(blueprintPath: file, templates: kinds.templates, state: state.location)
        guard format == .text else {
            Output.result(JSONOutput.encode(report))
            return
        }
        var output = text(report)
        // The same ways in that apply prints at its end (status writes nothing, so not the ssh_config).
        if let file, !report.machines.isEmpty,
            let access = try? await AccessReport.make(
                blueprintPath: file, templates: kinds.templates, state: state.location, cluster: nil, writingSSHConfig: false),
            !access.clusters.isEmpty
        {
            output += "\n\nReach the clusters:\n" + TerminalText.visible(AccessCommand.lines(access.clusters, blueprint: file).joined(separator: "\n"))
        }
        Output.result(output)
    }

    func text(_ report: StatusReport) -> String {
        var lines = ["Deployment \(report.deployment): state \(report.stateDirectory), serial \(report.serial)"]
        if let plane = report.plane {
            lines.append("plane: certificate \(plane.fingerprint), leader \(plane.leader ?? "none elected")")
            if let operation = plane.operation { lines.append("operation: \(operation)") }
        }
        if let lock = report.lock {
            lines.append("lock: held by pid \(lock.pid) on \(lock.host) (\(lock.command)) since \(lock.since); id \(lock.id)")
        } else {
            lines.append("lock: free")
        }
        if let run = report.lastRun {
            lines.append("last run: #\(run.id) \(run.command) \(run.status), started \(run.startedAt)\(run.summary.map { ": \($0)" } ?? "")")
            lines.append(contentsOf: run.failures.map { "  failed: \($0)" })
        } else {
            lines.append("last run: none")
        }
        let groups = Dictionary(grouping: report.machines, by: \.group)
        for group in groups.keys.sorted() {
            let machines = groups[group] ?? []
            lines.append("")
            lines.append("\(group == "management" ? "management plane" : "cluster \(group)") (\(machines.first?.kind ?? ""))")
            for role in Set(machines.map(\.role)).sorted() {
                let members = machines.filter { $0.role == role }
                var line = "  \(role): \(members.count) machine\(members.count == 1 ? "" : "s")"
                if let scaled = report.scaled.first(where: { $0.group == group && $0.role == role }) {
                    line += " (scaled to \(scaled.count) by photon scale; the blueprint said \(scaled.baseCount))"
                }
                lines.append(line)
                for machine in members {
                    lines.append(
                        "    \(machine.name)  \(machine.address)  \(machine.lifecycle)\(machine.running == false ? " (stopped: the next apply starts it)" : machine.sshAnswers == false ? " (sshd does not answer: the next apply starts it again)" : "")"
                    )
                }
            }
        }
        if report.machines.isEmpty { lines.append("no machines recorded") }
        if !report.expiringCertificates.isEmpty {
            lines.append("")
            lines.append("certificates expiring within 30 days (the next 'photon apply' renews them):")
            for certificate in report.expiringCertificates {
                let days = Int(certificate.notAfter.timeIntervalSinceNow / 86400)
                lines.append("  \(certificate.name)  \(days < 0 ? "expired" : "in \(days) day\(days == 1 ? "" : "s")") (\(certificate.notAfter))")
            }
        }
        if let drift = report.drift {
            lines.append("")
            if drift.create + drift.update + drift.delete == 0 {
                lines.append("drift: none; the machines match the blueprint")
            } else {
                lines.append("drift: \(drift.create) to create, \(drift.update) to change, \(drift.delete) to delete (photon plan -f shows what)")
            }
        }
        // Everything here was recorded from blueprints, machines or the plane: shown, never obeyed.
        return TerminalText.visible(lines.joined(separator: "\n"))
    }
}

struct UnlockCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "unlock",
        abstract: "Release a deployment's lock left by a process that cannot release it (on another host, or gone).",
        discussion: "The id is printed by the command that found the lock held, and by 'photon status'."
    )

    @Option(help: ArgumentHelp("The lock id to release (required: forcing is deliberate).", valueName: "id"))
    var force: String

    @Option(name: [.short, .customLong("file")], help: ArgumentHelp("The deployment's blueprint.", valueName: "file"))
    var file: String?

    @OptionGroup var kinds: TemplatesOption
    @OptionGroup var state: StateOptions

    func validate() throws {
        if file == nil, state.directory == nil { throw ValidationError("give -f BLUEPRINT or --state DIR") }
    }

    func run() async throws {
        var deployment = URL(fileURLWithPath: state.directory ?? ".").lastPathComponent
        if let file { deployment = try BlueprintLoader().load(path: file).name.value }
        let store = try await state.open(deployment: deployment).store
        try await store.forceUnlock(id: force)
        Output.error("Released lock \(force) of \(deployment).")
    }
}
