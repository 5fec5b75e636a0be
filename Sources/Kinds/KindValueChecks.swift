import PhotonCore

/// Where a kind lets values go, checked when it loads: secrets never on a command line or in a path,
/// constant paths absolute and normalised, typed defaults of the right shape.
extension KindChecks {
    mutating func checkValuePlacement() {
        for role in kind.roles {
            for phase in Phase.allCases {
                for step in role.steps(in: phase) { checkSecrecy(step, role: role.name, phase: phase) }
            }
        }
        for setting in kind.settings {
            guard case .scalar(let text)? = setting.defaultValue, let problem = setting.type.shapeProblem(text) else { continue }
            diagnostics.error(
                "the default of setting '\(setting.name)' '\(text)' \(problem)", at: setting.location,
                help: "type \(setting.type.rawValue) expects \(setting.type.expectation)")
        }
    }

    static let shells: Set<String> = ["sh", "bash", "dash", "/bin/sh", "/bin/bash", "/bin/dash", "/usr/bin/sh", "/usr/bin/bash"]

    /// `[sh, -c, SCRIPT, …]`: the script is parsed by a shell, so no value may be written into it; values
    /// follow the script as positional parameters (`"$1"`), which the shell never parses.
    mutating func checkShellScript(_ command: [Template], role: String, phase: Phase) {
        guard command.count >= 3, let shell = command[0].constantText, Self.shells.contains(shell),
            let flag = command[1].constantText, flag.hasPrefix("-"), !flag.hasPrefix("--"), flag.contains("c")
        else { return }
        for (path, location) in insertedNames(command[2].nodes, visited: []) {
            diagnostics.error(
                "a \(phase.rawValue) step of role \(role) writes '\(path.isEmpty ? "." : path.joined(separator: "."))' into a shell script, where the shell would parse it",
                at: location, help: "pass the value after the script, as a positional parameter: [sh, -c, 'use \"$1\"', sh, \"{{…}}\"]")
        }
    }

    /// The names a template writes out (`{{name}}`), through sections and the partials it includes, each
    /// at its tag (a partial's at the tag that includes it).
    func insertedNames(_ nodes: [TemplateNode], visited: Set<String>, at including: SourceLocation? = nil) -> [(path: [String], location: SourceLocation)] {
        var found: [(path: [String], location: SourceLocation)] = []
        for node in nodes {
            switch node {
            case .variable(let path, let location): found.append((path, including ?? location))
            case .section(_, _, let children, _): found += insertedNames(children, visited: visited, at: including)
            case .partial(let name, _, let location):
                if !visited.contains(name), let partial = kind.partials.templates[name] {
                    found += insertedNames(partial.nodes, visited: visited.union([name]), at: including ?? location)
                }
            case .text: break
            }
        }
        return found
    }

    /// Names whose values are secret: `secrets.*`, settings of type secret, captures marked `secret: true`,
    /// a machine's private keys (`machine.certificates.<name>.key`).
    func isSecret(_ path: [String]) -> Bool {
        guard let root = path.first else { return false }
        switch root {
        case "secrets": return true
        case "machine":
            return path.count >= 4 && path[1] == "certificates" && path[3] == "key" && kind.certificates.contains { $0.name == path[2] && !$0.isAuthority }
        case "settings": return path.count > 1 && kind.setting(path[1])?.type == .secret
        case "captured":
            guard path.count > 1 else { return false }
            return kind.roles.contains { role in
                role.steps.values.joined().contains { step in
                    if case .capture(let name, _, let secret) = step.action { return secret && name == path[1] }
                    return false
                }
            }
        default: return false
        }
    }

    /// A process's arguments are readable by every user of its machine (`ps`), and paths are printed in
    /// plans and logs: a secret goes to a machine in a file, never there.
    mutating func checkSecrecy(_ step: Step, role: String, phase: Phase) {
        var commands: [[Template]] = []
        var paths: [Template] = []
        switch step.action {
        case .upload(_, let path, _, _), .artifact(_, let path, _), .binary(_, let path, _): paths.append(path)
        case .run(let argv), .waitCommand(let argv), .capture(_, let argv, _): commands.append(argv)
        case .waitPort(let host, let port): commands.append([port] + (host.map { [$0] } ?? []))
        case .service(_, _, let exec): if let exec { commands.append(exec) }
        }
        if let unless = step.unless { commands.append(unless) }
        if let creates = step.creates { paths.append(creates) }
        for command in commands { checkShellScript(command, role: role, phase: phase) }
        for template in commands.joined() {
            if let secret = template.allReferences(partials: kind.partials).first(where: isSecret) {
                diagnostics.error(
                    "a \(phase.rawValue) step of role \(role) puts the secret '\(secret.joined(separator: "."))' on a command line, where every process on the machine can read it (ps)",
                    at: template.origin, help: "upload it in a file with mode 0600 and give the command the file's path")
            }
        }
        for template in paths {
            if let secret = template.allReferences(partials: kind.partials).first(where: isSecret) {
                diagnostics.error(
                    "a \(phase.rawValue) step of role \(role) puts the secret '\(secret.joined(separator: "."))' in a path, and paths are shown in plans and logs",
                    at: template.origin, help: "keep secrets in files' contents")
            } else if let constant = template.constantText, let problem = ValueShapes.pathProblem(constant) {
                diagnostics.error(
                    "the path '\(constant)' \(problem)", at: template.origin, help: "write an absolute path without '.', '..', '//' or a trailing '/'")
            }
        }
    }
}

extension SettingType {
    /// Why `text` does not fit one of the narrower types (path, image, size, domain, hostname), or nil.
    public func shapeProblem(_ text: String) -> String? {
        switch self {
        case .path: return ValueShapes.pathProblem(text)
        case .image: return ValueShapes.imageProblem(text)
        case .size: return ValueShapes.sizeProblem(text)
        case .domain: return ValueShapes.domainProblem(text)
        case .hostname: return ValueShapes.hostnameProblem(text)
        default: return nil
        }
    }
}
