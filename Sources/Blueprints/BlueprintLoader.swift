import Foundation
import PhotonCore
import YAMLReader

/// What the loader may look at outside the file: the environment and the file system, for secret references.
public struct LoadEnvironment: Sendable {
    public var variables: [String: String]
    /// Relative `file:` references resolve against this directory (the blueprint's own by default).
    public var baseDirectory: String?
    public var fileExists: @Sendable (String) -> Bool
    /// Whether a layer's folder exists.
    public var directoryExists: @Sendable (String) -> Bool

    public init(variables: [String: String] = ProcessInfo.processInfo.environment, baseDirectory: String? = nil,
                fileExists: @escaping @Sendable (String) -> Bool = { FileManager.default.isReadableFile(atPath: $0) },
                directoryExists: @escaping @Sendable (String) -> Bool = { path in
                    var isDirectory: ObjCBool = false
                    return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue
                }) {
        self.variables = variables
        self.baseDirectory = baseDirectory
        self.fileExists = fileExists
        self.directoryExists = directoryExists
    }
}

/// Turns a blueprint file into a ``Blueprint``, reporting every problem in it at once.
///
/// This checks everything a blueprint can get wrong on its own: syntax, types, unknown keys, names,
/// sizes, references to flavors and secrets. Checks that need the cluster kinds (roles, counts,
/// settings) run in the planner, which reports them the same way.
public struct BlueprintLoader: Sendable {
    public var environment: LoadEnvironment
    public var limits: YAMLLimits

    public init(environment: LoadEnvironment = LoadEnvironment(), limits: YAMLLimits = YAMLLimits()) {
        self.environment = environment
        self.limits = limits
    }

    /// Reads and loads the blueprint at `path`.
    public func load(path: String) throws -> Blueprint {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw PhotonError("cannot read blueprint '\(path)': \(Self.reason(error))", help: "check the path given with -f")
        }
        var environment = environment
        if environment.baseDirectory == nil {
            environment.baseDirectory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        }
        return try BlueprintLoader(environment: environment, limits: limits).load(bytes: Array(data), file: path)
    }

    /// Loads a blueprint from bytes; `file` names it in messages.
    public func load(bytes: [UInt8], file: String) throws(DiagnosticsError) -> Blueprint {
        guard let root = try YAMLParser.parse(bytes, file: file, limits: limits) else {
            throw DiagnosticsError(Diagnostic("the blueprint is empty", at: SourceLocation(file: file, line: 1, column: 1),
                                              help: "start from one of the examples in blueprints/"))
        }
        let reader = DocumentReader(file: file)
        let blueprint = BlueprintReading(reader: reader, environment: environment)
            .blueprint(reader.root(root), digest: ContentDigest.sha256(bytes), file: file)
        try reader.diagnostics.throwIfAny()
        guard let blueprint else { throw DiagnosticsError(Diagnostic("the blueprint could not be read", at: root.location)) }
        return blueprint
    }

    static func reason(_ error: any Error) -> String {
        let nsError = error as NSError
        if let underlying = nsError.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(underlying.code)))
        }
        if nsError.domain == NSCocoaErrorDomain, nsError.code == NSFileReadNoSuchFileError { return "no such file" }
        return nsError.localizedDescription
    }
}

/// The reading of each section. Every method reports through `reader` and returns what it could read.
struct BlueprintReading {
    let reader: DocumentReader
    let environment: LoadEnvironment
    /// Flavors defined with errors, so their uses are not reported again.
    final class FlavorNames { var names = Set<String>() }
    private let invalid = FlavorNames()
    var invalidFlavors: Set<String> {
        get { invalid.names }
        nonmutating set { invalid.names = newValue }
    }

    func error(_ message: String, at location: SourceLocation?, help: String? = nil) {
        reader.error(message, at: location, help: help)
    }

