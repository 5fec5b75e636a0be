import Blueprints
import Foundation
import Kinds
import PhotonCore

/// A kind step rendered for one machine.
struct RenderedStep: Sendable {
    var phase: Phase
    /// Position of the step in its phase's list, for stable action ids.
    var ordinal: Int
    var step: Step
    var type: ActionType
    /// The desired machine (index) the command runs on, when the step has `via`.
    var runsOn: Int?
    var detail: ActionDetail
    var summary: String
    var unless: [RenderedText]?
    var creates: RenderedText?
    /// `captured.<name>` values the step uses.
    var capturedReferences: [String]

    /// Depends on a value that is only known after apply.
    var isUnknown: Bool {
        switch detail {
        case .upload(let file): return file.sha256 == nil
        case .command(let argv), .waitCommand(let argv), .capture(_, let argv, _): return argv.contains(where: \.isUnknown)
        default: return false
        }
    }
}

struct MachineRender: Sendable {
    var steps: [RenderedStep]
}

/// Static facts about a kind step, computed once per plan rather than once per machine.
struct StepFacts: Sendable {
    var capturedReferences: [String]

    init(_ step: Step, kind: Kind) {
        var templates: [Template] = step.unless ?? []
        if let creates = step.creates { templates.append(creates) }
        switch step.action {
        case .upload(let template, let path, _, _):
            templates.append(path)
            if let body = kind.templates[template] { templates.append(body) }
        case .artifact(_, let path, _): templates.append(path)
        case .run(let argv), .waitCommand(let argv), .capture(_, let argv, _): templates += argv
        case .waitPort(let host, let port): templates += [port] + (host.map { [$0] } ?? [])
        case .service(_, _, let exec): templates += exec ?? []
        }
        var names = Set<String>()
        for template in templates {
            for path in template.allReferences where path.count >= 2 && path[0] == "captured" { names.insert(path[1]) }
        }
        capturedReferences = names.sorted()
    }
}

extension DesiredState {
    /// Renders every machine's bring-up steps, on all cores.
    func render(artifacts: [String: Artifact]) throws(DiagnosticsError) -> [MachineRender] {
        let facts: [[[Phase: [StepFacts]]]] = groups.map { group in
            group.resolved.roles.map { role in
                role.declaration.steps.mapValues { steps in steps.map { StepFacts($0, kind: group.resolved.kind) } }
            }
        }
        let chunkSize = 256
        let chunkCount = (machines.count + chunkSize - 1) / chunkSize
        var results = [MachineRender](repeating: MachineRender(steps: []), count: machines.count)
        var failures = [DiagnosticsError?](repeating: nil, count: chunkCount)
        results.withUnsafeMutableBufferPointer { resultBuffer in
            failures.withUnsafeMutableBufferPointer { failureBuffer in
                nonisolated(unsafe) let output = resultBuffer
                nonisolated(unsafe) let errors = failureBuffer
                DispatchQueue.concurrentPerform(iterations: chunkCount) { chunk in
                    let range = (chunk * chunkSize)..<min(machines.count, (chunk + 1) * chunkSize)
                    do throws(DiagnosticsError) {
                        for position in range {
                            output[position] = try renderMachine(position, phases: Phase.bringUp, facts: facts, artifacts: artifacts)
                        }
                    } catch {
                        errors[chunk] = error
                    }
                }
            }
        }
        let diagnostics = failures.compactMap { $0 }.flatMap(\.diagnostics)
        if !diagnostics.isEmpty { throw DiagnosticsError(diagnostics) }
        return results
    }

    func renderMachine(_ position: Int, phases: [Phase], facts: [[[Phase: [StepFacts]]]], artifacts: [String: Artifact]) throws(DiagnosticsError) -> MachineRender {
        let machine = machines[position]
        let group = groups[machine.group]
        let role = group.resolved.roles[machine.role]
        let scope: TemplateValue = .object(TemplateObject(["machine": machine.value, "role": group.roleValues[machine.role]]))
        var renderer = StepRenderer(state: self, group: group, contexts: [group.context, scope], subject: machine.name,
                                    subjectAddress: machine.address, artifacts: artifacts)
        var steps: [RenderedStep] = []
        for phase in phases {
            for (ordinal, step) in role.declaration.steps(in: phase).enumerated() {
                switch step.on {
                case .all: break
                case .first where machine.index != 1: continue
                case .others where machine.index == 1: continue
                default: break
                }
                if let rendered = try renderer.render(step, phase: phase, ordinal: ordinal, facts: facts[machine.group][machine.role][phase]?[ordinal]) {
                    steps.append(rendered)
                }
            }
        }
        return MachineRender(steps: steps)
    }
}

/// Renders the steps of one machine (the subject) against a context stack.
struct StepRenderer {
    let state: DesiredState
    let group: DesiredGroup
    let contexts: [TemplateValue]
    let subject: String
    let subjectAddress: String?
    let artifacts: [String: Artifact]
    /// Machines a `via` step may not run on (machines being removed).
    var excluded: Set<String> = []

