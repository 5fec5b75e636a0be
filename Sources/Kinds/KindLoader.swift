import Foundation
import PhotonCore
import YAMLReader

/// Every kind found under a templates directory, by name.
public struct KindCatalog: Sendable {
    public var kinds: [String: Kind]
    public var directory: String

    public init(kinds: [String: Kind], directory: String) {
        self.kinds = kinds
        self.directory = directory
    }

    /// Cluster kinds (everything but `management`), sorted by name.
    public var clusterKinds: [Kind] { kinds.values.filter { $0.name != KindCatalog.managementKind }.sorted { $0.name < $1.name } }

    public static let managementKind = "management"

    /// Loads every `<directory>/<kind>/kind.yaml`, reporting the problems of all kinds at once.
    public static func load(directory: String) throws -> KindCatalog {
        let fileManager = FileManager.default
        var isDirectory: ObjCBool = false
        guard fileManager.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw PhotonError(
                "templates directory '\(directory)' does not exist",
                help: "pass --templates DIR or set PHOTON_TEMPLATES to the folder that holds swarm/, mesos/, kubernetes/ and management/")
        }
        var kinds: [String: Kind] = [:]
        var diagnostics = DiagnosticCollector()
        let entries = (try? fileManager.contentsOfDirectory(atPath: directory))?.sorted() ?? []
        for entry in entries {
            let folder = directory.hasSuffix("/") ? directory + entry : directory + "/" + entry
            guard fileManager.fileExists(atPath: folder + "/kind.yaml") else { continue }
            do {
                let kind = try KindLoader.load(folder: folder, name: entry)
                kinds[kind.name] = kind
            } catch {
                diagnostics.append(contentsOf: error.diagnostics)
            }
        }
        try diagnostics.throwIfAny()
        if kinds.isEmpty {
            throw PhotonError("no kinds found in '\(directory)'", help: "each kind is a folder with a kind.yaml")
        }
        return KindCatalog(kinds: kinds, directory: directory)
    }
}

/// Reads one kind folder: kind.yaml and its `*.mustache` templates.
public enum KindLoader {
    public static func load(folder: String, name: String) throws(DiagnosticsError) -> Kind {
        let kindFile = folder + "/kind.yaml"
        guard let data = FileManager.default.contents(atPath: kindFile) else {
            throw DiagnosticsError(Diagnostic("cannot read \(kindFile)"))
        }
        var templates: [String: Template] = [:]
        var brokenTemplates = Set<String>()
        var diagnostics = DiagnosticCollector()
        let files = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).filter { $0.hasSuffix(".mustache") }.sorted()
        for file in files {
            let path = folder + "/" + file
            guard let bytes = FileManager.default.contents(atPath: path), let source = String(data: bytes, encoding: .utf8) else {
                diagnostics.error("cannot read template \(path) as UTF-8", at: SourceLocation(file: path, line: 1, column: 1))
                continue
            }
            let templateName = String(file.dropLast(".mustache".count))
            do {
                templates[templateName] = try Template(source, name: templateName, origin: SourceLocation(file: path, line: 1, column: 1))
            } catch {
                brokenTemplates.insert(templateName)
                diagnostics.append(contentsOf: error.diagnostics)
            }
        }
        guard let root = try YAMLParser.parse(Array(data), file: kindFile) else {
            throw DiagnosticsError(Diagnostic("kind.yaml is empty", at: SourceLocation(file: kindFile, line: 1, column: 1)))
        }
        let reader = DocumentReader(file: kindFile)
        let reading = KindReading(reader: reader, folder: folder, expectedName: name, templates: templates, brokenTemplates: brokenTemplates)
        let kind = reading.kind(reader.root(root))
        diagnostics.append(contentsOf: reader.diagnostics.diagnostics)
        if let kind {
            var checks = KindChecks(kind: kind)
            diagnostics.append(contentsOf: checks.run())
        }
        try diagnostics.throwIfAny()
        guard let kind else { throw DiagnosticsError(Diagnostic("kind '\(name)' could not be read", at: root.location)) }
        return kind
    }
}

struct KindReading {
    let reader: DocumentReader
    let folder: String
    let expectedName: String
    let templates: [String: Template]
    /// Templates that exist but did not compile (already reported).
    let brokenTemplates: Set<String>
    /// The names under `binaries:`, once read.
    var declaredBinaries: Set<String> = []

    func error(_ message: String, at location: SourceLocation?, help: String? = nil) {
        reader.error(message, at: location, help: help)
    }

