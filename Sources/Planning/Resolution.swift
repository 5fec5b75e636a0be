import Blueprints
import Foundation
import Kinds
import PhotonCore

/// A blueprint checked against its kinds: every group (the management plane, then each cluster)
/// with its kind, resolved role counts, flavors, rollout rules and typed settings.
public struct ResolvedDeployment: Sendable {
    public var blueprint: Blueprint
    /// The management plane first when the blueprint has one, then the clusters in file order.
    public var groups: [ResolvedGroup]
    /// Keys of the `generate` secrets (`secrets.<name>`, `<group>/settings.<name>`): apply makes a value for
    /// each one not yet recorded, before planning.
    public var generatedSecretKeys: [String] = []

    public var machineCount: Int { groups.reduce(0) { $0 + $1.roles.reduce(0) { $0 + $1.count } } }

    /// Every role down to no machine, with the clusters still known: a plan then removes every machine
    /// with its role's teardown steps (how a destroy resets machines photon did not make).
    /// Sets every role of these groups to 0 machines (their teardown steps run; the groups stay known).
    public mutating func retireMachines(ofGroups names: Set<String>) {
        for group in groups.indices where names.contains(groups[group].name) {
            for role in groups[group].roles.indices { groups[group].roles[role].count = 0 }
        }
    }
}

/// The management plane or a cluster, ready to be expanded into machines.
public struct ResolvedGroup: Sendable {
    /// The cluster's name, or `management` for the management plane.
    public var name: String
    public var kind: Kind
    public var isManagement: Bool
    public var roles: [ResolvedRole]
    /// Every declared setting with its value (given or default), by name.
    public var settings: [String: TemplateValue]
    /// What `plan` shows for each setting; secrets show as `(sensitive)`.
    public var settingsDisplay: [(name: String, value: String)]
    public var services: [String: Bool]

    public func role(_ name: String) -> ResolvedRole? { roles.first { $0.name == name } }
}

public struct ResolvedRole: Sendable {
    public var declaration: RoleDeclaration
    public var count: Int
    /// Where the count comes from, for `plan` and `status`.
    public var countSource: CountSource
    /// What the blueprint (or the kind's default) says, when `photon scale` set another count.
    public var blueprintCount: Int?
    public var flavor: Flavor
    public var canaries: Int
    public var maxInFlight: InFlightLimit

    public var name: String { declaration.name }
}

public enum CountSource: String, Sendable, Codable {
    /// Written in the blueprint.
    case blueprint
    /// The blueprint leaves the role out: the kind's default.
    case kindDefault = "kind default"
    /// `photon scale` set it, and the blueprint's count has not changed since.
    case scaled = "photon scale"
}

/// Where secret values come from when the planner must hash a file that holds one.
public struct SecretSource: Sendable {
    public var environment: [String: String]
    public var readFile: @Sendable (String) -> String?
    public var baseDirectory: String

    public init(
        environment: [String: String] = ProcessInfo.processInfo.environment, baseDirectory: String = ".",
        readFile: @escaping @Sendable (String) -> String? = { path in
            FileManager.default.contents(atPath: path).flatMap { String(data: $0, encoding: .utf8) }
        }
    ) {
        self.environment = environment
        self.readFile = readFile
        self.baseDirectory = baseDirectory
    }

    /// The value of `reference` if it can be known before apply; generated secrets come from the recorded state.
    func value(of reference: SecretReference, generated: String?, named: [String: SecretReference]) -> TemplateValue {
        switch reference {
        case .environment(let name):
            return environment[name].map(TemplateValue.sensitive) ?? .unknown("environment variable \(name)")
        case .file(let path):
            var resolved = path
            if path.hasPrefix("~/"), let home = environment["HOME"] {
                resolved = home + path.dropFirst(1)
            } else if !path.hasPrefix("/") {
                resolved = baseDirectory + "/" + path
            }
            guard let content = readFile(resolved) else { return .unknown("file \(path)") }
            // Secret files usually end with a newline that is not part of the secret.
            return .sensitive(content.hasSuffix("\n") ? String(content.dropLast()) : content)
        case .generate:
            return generated.map(TemplateValue.sensitive) ?? .unknown("generated at apply")
        case .named(let name):
            guard let target = named[name], target != reference else { return .unknown("secret \(name)") }
            return value(of: target, generated: generated, named: named)
        }
    }
}

/// The checks that need the kinds: kinds and roles exist, counts follow the kinds' rules, settings
/// have the declared types, the network holds every machine. All problems are reported at once.
public struct Resolver: Sendable {
    public var catalog: KindCatalog
    public var secrets: SecretSource
    public var recorded: RecordedState

