import Blueprints
import Foundation
import Kinds
import PhotonCore
import Planning
import Testing

/// The property behind "a value cannot change the structure of a file": every shipped template × every
/// value that reaches it (each setting, secret and captured value of its kind) × a corpus of hostile
/// strings. Each blueprint is either refused with an error at the value's own position, or plans files
/// that the real reader of their format parses (Python's json, PyYAML, tomllib, java.util.Properties,
/// dash and bash, haproxy -c, a unit-file reader, lines), with the same shape as with a benign value and
/// the hostile value read back exactly where the benign one was. Commands hold each value as one
/// argument (checked through sh), and paths stay absolute and normalised.
@Suite("Hostile values")
struct HostileValueTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let catalog: KindCatalog = {
        do { return try KindCatalog.load(directory: repository.appendingPathComponent("templates").path) } catch { fatalError("\(error)") }
    }()

    /// Quotes of every kind, brackets, line breaks, shell expansions, comments, separators, control
    /// characters, Unicode line separators, options, spaces at either end, escapes, 10 KB.
    static let corpus: [String] = [
        "\"", "'", "`", "\"\"\"", "'''", "}", "]", "{", "[", "\n", "\r\n", "\r", "a\nb: c", "a\n  b: c",
        "$(id)", "`id`", "${HOME}", "$HOME", "${X:-y}", "#", "# comment", " #x", ";", "a; echo injected", "&&", "|", ">", "<",
        "\u{0}", "x\u{0}y", "\u{1B}[31m", "\u{7}", "\u{8}", "\u{7F}", "\u{85}", "\u{9B}", "\u{2028}", "\u{2029}", "\u{FEFF}", "\u{FFFE}", "\t", "a\tb",
        String(repeating: "A", count: 10_000), String(repeating: "é\"", count: 2_500),
        "-rf", "--config=/etc/passwd", "-", " leading", "trailing ", " ", "",
        "%", "%n", "%%", "100%", "\\", "\\\"", "a\\", "\\n", "\\u0041", "\\x41", "\\\n",
        "key: value", "- item", "&anchor", "*alias", "!!python/object/apply:os.system ['id']", "? x", ": x", "true", "null", "1e3", "~",
        "=", "a=b", "a = b", ":", "@", "!", "é ü 中文 🚀", "[section]", "x\" y=\"z", "x' y='z",
        "10m\", \"max-file\": \"3\"}, \"hosts\": [\"tcp://0.0.0.0:2375\"], \"x\": {\"y\": \"",
        "cluster.local\nanonymous-auth: true", "x\"\n---\nkind: ClusterRoleBinding\n", "registry.k8s.io/pause:3.9\"\n[plugins.x]\ny = \"",
        "256m\"; touch /tmp/photon-injected; x=\"", "x\nserver.9=evil:2888:3888", "x\n\tbind *:2375",
    ]

    /// Values of the narrower types that pass their own checks yet are hostile to files.
    static let typedCorpus: [SettingType: [String]] = [
        .path: ["/a b/'q'/\"d\"/$(id)/`id`/#h;x%y\\z/é/-x", "/x\u{2028}y", "/opt/${HOME}/%%/=:,"],
        .size: ["9999999m"],
        .image: ["registry.example:5000/a__b/c-d.e:tag_1.0-x", "a@sha256:" + String(repeating: "0", count: 64)],
        .domain: ["a-b.c-d.e"],
        .hostname: ["10.1.2.3"],
    ]

    /// A benign value of each type, unique enough to find in any rendered file.
    static func marker(_ type: SettingType) -> String {
        switch type {
        case .path: return "/photon/benign"
        case .size: return "777m"
        case .image: return "benign.example/photon/benign:v7"
        case .domain, .hostname: return "photonbenign.example"
        case .int, .port: return "7777"
        case .version: return "7.7.7"
        case .duration: return "77s"
        case .cidr: return "10.77.0.0/16"
        case .bool: return "true"
        default: return "photonbenign"
        }
    }

    /// Where a value goes in: a setting (given in the blueprint), or a value a step captures.
    enum Slot: CustomStringConvertible {
        case setting(SettingDeclaration)
        case captured(name: String, secret: Bool)

        var description: String {
            switch self {
            case .setting(let declaration): return "settings.\(declaration.name) (\(declaration.type.rawValue))"
            case .captured(let name, _): return "captured.\(name)"
            }
        }
    }

    struct Rendering {
        var plan: Plan?
        var diagnostics: [Diagnostic] = []
        /// The line of the value in the blueprint (settings only).
        var valueLine: Int?
    }

    /// A blueprint of `kind` with small role counts (two or three machines, so `others` steps exist) and
    /// `setting` given as `value`.
    static func blueprint(_ kind: Kind, setting: SettingDeclaration?, value: String) -> (yaml: String, valueLine: Int?) {
        var lines = ["name: hv", "controlPlane: {driver: local, network: 10.213.0.0/24}"]
        var settingsIndent = "    "
        if kind.name == KindCatalog.managementKind {
            lines += ["management:", "  machines: 3"]
            settingsIndent = "  "
        } else {
            let counts = kind.roles.map { role -> String in
                let wanted = role.count.odd ? 3 : 2
                return "\(role.name): \(max(role.count.min, min(wanted, role.count.max)))"
            }
            lines += ["clusters:", "  - name: c", "    kind: \(kind.name)", "    roles: {\(counts.joined(separator: ", "))}"]
        }
        guard let setting else { return (lines.joined(separator: "\n") + "\n", nil) }
        lines.append(settingsIndent + "settings:")
        // The benign markers are plain scalars (an int or a bool must not be quoted); everything else is quoted.
        let plain = value == marker(setting.type) && setting.type != .string && setting.type != .list
        let written = setting.type == .secret ? "env:PHOTON_HOSTILE" : plain ? value : yamlQuoted(value)
        if setting.type == .list {
            lines += [settingsIndent + "  \(setting.name):", settingsIndent + "    - \(written)"]
        } else {
            lines.append(settingsIndent + "  \(setting.name): \(written)")
        }
        return (lines.joined(separator: "\n") + "\n", lines.count)
    }

    /// A YAML double-quoted scalar that loads as exactly `text`.
    static func yamlQuoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case " "..."~": out.unicodeScalars.append(scalar)
            default: out += String(format: "\\U%08X", scalar.value)
            }
        }
        return out + "\""
    }

    /// Every value a step captures, and every generated secret, known (benign) so that every file renders
    /// at plan time; the slot under test gets `value`.
    static func render(_ kind: Kind, _ slot: Slot, value: String) -> Rendering {
        var setting: SettingDeclaration?
        let group = kind.name == KindCatalog.managementKind ? KindCatalog.managementKind : "c"
        var captured: [String: RecordedValue] = [:]
        for role in kind.roles {
            for step in role.steps.values.joined() {
                if case .capture(let name, _, let secret) = step.action {
                    captured["\(group)/\(name)"] = RecordedValue(value: "capture\(name)", secret: secret)
                }
            }
        }
        let generated = Dictionary(
            kind.settings.filter { $0.type == .secret }.map { ("\(group)/settings.\($0.name)", String(repeating: "5e", count: 32)) },
            uniquingKeysWith: { a, _ in a })
        switch slot {
        case .setting(let declaration): setting = declaration
        case .captured(let name, let secret): captured["\(group)/\(name)"] = RecordedValue(value: value, secret: secret)
        }
        let recorded = RecordedState(captured: captured, generatedSecrets: generated)
        let (yaml, line) = blueprint(kind, setting: setting, value: value)
        let environment = ["PHOTON_HOSTILE": value]
        var rendering = Rendering(valueLine: line)
        do {
            let loaded = try BlueprintLoader(environment: LoadEnvironment(variables: environment, baseDirectory: "/tmp")).load(
                bytes: Array(yaml.utf8), file: "bp.yaml")
            let planner = Planner(catalog: catalog, secrets: SecretSource(environment: environment, baseDirectory: "/tmp"), photonVersion: "test")
                .pinningEveryBinary()
            rendering.plan = try planner.plan(loaded, recorded: recorded)
        } catch {
            rendering.diagnostics = error.diagnostics
        }
        return rendering
    }

    struct FileCase: Encodable {
        var id: String
        var format: String
        var benign: String
        var hostile: String
        var marker: String
        var value: String
        /// An empty value may choose another branch of a template ("not given"): it only has to parse.
        var exact: Bool
    }

    @Test(
        "every shipped template × every value that reaches it × hostile strings: refused where given, or read back exactly",
        arguments: ["swarm", "kubernetes", "mesos", "management"])
    func hostileValues(kindName: String) async throws {
        let kind = try #require(Self.catalog.kinds[kindName])
        var slots: [Slot] = kind.settings.map { .setting($0) }
        for role in kind.roles {
            for step in role.steps.values.joined() {
                if case .capture(let name, _, let secret) = step.action { slots.append(.captured(name: name, secret: secret)) }
            }
        }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("photon-hostile-\(kindName)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }

        var cases: [FileCase] = []
        var described: [String: String] = [:]
        var refused = 0, accepted = 0, commandsChecked: [(id: String, argv: [String])] = []
        for slot in slots {
            let type: SettingType
            if case .setting(let declaration) = slot { type = declaration.type } else { type = .string }
            let marker = Self.marker(type == .secret || type == .list ? .string : type)
            if case .setting(let declaration) = slot, !declaration.allowed.isEmpty {
                // Only the listed values pass: every hostile one must be refused at its position.
                for value in Self.corpus {
                    let hostile = Self.render(kind, slot, value: value)
                    #expect(
                        hostile.plan == nil && hostile.diagnostics.allSatisfy { $0.location?.line == hostile.valueLine },
                        "\(kindName) \(slot) = \(TerminalText.visible(String(value.prefix(80)))): not refused at its position")
                    refused += 1
                }
                continue
            }
            let benign = Self.render(kind, slot, value: marker)
            let benignPlan = try #require(benign.plan, "\(kindName) \(slot): the benign value \(marker) is refused: \(benign.diagnostics)")
            let benignActions = Dictionary(benignPlan.actions.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
            for (number, value) in (Self.corpus + (Self.typedCorpus[type] ?? [])).enumerated() {
                let shown = "\(kindName) \(slot) = \(TerminalText.visible(String(value.prefix(80))))\(value.count > 80 ? "…" : "")"
                let hostile = Self.render(kind, slot, value: value)
                guard let plan = hostile.plan else {
                    refused += 1
                    #expect(!hostile.diagnostics.isEmpty, "\(shown): refused without a diagnostic")
                    for diagnostic in hostile.diagnostics {
                        switch slot {
                        case .setting(let declaration):
                            let line = declaration.type == .list ? (hostile.valueLine ?? 0) : hostile.valueLine
                            #expect(
                                diagnostic.location?.file == "bp.yaml" && diagnostic.location?.line == line,
                                "\(shown): refused at \(diagnostic.location.map(String.init(describing:)) ?? "no location"), not at the value (line \(line ?? 0)): \(diagnostic.message)"
                            )
                        case .captured(let name, _):
                            #expect(
                                diagnostic.message.contains("captured as \(name)"), "\(shown): the refusal does not name the capture: \(diagnostic.message)")
                            #expect(diagnostic.location != nil, "\(shown): refused without a position")
                        }
                    }
                    continue
                }
                accepted += 1
                for action in plan.actions {
                    guard let before = benignActions[action.id] else {
                        Issue.record("\(shown): action \(action.id) is not in the benign plan")
                        continue
                    }
                    switch (before.detail, action.detail) {
                    case (.upload(let old), .upload(let new)):
                        #expect(ValueShapes.pathProblem(new.path) == nil, "\(shown): upload path \(TerminalText.visible(new.path))")
                        guard !new.isArtifact, !new.content.isUnknown, old.content.text != new.content.text else { continue }
                        let id = "\(number)-\(cases.count)"
                        let oldPath = folder.appendingPathComponent("\(id).benign"), newPath = folder.appendingPathComponent("\(id).hostile")
                        try Data(old.content.text.utf8).write(to: oldPath)
                        try Data(new.content.text.utf8).write(to: newPath)
                        cases.append(
                            FileCase(
                                id: id, format: kind.format(ofTemplate: new.source).rawValue, benign: oldPath.path, hostile: newPath.path,
                                marker: marker, value: value, exact: !value.isEmpty))
                        described[id] = "\(shown) in \(new.source) (\(kind.format(ofTemplate: new.source).rawValue))"
                    case (.command(let old), .command(let new)), (.waitCommand(let old), .waitCommand(let new)),
                        (.capture(_, let old, _), .capture(_, let new, _)):
                        if old.map(\.text) != new.map(\.text) { commandsChecked.append(("\(shown): \(action.id)", new.map(\.text))) }
                        #expect(!new.contains { $0.isSensitive }, "\(shown): a secret in the command of \(action.id)")
                    case (.service(_, _, let old?), .service(_, _, let new?)):
                        if old.map(\.text) != new.map(\.text) { commandsChecked.append(("\(shown): \(action.id)", new.map(\.text))) }
                    default:
                        break
                    }
                }
            }
        }
        #expect(refused > 0 && accepted > 0)
        #expect(cases.count > 20, "\(kindName): only \(cases.count) rendered files changed with a hostile value; the test would prove little")
        // Every uploaded template that names a setting or a captured value was rendered with hostile ones.
        let exercised = Set(cases.compactMap { described[$0.id]?.components(separatedBy: " in ").last?.components(separatedBy: " (").first })
        for role in kind.roles {
            for step in role.steps.values.joined() {
                guard case .upload(let name, _, _, _) = step.action, let template = kind.templates[name] else { continue }
                let names = template.allReferences(partials: kind.partials).filter { ["settings", "captured", "secrets"].contains($0.first ?? "") }
                let typed = names.filter { path in
                    path.first != "settings" || path.count < 2
                        || kind.setting(path[1]).map { ![.int, .port, .bool, .cidr, .version, .duration].contains($0.type) && $0.allowed.isEmpty } ?? true
                }
                #expect(
                    typed.isEmpty || exercised.contains(name),
                    "\(kindName): template \(name) names \(typed.map { $0.joined(separator: ".") }) but no hostile value reached it")
            }
        }

        let results = try await Self.read(cases, in: folder)
        for (id, result) in results where !result.ok {
            Issue.record("\(described[id] ?? id): \(result.why)")
        }
        #expect(results.count == cases.count)
        try await Self.checkArguments(commandsChecked, in: folder)
    }

    struct ReadResult: Decodable {
        var ok: Bool
        var why: String
    }

    /// Runs Tests/Support/read_rendered.py over every case at once.
    static func read(_ cases: [FileCase], in folder: URL) async throws -> [String: ReadResult] {
        let manifest = String(decoding: try JSONEncoder().encode(["cases": cases]), as: UTF8.self)
        let script = repository.appendingPathComponent("Tests/Support/read_rendered.py").path
        let output = try await HostCommand.run(["python3", script], input: manifest)
        guard output.succeeded else { throw PhotonError("read_rendered.py failed: \(output.stderr.suffix(2000))") }
        return try JSONDecoder().decode([String: ReadResult].self, from: Data(output.stdout.utf8))
    }

    /// Each command line photon would send, run through sh with printf in place of the command: every
    /// argument must come back whole and unchanged.
    static func checkArguments(_ commands: [(id: String, argv: [String])], in folder: URL) async throws {
        var script = ""
        for (index, command) in commands.enumerated() {
            script += "printf '\\036%s\\035' \(index); printf '%s\\037' \(ShellQuoting.join(command.argv))\n"
        }
        let file = folder.appendingPathComponent("arguments.sh")
        try Data(script.utf8).write(to: file)
        let output = try await HostCommand.run(["sh", file.path])
        #expect(output.succeeded, "\(output.stderr.suffix(500))")
        var seen = 0
        for record in output.stdout.split(separator: "\u{1E}", omittingEmptySubsequences: true) {
            let parts = record.split(separator: "\u{1D}", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2, let index = Int(parts[0]), commands.indices.contains(index) else { continue }
            seen += 1
            let arguments = parts[1].split(separator: "\u{1F}", omittingEmptySubsequences: false).dropLast().map(String.init)
            #expect(arguments == commands[index].argv, "\(commands[index].id): sh read other arguments")
        }
        #expect(seen == commands.count)
    }
}