    func kind(_ root: YAMLValue) -> Kind? {
        guard let top = root.mapping() else { return nil }
        defer { top.finish() }
        let nameValue = top.required("kind")
        let name = nameValue?.string()
        if let name, name != expectedName {
            error("kind '\(name)' is in folder '\(expectedName)'; the folder name is the kind's name", at: nameValue?.location)
        }
        let description = top.optional("description")?.string() ?? ""
        let settings = top.optional("settings").map(settingsSection) ?? []
        let services = top.optional("services").map(servicesSection) ?? []
        var access: KindAccess?
        if let value = top.optional("access") {
            if case .mapping = value.node.content, let section = value.mapping() {
                access = accessSection(section)
            } else if let command = value.string() {
                access = KindAccess(role: nil, command: command)
            }
        }
        let formats = top.optional("formats").map(formatsSection) ?? [:]
        let binaries = top.optional("binaries").map(binariesSection) ?? [:]
        var reading = self
        reading.declaredBinaries = Set(binaries.keys)
        let roles = top.required("roles").map(reading.rolesSection) ?? []
        let requirements = top.optional("requires").map { requiresSection($0, roles: roles.map(\.name)) } ?? []
        if !binaries.isEmpty, !settings.contains(where: { $0.name == "version" && $0.type == .version }) {
            error("a kind with binaries needs a 'version' setting of type version: it picks their release", at: top.optional("binaries")?.location)
        }
        let certificates = top.optional("certificates").map(certificatesSection) ?? []
        for role in [access?.role].compactMap({ $0 }) + (access?.endpoints.map(\.role) ?? []) where !roles.contains(where: { $0.name == role }) {
            error(
                "access names role '\(role)', which the kind does not have", at: top.optional("access")?.location,
                help: Suggestions.help(for: role, among: roles.map(\.name), noun: "role"))
        }
        let backup = top.optional("backup").flatMap { backupSection($0, roles: roles) }
        if top.optional("backup") == nil {
            for role in roles where !role.steps(in: .backup).isEmpty || !role.steps(in: .restore).isEmpty {
                error(
                    "role \(role.name) has backup or restore steps, but the kind has no 'backup:' section", at: role.location,
                    help: "add 'backup: {role, file, description}' naming the file the backup steps leave")
            }
        }
        guard let name else { return nil }
        return Kind(
            name: name, description: description, directory: folder, settings: settings, services: services,
            roles: roles, templates: templates, partials: PartialLibrary(templates), access: access, certificates: certificates,
            formats: templates.keys.reduce(into: formats) { all, name in
                if all[name] == nil { all[name] = TemplateFormat.inferred(fromTemplateName: name) }
            }, binaries: binaries, requirements: requirements, backup: backup)
    }

    /// `formats: {etcd: env, …}`: how templates whose names say nothing are read on the machine.
    func formatsSection(_ value: YAMLValue) -> [String: TemplateFormat] {
        var formats: [String: TemplateFormat] = [:]
        for (name, keyLocation, body) in value.entries() ?? [] {
            if templates[name] == nil, !brokenTemplates.contains(name) {
                error(
                    "formats names template '\(name)', which is not in \(folder)", at: keyLocation,
                    help: Suggestions.help(for: name, among: templates.keys.sorted(), noun: "template"))
                continue
            }
            let format = body.parsed("one of \(TemplateFormat.allCases.map(\.rawValue).joined(separator: ", "))") { TemplateFormat(rawValue: $0) }
            if let format { formats[name] = format }
        }
        return formats
    }

    func settingsSection(_ value: YAMLValue) -> [SettingDeclaration] {
        (value.entries() ?? []).compactMap { name, keyLocation, body in
            guard let section = body.mapping() else { return nil }
            defer { section.finish() }
            let typeValue = section.required("type")
            let type = typeValue?.parsed("one of \(SettingType.allCases.map(\.rawValue).joined(separator: ", "))") { SettingType(rawValue: $0) }
            let description = section.optional("description")?.string() ?? ""
            let allowed = section.optional("values")?.list()?.compactMap { $0.string() } ?? []
            var defaultValue: SettingDefault?
            if let node = section.optional("default") {
                if let items = node.node.items {
                    defaultValue = .list(items.compactMap(\.scalar))
                } else if let text = node.string() {
                    defaultValue = .scalar(text)
                }
            }
            var upgrade: UpgradeRule?
            if let rule = section.optional("upgrade") {
                if type != .version { error("only a setting of type version has upgrade rules", at: rule.location) }
                if let body = rule.mapping() {
                    defer { body.finish() }
                    upgrade = UpgradeRule(downgrade: body.optional("downgrade")?.bool() ?? true, minorSteps: body.optional("minorSteps")?.int(in: 1...100))
                }
            }
            guard let type else { return nil }
            return SettingDeclaration(
                name: name, type: type, defaultValue: defaultValue, description: description, allowed: allowed, location: keyLocation, upgrade: upgrade)
        }
    }