    init(state: DesiredState, group: DesiredGroup, contexts: [TemplateValue], subject: String, subjectAddress: String?, artifacts: [String: Artifact]) {
        self.state = state
        self.group = group
        self.contexts = contexts
        self.subject = subject
        self.subjectAddress = subjectAddress
        self.artifacts = artifacts
    }

    func text(_ template: Template) throws(DiagnosticsError) -> RenderedText {
        try template.render(contexts, partials: group.resolved.kind.partials)
    }

    func argv(_ templates: [Template]) throws(DiagnosticsError) -> [RenderedText] {
        var result: [RenderedText] = []
        result.reserveCapacity(templates.count)
        for template in templates { result.append(try text(template)) }
        return result
    }

    /// The rendered step, or nil when its `when` is false.
    mutating func render(_ step: Step, phase: Phase, ordinal: Int, facts: StepFacts?) throws(DiagnosticsError) -> RenderedStep? {
        if let when = step.when {
            let value = try TemplateValue.lookup(when, in: contexts, at: step.location)
            switch value {
            case .bool(let flag): if !flag { return nil }
            case .text(let text): if text.isEmpty || text == "false" { return nil }
            case .unknown: break
            default:
                throw DiagnosticsError(Diagnostic("'when: \(when.joined(separator: "."))' must name a true/false value", at: step.location))
            }
        }
        var runsOn: Int?
        if let via = step.via {
            guard let roleIndex = group.resolved.roles.firstIndex(where: { $0.name == via }),
                  let target = group.roleMachines[roleIndex].first(where: { !excluded.contains(state.machines[$0].name) }) else {
                throw DiagnosticsError(Diagnostic("this step runs via the cluster's \(via), but cluster '\(group.resolved.name)' has none", at: step.location,
                                                  help: "give the cluster at least one of \(via)"))
            }
            if state.machines[target].name != subject { runsOn = target }
        }
        let where_ = runsOn.map { "on \(state.machines[$0].name): " } ?? ""
        let type: ActionType
        let detail: ActionDetail
        let summary: String
        switch step.action {
        case .upload(let templateName, let pathTemplate, let mode, let owner):
            let path = try text(pathTemplate).text
            guard let template = group.resolved.kind.templates[templateName] else {
                throw DiagnosticsError(Diagnostic("template '\(templateName)' does not exist", at: step.location))
            }
            let content = try text(template)
            let digest = content.isUnknown ? nil : ContentDigest.sha256(content.text)
            type = .upload
            detail = .upload(FileChange(path: path, mode: mode, owner: owner, source: templateName, content: content, sha256: digest,
                                        previousSHA256: nil, previousContent: nil, isArtifact: false))
            summary = "upload \(path)"
        case .artifact(let name, let pathTemplate, let mode):
            let path = try text(pathTemplate).text
            let artifact = artifacts[name]
            type = .upload
            detail = .upload(FileChange(path: path, mode: mode, owner: nil, source: name, content: RenderedText(text: artifact?.path ?? "", isUnknown: artifact == nil),
                                        sha256: artifact?.sha256, previousSHA256: nil, previousContent: nil, isArtifact: true))
            summary = "upload \(path)"
        case .run(let templates):
            let command = try argv(templates)
            type = .run
            detail = .command(argv: command)
            summary = "run \(where_)\(RenderedText.displayCommand(command))"
        case .capture(let name, let templates, let secret):
            let command = try argv(templates)
            type = .capture
            detail = .capture(name: name, argv: command, secret: secret)
            summary = "capture \(name)\(secret ? " (sensitive)" : "") \(where_.isEmpty ? "from" : where_.dropLast(2) + " from"): \(RenderedText.displayCommand(command))"
        case .waitPort(let hostTemplate, let portTemplate):
            let host = try hostTemplate.map(text)?.display ?? subjectAddress ?? RenderedText.unknownPlaceholder
            let port = try text(portTemplate).display
            type = .wait
            detail = .waitPort(host: host, port: port)
            summary = "wait for \(host):\(port)"
        case .waitCommand(let templates):
            let command = try argv(templates)
            type = .wait
            detail = .waitCommand(argv: command)
            summary = "wait \(where_)until \(RenderedText.displayCommand(command)) succeeds"
        case .service(let name, let action, let exec):
            let command = try exec.map(argv)
            type = .service
            detail = .service(name: name, action: action, script: ServiceScript.script(name: name, action: action, exec: command?.map(\.text)))
            summary = "service \(name) \(action.rawValue)"
        }
        let unless = try step.unless.map(argv)
        let creates = try step.creates.map(text)
        return RenderedStep(phase: phase, ordinal: ordinal, step: step, type: type, runsOn: runsOn, detail: detail,
                            summary: step.name.map { "\($0): \(summary)" } ?? summary,
                            unless: unless, creates: creates, capturedReferences: facts?.capturedReferences ?? [])
    }
}