    func blueprint(_ root: YAMLValue, digest: String, file: String) -> Blueprint? {
        guard let top = root.mapping() else { return nil }
        let version = top.optional("version")?.int()
        if let version, version != 1 {
            error("this photon reads blueprint version 1, found version \(version)", at: top.optional("version")?.location)
        }
        let name = top.required("name").flatMap { label($0, what: "deployment name") }
        let secrets = top.optional("secrets").map(secretsSection) ?? []
        let flavors = top.optional("flavors").map(flavorsSection) ?? [:]
        let allFlavors = Flavor.builtIn.merging(flavors) { $1 }
        let controlPlane = top.required("controlPlane").flatMap(controlPlaneSection)
        let ssh = top.optional("ssh").map { sshSection($0, secrets: secrets) } ?? SSHSettings()
        let management = top.optional("management").flatMap { managementSection($0, flavors: allFlavors) }
        let clusters = top.optional("clusters").map { clustersSection($0, flavors: allFlavors, secrets: secrets) } ?? []
        top.finish()

        for secret in secrets { checkSecret(secret.reference, secrets: secrets) }
        if let name, let controlPlane {
            checkMachineNames(deployment: name, clusters: clusters)
            return Blueprint(file: file, digest: digest, name: name, controlPlane: controlPlane, ssh: ssh, flavors: allFlavors,
                             management: management, clusters: clusters, secrets: secrets, location: root.location)
        }
        return nil
    }

    // MARK: Names

    /// A name that becomes part of host names.
    func label(_ value: YAMLValue, what: String) -> Located<String>? {
        guard let text = value.string() else { return nil }
        if let problem = Hostname.problem(withLabel: text) {
            error("\(what) '\(Self.shown(text))' is not a valid host name part: \(problem)", at: value.location,
                  help: "use lowercase letters, digits and '-', for example '\(Self.suggestedLabel(text))'")
            return nil
        }
        return Located(text, at: value.location)
    }

    /// Long values are cut in messages.
    static func shown(_ text: String) -> String { text.count > 40 ? String(text.prefix(40)) + "…" : text }

