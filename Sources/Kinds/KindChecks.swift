import PhotonCore

/// Checks that need the whole kind: names in templates exist, `via` names a role, captures are produced
/// before they are used, and partials exist.
struct KindChecks {
    let kind: Kind
    var diagnostics = DiagnosticCollector()

    init(kind: Kind) { self.kind = kind }

    mutating func run() -> [Diagnostic] {
        checkCertificates()
        var seenRoles = Set<String>()
        for role in kind.roles {
            if let problem = Hostname.problem(withLabel: role.name) {
                diagnostics.error("role name '\(role.name)' is not a valid host name part: \(problem)", at: role.location)
            }
            if !seenRoles.insert(role.name).inserted {
                diagnostics.error("role '\(role.name)' is declared twice", at: role.location)
            }
        }
        let captures = Set(
            kind.roles.flatMap { role in
                role.steps.values.flatMap { $0 }.compactMap { step -> String? in
                    if case .capture(let name, _, _) = step.action { return name }
                    return nil
                }
            })
        for (roleIndex, role) in kind.roles.enumerated() {
            for phase in Phase.allCases {
                for step in role.steps(in: phase) {
                    check(step, captures: captures)
                    // While a role comes up, only its own and earlier roles' machines are there to run steps on.
                    if Phase.bringUp.contains(phase), let via = step.via, let viaIndex = kind.roles.firstIndex(where: { $0.name == via }), viaIndex > roleIndex
                    {
                        diagnostics.error(
                            "role \(role.name) runs a \(phase.rawValue) step via \(via), which comes up after it", at: step.location,
                            help: "run it via \(role.name) or an earlier role, or move \(via) before \(role.name) in 'roles'")
                    }
                }
            }
        }
        checkValuePlacement()
        for template in kind.templates.values.sorted(by: { $0.name < $1.name }) {
            check(template, captures: captures)
            for (name, location) in template.partialNames where kind.templates[name] == nil {
                diagnostics.error(
                    "partial '\(name)' does not exist", at: location,
                    help: Suggestions.closest(to: name, among: kind.templates.keys).map { "did you mean '\($0)'?" }
                        ?? "create \(name).mustache beside kind.yaml")
            }
        }
        return diagnostics.diagnostics
    }

    mutating func check(_ step: Step, captures: Set<String>) {
        if let via = step.via, kind.role(via) == nil {
            diagnostics.error(
                "'via: \(via)' names no role of kind \(kind.name)", at: step.location,
                help: Suggestions.help(for: via, among: kind.roles.map(\.name), noun: "role"))
        }
        if let when = step.when { checkPath(when, at: step.location, captures: captures) }
        var templates: [Template] = []
        switch step.action {
        case .upload(_, let path, _, _): templates = [path]
        case .artifact(_, let path, _), .binary(_, let path, _): templates = [path]
        case .run(let command), .waitCommand(let command): templates = command
        case .capture(_, let command, _): templates = command
        case .waitPort(let host, let port): templates = [port] + (host.map { [$0] } ?? [])
        case .service(_, _, let exec): templates = exec ?? []
        }
        templates += step.unless ?? []
        if let creates = step.creates { templates.append(creates) }
        for template in templates { check(template, captures: captures) }
    }

    mutating func check(_ template: Template, captures: Set<String>) {
        for (path, location) in template.topLevelReferences { checkPath(path, at: location, captures: captures) }
    }

    /// Names outside sections must start with a namespace and, for namespaces whose members the kind
    /// declares, name a member that exists.
    mutating func checkPath(_ path: [String], at location: SourceLocation, captures: Set<String>) {
        guard let root = path.first else { return }
        guard TemplateContextSchema.namespaces[root] != nil else {
            diagnostics.error(
                "'\(path.joined(separator: "."))' does not exist", at: location,
                help: Suggestions.help(for: root, among: TemplateContextSchema.namespaces.keys.sorted(), noun: "name"))
            return
        }
        guard path.count > 1 else { return }
        let member = path[1]
        func unknown(_ candidates: [String], _ what: String) {
            diagnostics.error(
                "'\(path.joined(separator: "."))' does not exist: \(what) has no '\(member)'", at: location,
                help: Suggestions.help(for: member, among: candidates.sorted(), noun: "name"))
        }
        switch root {
        case "settings":
            if kind.setting(member) == nil { unknown(kind.settings.map(\.name), "kind \(kind.name) declares no setting named '\(member)', so settings") }
        case "services":
            if !kind.services.contains(where: { $0.name == member }) { unknown(kind.services.map(\.name), "services") }
        case "captured":
            if !captures.contains(member) { unknown(Array(captures), "no step captures it, so captured") }
        case "roles":
            guard let _ = kind.role(member) else {
                unknown(kind.roles.map(\.name), "roles")
                return
            }
            if path.count > 2, !TemplateContextSchema.roleFields.contains(path[2]) {
                diagnostics.error(
                    "'\(path.joined(separator: "."))' does not exist: a role has no '\(path[2])'", at: location,
                    help: Suggestions.help(for: path[2], among: TemplateContextSchema.roleFields.sorted(), noun: "name"))
            }
        case "machine":
            if !TemplateContextSchema.machineFields.contains(member) { unknown(Array(TemplateContextSchema.machineFields), "machine") }
            if member == "certificates" { checkCertificatePath(path, at: location, machine: true) }
        case "certificates":
            checkCertificatePath(path, at: location, machine: false)
        case "role":
            if !TemplateContextSchema.roleFields.contains(member) { unknown(Array(TemplateContextSchema.roleFields), "role") }
        case "deployment":
            if !TemplateContextSchema.deploymentFields.contains(member) { unknown(Array(TemplateContextSchema.deploymentFields), "deployment") }
        case "cluster":
            if !TemplateContextSchema.clusterFields.contains(member) { unknown(Array(TemplateContextSchema.clusterFields), "cluster") }
        case "photon":
            if !TemplateContextSchema.photonFields.contains(member) { unknown(Array(TemplateContextSchema.photonFields), "photon") }
        default:
            break
        }
    }
}