    public init(catalog: KindCatalog, secrets: SecretSource = SecretSource(), recorded: RecordedState = .empty) {
        self.catalog = catalog
        self.secrets = secrets
        self.recorded = recorded
    }

    public func resolve(_ blueprint: Blueprint) throws(DiagnosticsError) -> ResolvedDeployment {
        var diagnostics = DiagnosticCollector()
        var groups: [ResolvedGroup] = []
        let namedSecrets = Dictionary(blueprint.secrets.map { ($0.name.value, $0.reference.value) }, uniquingKeysWith: { a, _ in a })

        if let management = blueprint.management {
            if let kind = catalog.kinds[KindCatalog.managementKind] {
                if let group = resolveManagement(management, kind: kind, blueprint: blueprint, named: namedSecrets, diagnostics: &diagnostics) {
                    groups.append(group)
                }
            } else {
                diagnostics.error("the management plane needs the 'management' kind, which is not in \(catalog.directory)", at: management.location)
            }
        }
        for cluster in blueprint.clusters {
            if cluster.name.value == KindCatalog.managementKind {
                diagnostics.error(
                    "the cluster name 'management' is reserved for the management plane", at: cluster.name.location,
                    help: "choose another name")
                continue
            }
            guard let kind = catalog.kinds[cluster.kind.value], kind.name != KindCatalog.managementKind else {
                let names = catalog.clusterKinds.map(\.name)
                diagnostics.error(
                    "unknown kind '\(cluster.kind.value)'", at: cluster.kind.location,
                    help: Suggestions.closest(to: cluster.kind.value, among: names).map { "did you mean '\($0)'?" }
                        ?? "kinds in \(catalog.directory): \(names.joined(separator: ", "))")
                continue
            }
            if let group = resolveCluster(cluster, kind: kind, blueprint: blueprint, named: namedSecrets, diagnostics: &diagnostics) {
                groups.append(group)
            }
        }
        var resolved = ResolvedDeployment(blueprint: blueprint, groups: groups)
        resolved.generatedSecretKeys = blueprint.secrets.filter { $0.reference.value == .generate }.map { "secrets.\($0.name.value)" }
        for cluster in blueprint.clusters {
            guard let kind = catalog.kinds[cluster.kind.value] else { continue }
            resolved.generatedSecretKeys += Self.generatedSettings(kind: kind, given: cluster.settings, group: cluster.name.value)
        }
        if let management = blueprint.management, let kind = catalog.kinds[KindCatalog.managementKind] {
            resolved.generatedSecretKeys += Self.generatedSettings(kind: kind, given: management.settings, group: KindCatalog.managementKind)
        }
        checkLimits(resolved, diagnostics: &diagnostics)
        checkCapacity(resolved, diagnostics: &diagnostics)
        checkOverlaps(resolved, diagnostics: &diagnostics)
        try diagnostics.throwIfAny()
        return resolved
    }

    func resolveManagement(
        _ management: Management, kind: Kind, blueprint: Blueprint, named: [String: SecretReference],
        diagnostics: inout DiagnosticCollector
    ) -> ResolvedGroup? {
        guard let role = kind.roles.first else { return nil }
        var services: [String: Bool] = [:]
        for service in kind.services { services[service.name] = management.services == nil || service.required }
        for service in management.services ?? [] {
            if kind.services.contains(where: { $0.name == service.value }) {
                services[service.value] = true
            } else {
                diagnostics.error(
                    "unknown management service '\(service.value)'", at: service.location,
                    help: Suggestions.help(for: service.value, among: kind.services.map(\.name), noun: "service"))
            }
        }
        if management.services != nil {
            for service in kind.services where service.required && !(management.services ?? []).contains(where: { $0.value == service.name }) {
                diagnostics.error(
                    "the management plane cannot run without its '\(service.name)' service", at: management.location,
                    help: "add '\(service.name)' to management.services (or leave 'services' out to run all)")
            }
        }
        let flavorName = management.flavor?.value ?? role.defaultFlavor ?? "small"
        guard let flavor = flavor(flavorName, in: blueprint, at: management.flavor?.location ?? management.location, diagnostics: &diagnostics) else {
            return nil
        }
        let count = management.machines.value
        if let problem = role.count.problem(with: count) {
            diagnostics.error("management.machines must be \(problem), found \(count)", at: management.machines.location)
        }
        let (settings, display) = resolveSettings(
            management.settings, kind: kind, group: KindCatalog.managementKind, at: management.location, named: named, diagnostics: &diagnostics)
        let rollout = defaultRollout(for: role, count: count, given: nil)
        let resolvedRole = ResolvedRole(
            declaration: role, count: count, countSource: .blueprint, flavor: flavor,
            canaries: rollout.canaries, maxInFlight: rollout.maxInFlight)
        return ResolvedGroup(
            name: KindCatalog.managementKind, kind: kind, isManagement: true, roles: [resolvedRole],
            settings: settings, settingsDisplay: display, services: services)
    }

