import Blueprints
import Foundation
import Kinds
import PhotonCore

/// A kind step rendered for one machine: the action (without its machine and change, which the
/// builder fills in) and what the builder needs to wire it.
struct RenderedStep: Sendable {
    var action: PlanAction
    /// The desired machine (index) the command runs on, when the step has `via`.
    var runsOn: Int?
    /// `captured.<name>` values the step uses.
    var capturedReferences: [String]
    /// For a service or command step: the templates or binaries whose change makes it run on an existing
    /// machine (nil: for a service, the uploads just before it; for a command, any change).
    var reads: [String]? = nil
    /// For an upload: the template or binary it puts on the machine (what `reads` names).
    var source: String? = nil

    var phase: Phase { action.phase ?? .create }
}

/// A machine's rendered steps after the diff against what was recorded: only what must run.
struct MachineRender: Sendable {
    var change: MachineChange
    var steps: [RenderedStep]
    /// The driver must make (or adopt) the machine first.
    var createsMachine: Bool
    /// The machine exists but was stopped (or its sshd died): create-machine starts it (or its sshd).
    var restarts = false
    /// The running machine's ports that did not answer (see ``RecordedMachine/unanswered``).
    var unanswered: [Int] = []
    /// For an unchanged machine: where its health steps wait for a port, asked again by apply.
    var healthPorts: [HealthPort] = []

    init(change: MachineChange, steps: [RenderedStep], createsMachine: Bool? = nil) {
        self.change = change
        self.steps = steps
        self.createsMachine = createsMachine ?? (change == .create)
    }

    /// Actions the machine contributes: its steps, plus create-machine.
    var actionCount: Int { steps.count + (createsMachine ? 1 : 0) }
}

/// Static facts about a kind step, computed once per plan rather than once per machine.
struct StepFacts: Sendable {
    var capturedReferences: [String]
    /// The step's options when no machine changes them (constant guards): shared by every action of the step.
    var sharedOptions: StepOptions?
    var optionsAreShared = false
    /// The command when none of its arguments has a tag.
    var constantArgv: [RenderedText]?
    /// For an upload: the format its template is written in.
    var uploadFormat: TemplateFormat?

    init(_ step: Step, kind: Kind) {
        let unlessConstant = step.unless?.allSatisfy { $0.constantText != nil } ?? true
        let createsConstant = step.creates.map { $0.constantText != nil } ?? true
        if unlessConstant, createsConstant {
            optionsAreShared = true
            sharedOptions = StepOptions(
                label: step.name, unless: step.unless?.map { RenderedText(text: $0.constantText ?? "") },
                creates: step.creates.map { RenderedText(text: $0.constantText ?? "") }, timeout: step.timeout, retry: step.retry)
        }
        switch step.action {
        case .run(let argv), .waitCommand(let argv), .capture(_, let argv, _):
            if argv.allSatisfy({ $0.constantText != nil }) { constantArgv = argv.map { RenderedText(text: $0.constantText ?? "") } }
        default:
            break
        }
        var templates: [Template] = step.unless ?? []
        if let creates = step.creates { templates.append(creates) }
        switch step.action {
        case .upload(let template, let path, _, _):
            templates.append(path)
            if let body = kind.templates[template] { templates.append(body) }
            uploadFormat = kind.format(ofTemplate: template)
        case .artifact(_, let path, _), .binary(_, let path, _): templates.append(path)
        case .run(let argv), .waitCommand(let argv), .capture(_, let argv, _): templates += argv
        case .waitPort(let host, let port): templates += [port] + (host.map { [$0] } ?? [])
        case .service(_, _, let exec): templates += exec ?? []
        }
        var names = Set<String>()
        for template in templates {
            for path in template.allReferences(partials: kind.partials) where path.count >= 2 && path[0] == "captured" { names.insert(path[1]) }
        }
        capturedReferences = names.sorted()
    }
}