    func servicesSection(_ value: YAMLValue) -> [ServiceDeclaration] {
        (value.entries() ?? []).compactMap { name, _, body in
            guard let section = body.mapping() else { return nil }
            defer { section.finish() }
            return ServiceDeclaration(
                name: name, required: section.optional("required")?.bool() ?? false,
                description: section.optional("description")?.string() ?? "")
        }
    }

    func rolesSection(_ value: YAMLValue) -> [RoleDeclaration] {
        (value.list() ?? []).compactMap(role)
    }

    func role(_ value: YAMLValue) -> RoleDeclaration? {
        guard let section = value.mapping() else { return nil }
        defer { section.finish() }
        let name = section.required("name")?.string()
        let description = section.optional("description")?.string() ?? ""
        let count = section.required("count").flatMap(countRule)
        let flavor = section.optional("flavor")?.string()
        let needs = section.optional("needs")?.list()?.compactMap { $0.string() } ?? []
        var steps: [Phase: [Step]] = [:]
        for phase in Phase.allCases {
            if let list = section.optional(phase.rawValue)?.list() {
                steps[phase] = list.flatMap(self.steps)
            }
        }
        guard let name, let count else { return nil }
        return RoleDeclaration(name: name, description: description, count: count, defaultFlavor: flavor, needs: needs, steps: steps, location: value.location)
    }

    func countRule(_ value: YAMLValue) -> CountRule? {
        guard let section = value.mapping() else { return nil }
        defer { section.finish() }
        let min = section.optional("min")?.int(in: 0...100_000) ?? 0
        let max = section.optional("max")?.int(in: 0...100_000) ?? 100_000
        let odd = section.optional("odd")?.bool() ?? false
        let defaultCount = section.optional("default")?.int(in: 0...100_000)
        var rule = CountRule(min: min, max: max, odd: odd, defaultCount: defaultCount)
        if let rescale = section.optional("rescale") {
            switch rescale.string() {
            case "online"?: break
            case "restart"?: rule.rescaleNeedsRestart = true
            case let other?: error("count.rescale must be online or restart, found '\(other)'", at: rescale.location)
            case nil: break
            }
        }
        if min > max { error("count.min (\(min)) is above count.max (\(max))", at: value.location) }
        if let defaultCount, let problem = rule.problem(with: defaultCount) {
            error("count.default (\(defaultCount)) breaks the role's own rule: it must be \(problem)", at: value.location)
        }
        return rule
    }

    static let stepTypes = ["upload", "artifact", "binary", "run", "capture", "wait", "service"]
    /// Files photon supplies itself: its executable, and what the management plane needs from the installer.
    public static let artifacts = ["photon", "plane-certificate", "plane-key", "state-key", "ssh-key"]
    static let commonKeys = ["name", "on", "via", "when", "unless", "creates", "timeout", "retry"]