    // One function: a cluster's roles, counts and their sources resolved against its kind with every error collected.
    func resolveCluster(
        _ cluster: Cluster, kind: Kind, blueprint: Blueprint, named: [String: SecretReference],
        diagnostics: inout DiagnosticCollector
    ) -> ResolvedGroup? {
        for role in cluster.roles where kind.role(role.name.value) == nil {
            diagnostics.error(
                "kind \(kind.name) has no role '\(role.name.value)'", at: role.name.location,
                help: Suggestions.help(for: role.name.value, among: kind.roles.map(\.name), noun: "role"))
        }
        var roles: [ResolvedRole] = []
        for declaration in kind.roles {
            let spec = cluster.role(declaration.name)
            let count: Int
            let source: CountSource
            if let spec {
                count = spec.count.value
                source = .blueprint
                if let problem = declaration.count.problem(with: count) {
                    let rule = declaration.count
                    var help = "kind \(kind.name) allows \(rule.rangeSummary) \(declaration.name)"
                    // Only the odd rule is broken: suggest the odd counts on either side that the range allows.
                    if rule.odd, count % 2 == 0, count >= rule.min, count <= rule.max {
                        let options = [count - 1, count + 1].filter { $0 >= max(rule.min, 1) && $0 <= rule.max }
                        help = "an even number of members tolerates no more failures than one less; use \(options.map(String.init).joined(separator: " or "))"
                    }
                    diagnostics.error(
                        "role '\(declaration.name)' of cluster '\(cluster.name.value)' (\(kind.name)) needs \(problem), found \(count)",
                        at: spec.count.location, help: help)
                }
            } else if let defaultCount = declaration.count.defaultCount {
                count = defaultCount
                source = .kindDefault
            } else {
                diagnostics.error(
                    "cluster '\(cluster.name.value)' must say how many \(declaration.name) it has", at: cluster.rolesLocation ?? cluster.location,
                    help: "add '\(declaration.name): N' under roles (kind \(kind.name) allows \(declaration.count.summary))")
                continue
            }
            // The three-way merge with `photon scale`: its count stands while the blueprint still says what it
            // said when the cluster was scaled; a blueprint changed since wins.
            var merged = count, mergedSource = source
            if let scaled = recorded.scaledCounts["\(cluster.name.value)/\(declaration.name)"], scaled.baseCount == count {
                merged = scaled.count
                mergedSource = .scaled
            }
            let flavorReference = spec?.flavor ?? cluster.flavor
            let flavorName = flavorReference?.value ?? declaration.defaultFlavor ?? "small"
            guard let flavor = flavor(flavorName, in: blueprint, at: flavorReference?.location ?? declaration.location, diagnostics: &diagnostics) else {
                continue
            }
            let given = (spec?.rollout).map { $0.over(cluster.rollout) } ?? cluster.rollout
            let rollout = defaultRollout(for: declaration, count: merged, given: given)
            roles.append(
                ResolvedRole(
                    declaration: declaration, count: merged, countSource: mergedSource, blueprintCount: mergedSource == .scaled ? count : nil, flavor: flavor,
                    canaries: rollout.canaries, maxInFlight: rollout.maxInFlight))
        }
        let (settings, display) = resolveSettings(
            cluster.settings, kind: kind, group: cluster.name.value, at: cluster.location, named: named, diagnostics: &diagnostics)
        return ResolvedGroup(
            name: cluster.name.value, kind: kind, isManagement: false, roles: roles,
            settings: settings, settingsDisplay: display, services: [:])
    }

    /// Defaults: one canary; quorum roles change one machine at a time, others a quarter at a time.
    func defaultRollout(for role: RoleDeclaration, count: Int, given: Rollout?) -> (canaries: Int, maxInFlight: InFlightLimit) {
        let canaries = given?.canaries ?? 1
        let maxInFlight = given?.maxInFlight ?? (role.count.odd ? .count(1) : .percent(25))
        return (canaries, maxInFlight)
    }

    func flavor(_ name: String, in blueprint: Blueprint, at location: SourceLocation, diagnostics: inout DiagnosticCollector) -> Flavor? {
        if let flavor = blueprint.flavors[name] { return flavor }
        diagnostics.error(
            "flavor '\(name)' is not defined", at: location,
            help: Suggestions.closest(to: name, among: blueprint.flavors.keys).map { "did you mean '\($0)'?" } ?? "define it under 'flavors:'")
        return nil
    }
}

/// "1 machine", "3 machines".
func plural(_ count: Int, _ noun: String) -> String {
    "\(count) \(noun)\(count == 1 ? "" : "s")"
}
