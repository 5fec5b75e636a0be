import Foundation
import Kinds
import PhotonCore

/// A plan's JSON form: what `photon plan --format json` prints and `-o` saves, and what `photon apply
/// PLAN.json` reads back (with the same type). File contents and secret values never appear in it.
public struct PlanDocument: Codable, Sendable {
    public var formatVersion: Int
    public var photonVersion: String
    public var deployment: String
    public var blueprint: BlueprintInfo
    public var stateSerial: Int
    public var driver: String
    public var summary: PlanSummary
    public var groups: [Group]
    public var machines: [Machine]
    public var actions: [Action]

    public struct BlueprintInfo: Codable, Sendable {
        public var file: String
        public var digest: String
    }
    public struct Group: Codable, Sendable {
        public var name: String, kind: String, management: Bool, settings: [String: String], roles: [PlanRole]
    }
    public struct FlavorInfo: Codable, Sendable {
        public var name: String
        public var cpu: Double
        public var memory: String
        public var disk: String
    }
    public struct Machine: Codable, Sendable {
        public var name: String, group: String, role: String, index: Int, address: String?, flavor: FlavorInfo, change: MachineChange, needs: [String],
            actions: [String]
    }
    public struct FileInfo: Codable, Sendable {
        public var path: String, mode: String, owner: String?, source: String, sha256: String?, previousSha256: String?, knownAfterApply: Bool, sensitive: Bool,
            artifact: Bool
    }
    public struct CaptureInfo: Codable, Sendable {
        public var name: String
        public var sensitive: Bool
    }
    public struct WaitInfo: Codable, Sendable {
        public var host: String?
        public var port: String?
        public var command: String?
    }
    public struct ServiceInfo: Codable, Sendable {
        public var name: String
        public var action: ServiceAction
    }
    public struct RetryInfo: Codable, Sendable {
        public var attempts: Int
        public var delay: String
    }
    public struct Action: Codable, Sendable {
        public var id: String
        public var type: ActionType
        public var machine: String?
        public var runsOn: String?
        public var phase: Phase?
        public var change: MachineChange
        public var summary: String
        public var dependsOn: [String]
        public var file: FileInfo?
        public var command: String?
        public var capture: CaptureInfo?
        public var wait: WaitInfo?
        public var service: ServiceInfo?
        public var unless: String?
        public var creates: String?
        public var timeout: String?
        public var retry: RetryInfo?
        public var knownAfterApply: Bool
    }

    public init(_ plan: Plan, photonVersion: String) {
        let ids = plan.actions.map(\.id)
        let actions = plan.actions.map { action -> Action in
            var result = Action(
                id: action.id, type: action.type, machine: action.machine.isEmpty ? nil : action.machine, runsOn: action.runsOn,
                phase: action.phase, change: action.change, summary: action.summary, dependsOn: action.dependsOn.map { ids[$0] },
                unless: action.unless.map(RenderedText.displayCommand), creates: action.creates?.display, timeout: action.timeout?.description,
                retry: action.retry.map { RetryInfo(attempts: $0.attempts, delay: $0.delay.description) }, knownAfterApply: false)
            switch action.detail {
            case .upload(let file):
                result.file = FileInfo(
                    path: file.path, mode: String(format: "%04o", file.mode), owner: file.owner, source: file.source,
                    sha256: file.sha256, previousSha256: file.previousSHA256, knownAfterApply: file.sha256 == nil,
                    sensitive: file.content.isSensitive, artifact: file.isArtifact)
                result.knownAfterApply = file.sha256 == nil
            case .command(let argv):
                result.command = RenderedText.displayCommand(argv)
                result.knownAfterApply = argv.contains(where: \.isUnknown)
            case .capture(let name, let argv, let secret):
                result.command = RenderedText.displayCommand(argv)
                result.capture = CaptureInfo(name: name, sensitive: secret)
                result.knownAfterApply = argv.contains(where: \.isUnknown)
            case .waitPort(let host, let port):
                result.wait = WaitInfo(host: host, port: port, command: nil)
            case .waitCommand(let argv):
                result.wait = WaitInfo(host: nil, port: nil, command: RenderedText.displayCommand(argv))
                result.knownAfterApply = argv.contains(where: \.isUnknown)
            case .service(let name, let serviceAction, _):
                result.service = ServiceInfo(name: name, action: serviceAction)
            case .createMachine, .deleteMachine, .gate:
                break
            }
            return result
        }
        let machines = plan.machines.map { machine in
            Machine(
                name: machine.name, group: machine.group, role: machine.role, index: machine.index, address: machine.address,
                flavor: FlavorInfo(
                    name: machine.flavor.name, cpu: Double(machine.flavor.milliCPU) / 1000,
                    memory: machine.flavor.memory.description, disk: machine.flavor.disk.description),
                change: machine.change, needs: machine.needs, actions: machine.actions.map { ids[$0] })
        }
        let groups = plan.groups.map { group in
            Group(
                name: group.name, kind: group.kind, management: group.isManagement,
                settings: Dictionary(group.settings.map { ($0.name, $0.value) }, uniquingKeysWith: { a, _ in a }), roles: group.roles)
        }
        self.formatVersion = Plan.formatVersion
        self.photonVersion = photonVersion
        deployment = plan.deployment
        blueprint = BlueprintInfo(file: plan.blueprintFile, digest: "sha256:" + plan.blueprintDigest)
        stateSerial = plan.stateSerial
        driver = plan.driver
        summary = plan.summary
        self.groups = groups
        self.machines = machines
        self.actions = actions
    }
}