    // Long: every key a step may have, read in order with its diagnostic; a list of keys, not logic.
    /// A step as written, and for an archive the step that unpacks it.
    func steps(_ value: YAMLValue) -> [Step] {
        guard let section = value.mapping() else { return [] }
        let present = Self.stepTypes.filter { section.has($0) }
        guard present.count == 1, let type = present.first else {
            section.abandon()
            if present.count > 1 {
                error("a step has one action; this one has \(present.map { "'\($0)'" }.joined(separator: " and "))", at: value.location)
            } else {
                let unknown = (value.node.pairs ?? []).first {
                    !Self.commonKeys.contains($0.key)
                        && !["path", "mode", "owner", "command", "secret", "action", "exec", "reads", "unpack", "strip"].contains($0.key)
                }
                error(
                    "a step needs one of \(Self.stepTypes.map { "'\($0)'" }.joined(separator: ", "))", at: unknown?.keyLocation ?? value.location,
                    help: unknown.map { Suggestions.help(for: $0.key, among: Self.stepTypes, noun: "step type") })
            }
            return []
        }
        var action: StepAction?
        var reads: [String]?
        var unpacking: (name: String, into: Template, strip: Int)?
        switch type {
        case "upload":
            let template = section.required("upload")?.string()
            if let template, templates[template] == nil, !brokenTemplates.contains(template) {
                error(
                    "template '\(template)' does not exist in \(folder)", at: section.optional("upload")?.location,
                    help: Suggestions.closest(to: template, among: templates.keys).map { "did you mean '\($0)'?" }
                        ?? "create \(template).mustache beside kind.yaml")
            }
            let path = section.required("path").flatMap(compile)
            let mode = section.optional("mode").flatMap(fileMode) ?? 0o644
            let owner = section.optional("owner")?.string()
            if let template, let path { action = .upload(template: template, path: path, mode: mode, owner: owner) }
        case "artifact":
            let name = section.required("artifact")?.string()
            if let name, !Self.artifacts.contains(name) {
                error(
                    "unknown artifact '\(name)'", at: section.optional("artifact")?.location,
                    help:
                        "artifacts are \(Self.artifacts.joined(separator: ", ")) (photon's executable, and the management plane's certificate, its key, the key that seals secrets, the deployment's SSH key)"
                )
            } else if let name, name != "photon", expectedName != KindCatalog.managementKind {
                // The installer's keys go only where photon's own management kind puts them.
                error(
                    "artifact '\(name)' is only for the management kind: it carries the installer's keys", at: section.optional("artifact")?.location,
                    help: "a cluster kind can upload photon's executable ('artifact: photon') and its own templates")
            }
            let path = section.required("path").flatMap(compile)
            let mode = section.optional("mode").flatMap(fileMode) ?? 0o755
            if let name, let path { action = .artifact(name: name, path: path, mode: mode) }
        case "binary":
            let nameValue = section.required("binary")
            let name = nameValue?.string()
            if let name, !declaredBinaries.contains(name) {
                error(
                    "binary '\(name)' is not declared under binaries:", at: nameValue?.location,
                    help: Suggestions.help(for: name, among: declaredBinaries.sorted(), noun: "binary"))
            }
            switch (name, binaryPlacement(section, name: name)) {
            case (let name?, .file(let path, let mode)?): action = .binary(name: name, path: path, mode: mode)
            case (let name?, .unpack(let into, let strip)?):
                if let archive = literal(BinaryDeclaration.archivePath(name)) {
                    action = .binary(name: name, path: archive, mode: 0o600)
                    unpacking = (name, into, strip)
                }
            default: break
            }
        case "run":
            if let command = section.required("run").flatMap(command) { action = .run(command) }
        case "capture":
            let nameValue = section.required("capture")
            let name = nameValue?.string()
            if let name, !Self.isIdentifier(name) {
                error("capture name '\(name)' must be a word of letters, digits and '_'", at: nameValue?.location)
            }
            let command = section.required("command").flatMap(command)
            let secret = section.optional("secret")?.bool() ?? false
            if let name, let command { action = .capture(name: name, command: command, secret: secret) }
        case "wait":
            guard let wait = section.required("wait")?.mapping() else { break }
            let host = wait.optional("host").flatMap(compile)
            let port = wait.optional("port").flatMap(compile)
            let command = wait.optional("command").flatMap(command)
            wait.finish()
            switch (port, command) {
            case (let port?, nil): action = .waitPort(host: host, port: port)
            case (nil, let command?): action = .waitCommand(command)
            default: error("a wait step needs either 'port' or 'command'", at: wait.location)
            }
        case "service":
            let name = section.required("service")?.string()
            let serviceAction = section.optional("action")?.parsed("start, restart or stop") { ServiceAction(rawValue: $0) } ?? .start
            let exec = section.optional("exec").flatMap(command)
            if let name { action = .service(name: name, action: serviceAction, exec: exec) }
        default:
            break
        }
        // A service restarts, and a command runs again, on a running machine only when what it reads changed.
        if type == "service" || type == "run", let list = section.optional("reads")?.list() {
            reads = list.compactMap { $0.string() }
            for (item, name) in zip(list, reads ?? []) where templates[name] == nil && !declaredBinaries.contains(name) {
                error(
                    "reads names '\(name)', which is neither a template in the kind's folder nor a declared binary", at: item.location,
                    help: Suggestions.help(for: name, among: templates.keys.sorted() + declaredBinaries.sorted(), noun: "template or binary"))
            }
        }
        let name = section.optional("name")?.string()
        let on = section.optional("on")?.parsed("all, first or others") { MachineSelector(rawValue: $0) } ?? .all
        let via = section.optional("via")?.string()
        let when = section.optional("when")?.string().map { $0.split(separator: ".").map(String.init) }
        let unless = section.optional("unless").flatMap(command)
        let creates = section.optional("creates").flatMap(compile)
        let timeout = section.optional("timeout")?.parsed("a duration (like 60s or 5m)") { TimeSpan($0) }
        let retry = section.optional("retry").flatMap(retryPolicy)
        section.finish()
        guard let action else { return [] }
        let step = Step(
            action: action, name: name, on: on, via: via, when: when, unless: unless, creates: creates,
            timeout: timeout, retry: retry, reads: reads, location: value.location)
        guard let unpacking, let unpack = unpackStep(after: step, name: unpacking.name, into: unpacking.into, strip: unpacking.strip) else { return [step] }
        return [step, unpack]
    }
}