@Suite("Secrets off command lines")
struct SecretsOffCommandLinesTests {
    /// Every shipped blueprint planned with every capture and generated secret known (as on day 2): no
    /// argument of any command, guard or service holds a secret, and no path does.
    @Test(
        "no command, guard or path of any shipped blueprint's plan holds a secret",
        arguments: ["quickstart", "swarm-ha", "mesos", "kubernetes", "platform", "static"])
    func shippedBlueprints(name: String) throws {
        let catalog = HostileValueTests.catalog
        let text = try String(contentsOf: HostileValueTests.repository.appendingPathComponent("blueprints/\(name).yaml"), encoding: .utf8)
        let environment = ["PHOTON_API_TOKEN": "env-secret-value-0001"]
        let blueprint = try BlueprintLoader(environment: LoadEnvironment(variables: environment, baseDirectory: "/tmp", fileExists: { _ in true }))
            .load(bytes: Array(text.utf8), file: "\(name).yaml")
        var captured: [String: RecordedValue] = [:], generated: [String: String] = [:], secrets: [String] = []
        let groups =
            (blueprint.management.map { _ in [(KindCatalog.managementKind, KindCatalog.managementKind)] } ?? [])
            + blueprint.clusters.map { ($0.name.value, $0.kind.value) }
        for (group, kindName) in groups {
            guard let kind = catalog.kinds[kindName] else { continue }
            for role in kind.roles {
                for step in role.steps.values.joined() {
                    guard case .capture(let capture, _, let secret) = step.action else { continue }
                    let value = "captured-\(group)-\(capture)-0123456789"
                    captured["\(group)/\(capture)"] = RecordedValue(value: value, secret: secret)
                    if secret { secrets.append(value) }
                }
            }
            for setting in kind.settings where setting.type == .secret {
                let value = "generated-\(group)-\(setting.name)-0123456789"
                generated["\(group)/settings.\(setting.name)"] = value
                secrets.append(value)
            }
        }
        for secret in blueprint.secrets {
            let value = "named-\(secret.name.value)-0123456789"
            generated["secrets.\(secret.name.value)"] = value
            secrets.append(value)
        }
        secrets.append(environment["PHOTON_API_TOKEN"]!)
        let planner = Planner(
            catalog: catalog, secrets: SecretSource(environment: environment, baseDirectory: "/tmp", readFile: { _ in "file-secret-value-0001\n" }),
            photonVersion: "test"
        ).pinningEveryBinary()
        secrets.append("file-secret-value-0001")
        let plan = try planner.plan(blueprint, recorded: RecordedState(captured: captured, generatedSecrets: generated))
        var commands = 0, secretFiles = 0
        for action in plan.actions {
            var arguments: [RenderedText] = action.unless ?? []
            var paths: [String] = action.creates.map { [$0.text] } ?? []
            switch action.detail {
            case .command(let argv), .waitCommand(let argv), .capture(_, let argv, _): arguments += argv
            case .service(_, _, let exec): arguments += exec ?? []
            case .upload(let file):
                paths.append(file.path)
                if file.content.isSensitive { secretFiles += 1 }
            default: break
            }
            commands += arguments.isEmpty ? 0 : 1
            for argument in arguments {
                #expect(!argument.isSensitive, "\(name): \(action.id) has a secret argument")
                for secret in secrets { #expect(!argument.text.contains(secret), "\(name): \(action.id) has a secret in \(argument.text.prefix(80))") }
            }
            for path in paths {
                for secret in secrets { #expect(!path.contains(secret), "\(name): \(action.id) has a secret in its path") }
            }
        }
        #expect(commands > 10)
        // The secrets still reach the machines: in files.
        #expect(secretFiles > 0 || name == "mesos", "\(name): no file holds a secret; is anything checked?")
    }
}