    static func suggestedLabel(_ text: String) -> String {
        var out = ""
        for scalar in text.lowercased().unicodeScalars {
            if scalar.isASCII, scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) { out.unicodeScalars.append(scalar) }
            else if !out.hasSuffix("-") { out += "-" }
        }
        let trimmed = out.trimmingCharacters(in: CharacterSet(charactersIn: "-"))
        return trimmed.isEmpty ? "web" : String(trimmed.prefix(40))
    }

    /// Machine names are `<deployment>-<cluster>-<role>-<n>` and must stay one DNS label (63 characters).
    func checkMachineNames(deployment: Located<String>, clusters: [Cluster]) {
        for cluster in clusters {
            for role in cluster.roles {
                let longest = "\(deployment.value)-\(cluster.name.value)-\(role.name.value)-\(max(role.count.value, 1))"
                if longest.utf8.count > 63 {
                    error("machine names of cluster '\(cluster.name.value)' role '\(role.name.value)' would be \(longest.utf8.count) characters ('\(longest)'); host names allow 63",
                          at: cluster.name.location, help: "shorten the deployment or cluster name")
                }
            }
        }
    }

    // MARK: Sections

    func controlPlaneSection(_ value: YAMLValue) -> ControlPlane? {
        guard let section = value.mapping() else { return nil }
        let driver = section.required("driver")
        let driverName = driver?.string()
        defer { section.finish() }
        switch driverName {
        case "local"?:
            section.ignore("machines")
            reportMisplaced("machines", in: section, driver: "static")
            let network = section.required("network", help: "give the machines' network in CIDR form, for example 10.213.0.0/24").flatMap(cidr)
            let bridge = section.optional("bridge").flatMap { bridgeName($0) }
            var layers: [Located<String>] = []
            for item in section.optional("layers")?.list() ?? [] {
                guard let path = item.string() else { continue }
                let resolved = resolve(path)
                if environment.directoryExists(resolved) {
                    layers.append(Located(URL(fileURLWithPath: resolved).standardizedFileURL.path, at: item.location))
                } else {
                    error("layer '\(path)' is not a directory", at: item.location,
                          help: path.hasPrefix("/") ? nil : "relative paths are read from the blueprint's directory (\(environment.baseDirectory ?? "."))")
                }
            }
            guard let network else { return nil }
            return .local(LocalControlPlane(network: network, bridge: bridge, layers: layers))
        case "static"?:
            for key in ["network", "bridge", "layers"] {
                section.ignore(key)
                reportMisplaced(key, in: section, driver: "local")
            }
            guard let list = section.required("machines")?.list() else { return nil }
            if list.isEmpty { error("controlPlane.machines is empty", at: section.optional("machines")?.location, help: "list the machines photon may use") }
            var seen: [String: SourceLocation] = [:]
            var machines: [StaticMachine] = []
            for item in list {
                guard let machine = staticMachine(item) else { continue }
                let key = "\(machine.address.value):\(machine.port)"
                if let first = seen[key] {
                    error("machine \(key) is listed twice", at: machine.address.location, help: "it is first listed at line \(first.line)")
                } else {
                    seen[key] = machine.address.location
                }
                machines.append(machine)
            }
            return .static(StaticControlPlane(machines: machines, location: section.location))
        case let other?:
            error("unknown control-plane driver '\(other)'", at: driver?.location, help: Suggestions.help(for: other, among: ["local", "static"], noun: "driver"))
            _ = section.optional("network"); _ = section.optional("machines"); _ = section.optional("bridge"); _ = section.optional("layers")
            return nil
        case nil:
            _ = section.optional("network"); _ = section.optional("machines"); _ = section.optional("bridge"); _ = section.optional("layers")
            return nil
        }
    }

    /// A key of the other driver: say so instead of just "unknown key".
    @discardableResult
    func reportMisplaced(_ key: String, in section: MappingReader, driver: String) -> Bool {
        guard let pair = section.value.node.pairs?.first(where: { $0.key == key }) else { return false }
        error("'\(key)' belongs to 'driver: \(driver)'", at: pair.keyLocation,
              help: driver == "local" ? "static machines are listed under 'machines:' with their addresses" : "the local driver makes its own machines on 'network:'")
        return true
    }

    func bridgeName(_ value: YAMLValue) -> String? {
        guard let text = value.string() else { return nil }
        // Linux interface names: at most 15 bytes, no '/', ':' or whitespace.
        guard !text.isEmpty, text.utf8.count <= 15, text.unicodeScalars.allSatisfy({ $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "-_.".unicodeScalars.contains($0)) }) else {
            error("bridge name '\(Self.shown(text))' is not a valid Linux interface name", at: value.location, help: "use at most 15 letters, digits, '-', '_' or '.'")
            return nil
        }
        return text
    }

    func cidr(_ value: YAMLValue) -> Located<IPv4Network>? {
        guard let network = value.parsed("an IPv4 network in CIDR form (like 10.213.0.0/24)", { IPv4Network($0) }) else { return nil }
        if network.hasHostBits {
            error("network \(network) has host bits set", at: value.location, help: "did you mean \(network.network)/\(network.prefixLength)?")
            return nil
        }
        return Located(network, at: value.location)
    }

    func staticMachine(_ value: YAMLValue) -> StaticMachine? {
        guard let entry = value.mapping() else { return nil }
        defer { entry.finish() }
        let address = entry.required("address").flatMap { node -> Located<String>? in
            guard let text = node.string() else { return nil }
            guard IPv4Address(text) != nil || Self.isDNSName(text) else {
                if text.allSatisfy({ $0.isNumber || $0 == "." }) {
                    error("'\(Self.shown(text))' is not a valid IPv4 address", at: node.location, help: "four numbers from 0 to 255 separated by dots")
                } else {
                    error("'\(Self.shown(text))' is neither an IPv4 address nor a host name", at: node.location)
                }
                return nil
            }
            return Located(text, at: node.location)
        }
        let port = entry.optional("port")?.int(in: 1...65535) ?? 22
        let userValue = entry.optional("user")
        var user = userValue?.string()
        if let name = user, !Self.isUserName(name) {
            error("'\(Self.shown(name))' is not a valid user name", at: userValue?.location, help: "user names are lowercase letters, digits, '_' and '-', starting with a letter or '_'")
            user = nil
        }
        let hostKey = entry.required("hostKey", help: "pin the machine's key: the output of 'ssh-keyscan -t ed25519 HOST' or its 'SHA256:…' fingerprint")
            .flatMap(hostKey)
        guard let address, let hostKey else { return nil }
        return StaticMachine(address: address, port: port, user: user, hostKey: hostKey, location: value.location)
    }

    /// POSIX-portable user names, as useradd accepts them.
    static func isUserName(_ text: String) -> Bool {
        guard let first = text.unicodeScalars.first, text.utf8.count <= 32, first == "_" || ("a"..."z").contains(first) else { return false }
        return text.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "_" || $0 == "-" }
    }

    static func isDNSName(_ text: String) -> Bool {
        guard !text.isEmpty, text.utf8.count <= 253 else { return false }
        // All-numeric names are meant as IPv4 addresses ("10.0.0.256" is a typo, not a host name).
        if text.allSatisfy({ $0.isNumber || $0 == "." }) { return false }
        return text.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { Hostname.problem(withLabel: String($0)) == nil }
    }

    func hostKey(_ value: YAMLValue) -> HostKey? {
        guard let text = value.string() else { return nil }
        switch HostKeyParsing.parse(text) {
        case .success(let key): return key
        case .failure(let problem):
            error(problem.message, at: value.location, help: problem.help)
            return nil
        }
    }

    func sshSection(_ value: YAMLValue, secrets: [NamedSecret]) -> SSHSettings {
        var settings = SSHSettings()
        guard let section = value.mapping() else { return settings }
        defer { section.finish() }
        if let userValue = section.optional("user"), let user = userValue.string() {
            if Self.isUserName(user) {
                settings.user = user
            } else {
                error("'\(Self.shown(user))' is not a valid user name", at: userValue.location, help: "user names are lowercase letters, digits, '_' and '-', starting with a letter or '_'")
            }
        }
        if let port = section.optional("port")?.int(in: 1...65535) { settings.port = port }
        if let parallelism = section.optional("parallelism")?.int(in: 1...4096) { settings.parallelism = parallelism }
        if let timeout = section.optional("connectTimeout").flatMap({ $0.parsed("a duration (like 10s or 1m)") { TimeSpan($0) } }) {
            settings.connectTimeout = timeout
        }
        if let key = section.optional("key") {
            settings.key = secretReference(key)
            if let reference = settings.key { checkSecret(reference, secrets: secrets) }
        }
        return settings
    }

    func flavorsSection(_ value: YAMLValue) -> [String: Flavor] {
        invalidFlavors.removeAll()
        var flavors: [String: Flavor] = [:]
        for (name, keyLocation, body) in value.entries() ?? [] {
            if let problem = Hostname.problem(withLabel: name) {
                error("flavor name '\(Self.shown(name))' is not valid: \(problem)", at: keyLocation, help: "for example '\(Self.suggestedLabel(name))'")
                invalidFlavors.insert(name)
                continue
            }
            guard let section = body.mapping() else { continue }
            let cpu = section.required("cpu").flatMap { node -> Int? in
                guard let number = node.parsed("a number of CPUs (like 1, 2 or 0.5)", { text -> Double? in
                    guard !text.contains("e"), !text.contains("E") else { return nil }
                    return Double(text)
                }) else { return nil }
                guard number >= 0.001, number <= 1024 else {
                    error("\(node.displayPath) must be between 0.001 and 1024, found \(node.node.scalar ?? "")", at: node.location)
                    return nil
                }
                return Int((number * 1000).rounded())
            }
            let memory = section.required("memory").flatMap { size($0, minimum: 64 << 20) }
            let disk = section.required("disk").flatMap { size($0, minimum: 256 << 20) }
            section.finish()
            if let cpu, let memory, let disk {
                flavors[name] = Flavor(name: name, milliCPU: cpu, memory: memory, disk: disk, location: keyLocation)
            } else {
                invalidFlavors.insert(name)
            }
        }
        return flavors
    }

    func size(_ value: YAMLValue, minimum: UInt64) -> ByteSize? {
        guard let size = value.parsed("a size (like 512MiB or 4GiB)", { ByteSize($0) }) else { return nil }
        if size.bytes < minimum {
            error("\(value.displayPath) is \(size), below the minimum of \(ByteSize(bytes: minimum))", at: value.location)
            return nil
        }
        return size
    }

    func flavorReference(_ value: YAMLValue, flavors: [String: Flavor]) -> Located<String>? {
        guard let name = value.string() else { return nil }
        // A flavor with its own error is reported once, where it is defined.
        if invalidFlavors.contains(name) { return nil }
        guard flavors[name] != nil else {
            error("flavor '\(name)' is not defined", at: value.location,
                  help: Suggestions.closest(to: name, among: flavors.keys.sorted()).map { "did you mean '\($0)'?" }
                    ?? "define it under 'flavors:' or use one of: \(flavors.keys.sorted().joined(separator: ", "))")
            return nil
        }
        return Located(name, at: value.location)
    }

    func managementSection(_ value: YAMLValue, flavors: [String: Flavor]) -> Management? {
        guard let section = value.mapping() else { return nil }
        defer { section.finish() }
        let machinesValue = section.required("machines")
        var machines = machinesValue.flatMap { $0.int() }
        if let count = machines, ![1, 3, 5].contains(count) {
            error("management.machines must be 1, 3 or 5, found \(count)", at: machinesValue?.location,
                  help: "the management plane's etcd needs an odd number of members: 1 (no fault tolerance), 3 or 5")
            machines = nil
        }
        let flavor = section.optional("flavor").flatMap { flavorReference($0, flavors: flavors) }
        let services = section.optional("services").flatMap { list -> [Located<String>]? in
            list.list()?.compactMap { item in item.string().map { Located($0, at: item.location) } }
        }
        let settings = section.optional("settings").map(settingsSection) ?? []
        guard let machines, let machinesValue else { return nil }
        return Management(machines: Located(machines, at: machinesValue.location), flavor: flavor, services: services, settings: settings, location: section.location)
    }

    func clustersSection(_ value: YAMLValue, flavors: [String: Flavor], secrets: [NamedSecret]) -> [Cluster] {
        guard let items = value.list() else { return [] }
        var clusters: [Cluster] = []
        var firstByName: [String: SourceLocation] = [:]
        for item in items {
            guard let cluster = cluster(item, flavors: flavors, secrets: secrets) else { continue }
            if let first = firstByName[cluster.name.value] {
                error("duplicate cluster name '\(cluster.name.value)'", at: cluster.name.location,
                      help: "a cluster named '\(cluster.name.value)' is already defined at line \(first.line); cluster names must be unique")
                continue
            }
            firstByName[cluster.name.value] = cluster.name.location
            clusters.append(cluster)
        }
        return clusters
    }

    func cluster(_ value: YAMLValue, flavors: [String: Flavor], secrets: [NamedSecret]) -> Cluster? {
        guard let section = value.mapping() else { return nil }
        defer { section.finish() }
        let name = section.required("name").flatMap { label($0, what: "cluster name") }
        let kind = section.required("kind", help: "one of the kinds 'photon kinds' lists, such as swarm, mesos or kubernetes")
            .flatMap { node in node.string().map { Located($0, at: node.location) } }
        let flavor = section.optional("flavor").flatMap { flavorReference($0, flavors: flavors) }
        let rolesValue = section.required("roles")
        let roles = rolesValue.map { rolesSection($0, flavors: flavors) } ?? []
        let settings = section.optional("settings").map(settingsSection) ?? []
        let rollout = section.optional("rollout").flatMap(rolloutSection)
        guard let name, let kind else { return nil }
        return Cluster(name: name, kind: kind, roles: roles, flavor: flavor, settings: settings, rollout: rollout,
                       location: section.location, rolesLocation: rolesValue?.location)
    }

    func rolesSection(_ value: YAMLValue, flavors: [String: Flavor]) -> [RoleSpec] {
        var roles: [RoleSpec] = []
        for (name, keyLocation, body) in value.entries() ?? [] {
            if let problem = Hostname.problem(withLabel: name) {
                error("role name '\(Self.shown(name))' is not a valid host name part: \(problem)", at: keyLocation,
                      help: "use the role names of the cluster's kind ('photon kinds' lists them), for example '\(Self.suggestedLabel(name))'")
                continue
            }
            let roleName = Located(name, at: keyLocation)
            // `workers: 3` is shorthand for `workers: {count: 3}`.
            if case .scalar = body.node.content {
                guard let count = body.int(in: 0...100_000) else { continue }
                roles.append(RoleSpec(name: roleName, count: Located(count, at: body.location)))
                continue
            }
            guard let section = body.mapping() else { continue }
            let countValue = section.required("count")
            let count = countValue?.int(in: 0...100_000)
            let flavor = section.optional("flavor").flatMap { flavorReference($0, flavors: flavors) }
            let rollout = section.optional("rollout").flatMap(rolloutSection)
            section.finish()
            if let count, let countValue {
                roles.append(RoleSpec(name: roleName, count: Located(count, at: countValue.location), flavor: flavor, rollout: rollout))
            }
        }
        return roles
    }

    func rolloutSection(_ value: YAMLValue) -> Rollout? {
        guard let section = value.mapping() else { return nil }
        defer { section.finish() }
        let maxInFlight = section.optional("maxInFlight").flatMap { node -> InFlightLimit? in
            guard let text = node.node.scalar, !node.node.isNull else { return node.mismatch("a count or a percentage (like 2 or 25%)") }
            guard let limit = InFlightLimit(text) else {
                error("\(node.displayPath) must be a count of at least 1 or a percentage from 1% to 100%, found '\(Self.shown(text))'", at: node.location)
                return nil
            }
            return limit
        }
        let canaries = section.optional("canaries")?.int(in: 0...1000)
        return Rollout(maxInFlight: maxInFlight, canaries: canaries)
    }

    func settingsSection(_ value: YAMLValue) -> [Setting] {
        (value.entries() ?? []).map { key, keyLocation, body in
            let content: SettingValue.Content
            switch body.node.content {
            case .scalar(let text, let style): content = .scalar(text, quoted: style == .quoted)
            case .sequence(let items): content = .list(items.map { Located($0.scalar ?? "", at: $0.location) })
            case .mapping: content = .mapping
            }
            return Setting(name: key, keyLocation: keyLocation, node: SettingValue(content, at: body.location))
        }
    }

    // MARK: Secrets

    func secretsSection(_ value: YAMLValue) -> [NamedSecret] {
        var secrets: [NamedSecret] = []
        for (name, keyLocation, body) in value.entries() ?? [] {
            guard Self.isIdentifier(name) else {
                let fixed = String(name.map { $0.isLetter || $0.isNumber ? $0 : "_" }.drop(while: { !$0.isLetter }))
                error("secret name '\(Self.shown(name))' is not valid", at: keyLocation,
                      help: "use letters, digits and '_', starting with a letter, so templates can name it as secrets.\(fixed.isEmpty ? "token" : fixed)")
                continue
            }
            guard let reference = secretReference(body) else { continue }
            if case .named = reference.value {
                error("a secret under 'secrets:' must say where its value comes from, not name another secret", at: body.location,
                      help: "use 'env:NAME', 'file:PATH' or 'generate'")
                continue
            }
            secrets.append(NamedSecret(name: Located(name, at: keyLocation), reference: reference))
        }
        return secrets
    }

    func secretReference(_ value: YAMLValue) -> Located<SecretReference>? {
        // `{generate: true}` is the long form of `generate`.
        if value.node.pairs != nil, let section = value.mapping() {
            defer { section.finish() }
            guard let flag = section.required("generate")?.bool() else { return nil }
            guard flag else {
                error("'generate: false' gives the secret no value", at: value.location, help: "use 'env:NAME' or 'file:PATH' instead")
                return nil
            }
            return Located(.generate, at: value.location)
        }
        guard let text = value.string() else { return nil }
        guard let reference = SecretReference(text) else {
            error("'\(Self.shown(text))' is not a secret reference", at: value.location,
                  help: "write \(SecretReference.forms); secret values never go in a blueprint")
            return nil
        }
        return Located(reference, at: value.location)
    }

    /// The reference can be resolved: the variable is set, the file exists, the named secret is defined.
    func checkSecret(_ reference: Located<SecretReference>, secrets: [NamedSecret]) {
        switch reference.value {
        case .environment(let name):
            if environment.variables[name] == nil {
                error("environment variable \(name) is not set", at: reference.location, help: "export \(name) before running photon, or use 'generate'")
            }
        case .file(let path):
            let resolved = resolve(path)
            if !environment.fileExists(resolved) {
                error("secret file '\(path)' does not exist or is not readable", at: reference.location,
                      help: path.hasPrefix("/") || path.hasPrefix("~") ? nil : "relative paths are read from the blueprint's directory (\(environment.baseDirectory ?? "."))")
            }
        case .named(let name):
            if !secrets.contains(where: { $0.name.value == name }) {
                error("secret '\(name)' is not defined under 'secrets:'", at: reference.location,
                      help: Suggestions.closest(to: name, among: secrets.map(\.name.value)).map { "did you mean '\($0)'?" } ?? "add '\(name): generate' (or env:/file:) under 'secrets:'")
            }
        case .generate:
            break
        }
    }

    func resolve(_ path: String) -> String {
        if path.hasPrefix("~/"), let home = environment.variables["HOME"] { return home + path.dropFirst(1) }
        if path.hasPrefix("/") { return path }
        return (environment.baseDirectory.map { $0.isEmpty ? "." : $0 } ?? ".") + "/" + path
    }

    static func isIdentifier(_ text: String) -> Bool {
        guard let first = text.unicodeScalars.first, first.isASCII, first.properties.isAlphabetic else { return false }
        return text.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "_") }
    }
}