extension DesiredState {
    /// The facts of every step of every role, by group, role and phase (once per plan, not per machine).
    var stepFacts: [[[Phase: [StepFacts]]]] {
        groups.map { group in
            group.resolved.roles.map { role in
                role.declaration.steps.mapValues { steps in steps.map { StepFacts($0, kind: group.resolved.kind) } }
            }
        }
    }

    /// Renders every machine's bring-up steps, on all cores.
    func render(artifacts: [String: Artifact], recorded: [String: RecordedMachine]) throws(DiagnosticsError) -> [MachineRender] {
        let facts = stepFacts
        let chunkSize = 256
        let chunkCount = (machines.count + chunkSize - 1) / chunkSize
        var results = [MachineRender](repeating: MachineRender(change: .unchanged, steps: []), count: machines.count)
        var failures = [DiagnosticsError?](repeating: nil, count: chunkCount)
        // A template that fails fails for every machine alike (and one over its render budget costs the whole
        // budget each time): the first failure stops the other chunks.
        let failed = Locked(false)
        results.withUnsafeMutableBufferPointer { resultBuffer in
            failures.withUnsafeMutableBufferPointer { failureBuffer in
                nonisolated(unsafe) let output = resultBuffer
                nonisolated(unsafe) let errors = failureBuffer
                DispatchQueue.concurrentPerform(iterations: chunkCount) { chunk in
                    let range = (chunk * chunkSize)..<min(machines.count, (chunk + 1) * chunkSize)
                    do throws(DiagnosticsError) {
                        for position in range {
                            if position % 16 == 0, failed.withLock({ $0 }) { return }
                            let rendered = try renderMachine(position, phases: Phase.bringUp, facts: facts, artifacts: artifacts)
                            output[position] = DesiredState.diff(rendered, against: recorded[machines[position].name])
                        }
                    } catch {
                        errors[chunk] = error
                        failed.withLock { $0 = true }
                    }
                }
            }
        }
        let diagnostics = failures.compactMap { $0 }.flatMap(\.diagnostics)
        if !diagnostics.isEmpty { throw DiagnosticsError(diagnostics) }
        return results
    }

    func renderMachine(
        _ position: Int, phases: [Phase], facts: [[[Phase: [StepFacts]]]], artifacts: [String: Artifact]
    ) throws(DiagnosticsError) -> MachineRender {
        let machine = machines[position]
        let group = groups[machine.group]
        let role = group.resolved.roles[machine.role]
        let scope: TemplateValue = .object(TemplateObject(["machine": machine.value, "role": group.roleValues[machine.role]]))
        var renderer = StepRenderer(
            state: self, group: group, contexts: [group.context, scope], subject: machine.name,
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
        return MachineRender(change: .create, steps: steps)
    }

    /// What must run on a machine given what was recorded for it: everything for a new machine; for an
    /// existing one, the configuration files that changed and the configure and health steps that read them.
    // One function: which steps a changed file reaches is decided from all of the machine's steps together.
    static func diff(_ render: MachineRender, against record: RecordedMachine?) -> MachineRender {
        guard let record else { return render }
        switch record.lifecycle {
        case .deleting:
            // The driver may or may not have removed it: create-machine finds it by name or makes it.
            return render
        case .creating, .bringingUp:
            // An interrupted bring-up (or a new machine whose creation was interrupted: it has no completed
            // step): the steps that did not finish, starting with the one that was running, after asking the
            // driver for the machine again (it finds it by name, or makes it, and starts or repairs it).
            let remaining = render.steps.filter { !record.completedActions.contains($0.action.id) }
            return MachineRender(change: .create, steps: remaining, createsMachine: true)
        case .ready:
            if record.stopped || !record.unanswered.isEmpty {
                // Started again (or reached again), its services must be too: configure (uploads included, they are cheap) and health.
                var steps = render.steps.filter { $0.phase == .configure || $0.phase == .health }
                for index in steps.indices { steps[index].action.change = .update }
                var restart = MachineRender(change: .update, steps: steps, createsMachine: true)
                restart.restarts = true
                restart.unanswered = record.stopped ? [] : record.unanswered
                return restart
            }
        }
        var changedFiles: [Int: ActionDetail] = [:]
        var changedSources: Set<String> = []
        for (offset, step) in render.steps.enumerated() where step.phase == .configure {
            guard case .upload(var file) = step.action.detail else { continue }
            let previous = record.files[file.path]
            file.previousSHA256 = previous?.sha256
            file.previousContent = previous?.content
            if file.sha256 == nil || previous == nil || previous?.sha256 != file.sha256 || previous?.mode != file.mode {
                changedFiles[offset] = .upload(file)
                changedSources.insert(step.source ?? file.source)
            }
        }
        guard !changedFiles.isEmpty else {
            var unchanged = MachineRender(change: .unchanged, steps: [])
            unchanged.healthPorts = render.steps.compactMap { step in
                guard step.phase == .health, case .waitPort(let host, let port) = step.action.detail, let number = Int(port) else { return nil }
                return HealthPort(host: host, port: number)
            }
            return unchanged
        }
        // A service restarts only when a file it reads changed: the templates it names in `reads`, or else
        // the uploads between the previous service step and it. A command with `reads` runs only then too.
        var steps: [RenderedStep] = []
        var uploadsSinceService: Set<String> = []
        for (offset, var step) in render.steps.enumerated() where step.phase == .configure || step.phase == .health {
            switch step.action.detail {
            case .upload(let file):
                if step.phase == .configure { uploadsSinceService.insert(step.source ?? file.source) }
                guard let detail = changedFiles[offset] else { continue }
                step.action.detail = detail
            case .service:
                let reads = step.reads.map(Set.init) ?? uploadsSinceService
                uploadsSinceService = []
                guard !reads.isDisjoint(with: changedSources) else { continue }
            case .command:
                if let reads = step.reads, reads.allSatisfy({ !changedSources.contains($0) }) { continue }
            default:
                break
            }
            step.action.change = .update
            steps.append(step)
        }
        return MachineRender(change: .update, steps: steps)
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

    /// Renders `template` for where its output lands: every value encoded for it, or refused at the
    /// blueprint line it came from.
    func text(_ template: Template, as target: RenderTarget, subject: RenderSubject) throws(DiagnosticsError) -> RenderedText {
        try template.render(
            contexts, partials: group.resolved.kind.partials,
            options: RenderOptions(target: target, origins: group.origins, subject: subject))
    }

    /// A command's arguments, each one rendered as an argument (never parsed by a shell).
    func argv(_ templates: [Template], of step: Step, phase: Phase) throws(DiagnosticsError) -> [RenderedText] {
        var result: [RenderedText] = []
        result.reserveCapacity(templates.count)
        for (index, template) in templates.enumerated() {
            result.append(
                try text(
                    template, as: .argument(isCommandName: index == 0),
                    subject: .argument(index + 1, step: step.name, phase: phase)))
        }
        return result
    }

    /// A step's command: shared when no argument has a tag, rendered otherwise.
    func command(_ templates: [Template], _ facts: StepFacts?, of step: Step, phase: Phase) throws(DiagnosticsError) -> [RenderedText] {
        if let constant = facts?.constantArgv { return constant }
        return try argv(templates, of: step, phase: phase)
    }

    /// The rendered step, or nil when its `when` is false.
    // One function: a step's `when`, `via`, command and files rendered against the same contexts in order.
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
                let target = group.roleMachines[roleIndex].first(where: { !excluded.contains(state.machines[$0].name) })
            else {
                throw DiagnosticsError(
                    Diagnostic(
                        "this step runs via the cluster's \(via), but cluster '\(group.resolved.name)' has none", at: step.location,
                        help: "give the cluster at least one of \(via)"))
            }
            if state.machines[target].name != subject { runsOn = target }
        }
        let type: ActionType
        let detail: ActionDetail
        switch step.action {
        case .upload(let templateName, let pathTemplate, let mode, let owner):
            let path = try text(pathTemplate, as: .path, subject: .uploadPath(template: templateName)).text
            guard let template = group.resolved.kind.templates[templateName] else {
                throw DiagnosticsError(Diagnostic("template '\(templateName)' does not exist", at: step.location))
            }
            let format = facts?.uploadFormat ?? group.resolved.kind.format(ofTemplate: templateName)
            let content = try text(template, as: .file(format), subject: .template(templateName, format))
            let digest = content.isUnknown ? nil : ContentDigest.sha256(content.text)
            type = .upload
            detail = .upload(
                FileChange(
                    path: path, mode: mode, owner: owner, source: templateName, content: content, sha256: digest,
                    previousSHA256: nil, previousContent: nil, isArtifact: false))
        case .artifact(let name, let pathTemplate, let mode):
            let path = try text(pathTemplate, as: .path, subject: .artifactPath(name)).text
            let artifact = artifacts[name]
            type = .upload
            detail = .upload(
                FileChange(
                    path: path, mode: mode, owner: nil, source: name, content: RenderedText(text: artifact?.path ?? "", isUnknown: artifact == nil),
                    sha256: artifact?.sha256, previousSHA256: nil, previousContent: nil, isArtifact: true))
        case .binary(let name, let pathTemplate, let mode):
            let path = try text(pathTemplate, as: .path, subject: .artifactPath(name)).text
            // A binary without a source or digest plans as unknown content; apply refuses to start without it.
            let artifact = artifacts[BinarySupply.artifactKey(group: group.resolved.name, binary: name)]
            type = .upload
            detail = .upload(
                FileChange(
                    path: path, mode: mode, owner: nil, source: artifact?.label ?? "\(name) (not available: see the warnings)",
                    content: RenderedText(text: artifact?.path ?? "", isUnknown: artifact == nil),
                    sha256: artifact?.sha256, previousSHA256: nil, previousContent: nil, isArtifact: true))
        case .run(let templates):
            type = .run
            detail = .command(argv: try command(templates, facts, of: step, phase: phase))
        case .capture(let name, let templates, let secret):
            type = .capture
            detail = .capture(name: name, argv: try command(templates, facts, of: step, phase: phase), secret: secret)
        case .waitPort(let hostTemplate, let portTemplate):
            var host = subjectAddress ?? RenderedText.unknownPlaceholder
            if let hostTemplate {
                host = try text(hostTemplate, as: .argument(isCommandName: false), subject: .waitHost(step: step.name, phase: phase)).display
            }
            type = .wait
            detail = .waitPort(
                host: host, port: try text(portTemplate, as: .argument(isCommandName: false), subject: .waitPort(step: step.name, phase: phase)).display)
        case .waitCommand(let templates):
            type = .wait
            detail = .waitCommand(argv: try command(templates, facts, of: step, phase: phase))
        case .service(let name, let action, let exec):
            var command: [RenderedText]?
            if let exec { command = try argv(exec, of: step, phase: phase) }
            type = .service
            detail = .service(name: name, action: action, exec: command)
        }
        let options: StepOptions?
        if let facts, facts.optionsAreShared {
            options = facts.sharedOptions
        } else {
            var unless: [RenderedText]?
            if let guardCommand = step.unless { unless = try argv(guardCommand, of: step, phase: phase) }
            var creates: RenderedText?
            if let path = step.creates { creates = try text(path, as: .path, subject: .createsPath(step: step.name, phase: phase)) }
            options = StepOptions(label: step.name, unless: unless, creates: creates, timeout: step.timeout, retry: step.retry)
        }
        let action = PlanAction(
            type: type, machine: subject, runsOn: runsOn.map { state.machines[$0].name }, phase: phase, ordinal: ordinal + 1,
            change: .create, detail: detail, options: options)
        var source: String?
        switch step.action {
        case .upload(let template, _, _, _): source = template
        case .binary(let name, _, _), .artifact(let name, _, _): source = name
        default: source = nil
        }
        return RenderedStep(action: action, runsOn: runsOn, capturedReferences: facts?.capturedReferences ?? [], reads: step.reads, source: source)
    }
}
