import Blueprints
import Foundation
import Kinds
import PhotonCore

extension Resolver {
    // MARK: Settings

    func resolveSettings(
        _ given: [Setting], kind: Kind, group: String, at location: SourceLocation, named: [String: SecretReference],
        diagnostics: inout DiagnosticCollector
    ) -> ([String: TemplateValue], [(name: String, value: String)]) {
        var values: [String: TemplateValue] = [:]
        var display: [(name: String, value: String)] = []
        for setting in given where kind.setting(setting.name) == nil {
            diagnostics.error(
                "kind \(kind.name) has no setting '\(setting.name)'", at: setting.keyLocation,
                help: Suggestions.help(for: setting.name, among: kind.settings.map(\.name), noun: "setting"))
        }
        for declaration in kind.settings {
            let setting = given.first { $0.name == declaration.name }
            let raw: SettingValue
            if let setting {
                raw = setting.node
            } else if let defaultValue = declaration.defaultValue {
                switch defaultValue {
                case .scalar(let text): raw = SettingValue(.scalar(text, quoted: false), at: declaration.location)
                case .list(let items): raw = SettingValue(.list(items.map { Located($0, at: declaration.location) }), at: declaration.location)
                }
            } else {
                let where_ = group == KindCatalog.managementKind ? "management.settings" : "the settings of cluster '\(group)'"
                diagnostics.error(
                    "\(where_) must set '\(declaration.name)'", at: location,
                    help: declaration.description.isEmpty ? nil : declaration.description)
                continue
            }
            let path = group == KindCatalog.managementKind ? "management.settings.\(declaration.name)" : "settings.\(declaration.name)"
            guard let value = typed(raw, declaration, path: path, group: group, named: named, diagnostics: &diagnostics) else { continue }
            // Only for a cluster that still has machines: one made again from nothing starts at any version.
            if let rule = declaration.upgrade, case .text(let text) = value.value,
                let applied = recorded.generatedSecrets[Self.appliedVersionKey(group: group, setting: declaration.name)],
                recorded.machines.contains(where: { $0.group == group })
            {
                checkUpgrade(from: applied, to: text, rule: rule, kind: kind.name, path: path, at: raw.location, diagnostics: &diagnostics)
            }
            values[declaration.name] = value.value
            display.append((declaration.name, value.display))
        }
        return (values, display)
    }

    // One switch over the setting types, each case a few lines: the checks of every type read side by side.
    func typed(
        _ raw: SettingValue, _ declaration: SettingDeclaration, path: String, group: String, named: [String: SecretReference],
        diagnostics: inout DiagnosticCollector
    ) -> (value: TemplateValue, display: String)? {
        func mismatch() -> (value: TemplateValue, display: String)? {
            let found: String
            switch raw.content {
            case .scalar(let text, let quoted): found = quoted ? "the string \"\(text)\"" : "'\(text)'"
            case .list: found = "a list"
            case .mapping: found = "a mapping"
            }
            diagnostics.error("expected \(declaration.type.expectation) for \(path), found \(found)", at: raw.location)
            return nil
        }
        if declaration.type == .list {
            guard case .list(let items) = raw.content else { return mismatch() }
            return (.list(items.map { .text($0.value) }), "[" + items.map(\.value).joined(separator: ", ") + "]")
        }
        guard case .scalar(let text, let quoted) = raw.content else { return mismatch() }
        if !declaration.allowed.isEmpty, !declaration.allowed.contains(text) {
            diagnostics.error(
                "\(path) must be one of \(declaration.allowed.joined(separator: ", ")), found '\(text)'", at: raw.location,
                help: Suggestions.closest(to: text, among: declaration.allowed).map { "did you mean '\($0)'?" })
            return nil
        }
        switch declaration.type {
        case .string:
            return (.text(text), text)
        case .int:
            guard !quoted, let number = Int(text) else { return mismatch() }
            return (.number(number), String(number))
        case .port:
            guard !quoted, let number = Int(text), (1...65535).contains(number) else { return mismatch() }
            return (.number(number), String(number))
        case .bool:
            guard !quoted, text == "true" || text == "false" else { return mismatch() }
            return (.bool(text == "true"), text)
        case .cidr:
            guard let network = IPv4Network(text) else { return mismatch() }
            if network.hasHostBits {
                diagnostics.error("\(path) \(network) has host bits set", at: raw.location, help: "did you mean \(network.network)/\(network.prefixLength)?")
                return nil
            }
            return (.text(network.description), network.description)
        case .version:
            guard Self.isVersion(text) else { return mismatch() }
            return (.text(text), text)
        case .duration:
            guard let span = TimeSpan(text) else { return mismatch() }
            return (.text(span.description), span.description)
        case .secret:
            guard let reference = SecretReference(text) else { return mismatch() }
            if case .named(let name) = reference, named[name] == nil {
                diagnostics.error(
                    "secret '\(name)' is not defined under 'secrets:'", at: raw.location,
                    help: Suggestions.closest(to: name, among: named.keys).map { "did you mean '\($0)'?" } ?? "add '\(name): generate' under 'secrets:'")
                return nil
            }
            if case .environment(let variable) = reference, secrets.environment[variable] == nil {
                diagnostics.error(
                    "environment variable \(variable) is not set", at: raw.location, help: "export \(variable) before running photon, or use 'generate'")
                return nil
            }
            // A named secret is generated once for the deployment; an inline `generate` once per setting.
            var generatedKey = "\(group)/settings.\(declaration.name)"
            if case .named(let name) = reference { generatedKey = "secrets.\(name)" }
            let generated = recorded.generatedSecrets[generatedKey]
            return (secrets.value(of: reference, generated: generated, named: named), "(sensitive)")
        case .list:
            return mismatch()
        case .path, .image, .size, .domain, .hostname:
            if let problem = declaration.type.shapeProblem(text) {
                diagnostics.error("\(path) '\(text)' \(problem)", at: raw.location, help: "expected \(declaration.type.expectation)")
                return nil
            }
            return (.text(text), text)
        }
    }

    /// Secret settings whose value is `generate`, given or by default.
    static func generatedSettings(kind: Kind, given: [Setting], group: String) -> [String] {
        kind.settings.filter { $0.type == .secret }.compactMap { declaration in
            let text: String?
            if let setting = given.first(where: { $0.name == declaration.name }) {
                if case .scalar(let value, _) = setting.node.content { text = value } else { text = nil }
            } else if case .scalar(let value)? = declaration.defaultValue {
                text = value
            } else {
                text = nil
            }
            return text == "generate" ? "\(group)/settings.\(declaration.name)" : nil
        }
    }

    /// Where the version a cluster was last applied with is recorded (with the generated secrets).
    public static func appliedVersionKey(group: String, setting: String) -> String { "\(group)/applied.\(setting)" }

    /// Refuses a version the software cannot move to from the one last applied.
    func checkUpgrade(
        from applied: String, to wanted: String, rule: UpgradeRule, kind: String, path: String, at location: SourceLocation,
        diagnostics: inout DiagnosticCollector
    ) {
        guard let old = Self.versionNumbers(applied), let new = Self.versionNumbers(wanted) else { return }
        if !rule.downgrade, new.lexicographicallyPrecedes(old) {
            diagnostics.error(
                "\(path) \(wanted) is lower than \(applied), which the cluster was last applied with: \(kind) does not go back to an older version",
                at: location, help: "set \(applied) or later; to go back, restore a backup taken at that version into a cluster made with it")
        }
        if let steps = rule.minorSteps, old.count >= 2, new.count >= 2, new[0] == old[0], new[1] > old[1] + steps {
            diagnostics.error(
                "\(path) \(wanted) is more than \(steps) minor version\(steps == 1 ? "" : "s") above \(applied): \(kind) upgrades \(steps) minor at a time",
                at: location, help: "upgrade to \(old[0]).\(old[1] + steps).x first, apply, then go on")
        }
    }

    /// 1.30.4 → [1, 30, 4] (a leading v and a pre-release or build suffix ignored).
    static func versionNumbers(_ text: String) -> [Int]? {
        var core = Substring(text)
        if core.hasPrefix("v") { core = core.dropFirst() }
        if let suffix = core.firstIndex(where: { $0 == "-" || $0 == "+" }) { core = core[..<suffix] }
        let parts = core.split(separator: ".").map { Int($0) }
        return parts.contains(nil) || parts.isEmpty ? nil : parts.compactMap { $0 }
    }

    static func isVersion(_ text: String) -> Bool {
        var core = Substring(text)
        if core.hasPrefix("v") { core = core.dropFirst() }
        if let suffix = core.firstIndex(where: { $0 == "-" || $0 == "+" }) {
            let rest = core[core.index(after: suffix)...]
            guard !rest.isEmpty, rest.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "." || $0 == "-" }) else { return false }
            core = core[..<suffix]
        }
        let parts = core.split(separator: ".", omittingEmptySubsequences: false)
        return (2...4).contains(parts.count) && parts.allSatisfy { !$0.isEmpty && $0.allSatisfy(\.isNumber) && $0.allSatisfy(\.isASCII) }
    }

    // MARK: Whole-deployment checks

    func checkCapacity(_ deployment: ResolvedDeployment, diagnostics: inout DiagnosticCollector) {
        let needed = deployment.machineCount
        switch deployment.blueprint.controlPlane {
        case .local(let local):
            let available = AddressPlan.capacity(of: local.network.value)
            if needed > available {
                var prefix = local.network.value.prefixLength
                while prefix > 8, AddressPlan.capacity(of: IPv4Network(base: local.network.value.base, prefixLength: prefix)) < needed { prefix -= 1 }
                diagnostics.error(
                    "network \(local.network.value) has room for \(plural(available, "machine")), the blueprint needs \(needed)", at: local.network.location,
                    help: "use a larger network, such as a /\(prefix)")
            }
        case .static(let plane):
            if needed > plane.machines.count {
                diagnostics.error(
                    "the static control plane lists \(plural(plane.machines.count, "machine")), the blueprint needs \(needed)", at: plane.location,
                    help: "list \(plural(needed - plane.machines.count, "more machine")) or lower the role counts")
            }
        }
    }

    /// Cluster networks (pod, service, overlay ranges), given or default, must not overlap the machines' network.
    func checkOverlaps(_ deployment: ResolvedDeployment, diagnostics: inout DiagnosticCollector) {
        guard case .local(let local) = deployment.blueprint.controlPlane else { return }
        for group in deployment.groups {
            let cluster = deployment.blueprint.clusters.first { $0.name.value == group.name }
            for declaration in group.kind.settings where declaration.type == .cidr {
                guard case .text(let text)? = group.settings[declaration.name], let network = IPv4Network(text),
                    network.overlaps(local.network.value)
                else { continue }
                if let given = cluster?.settings.first(where: { $0.name == declaration.name }) {
                    diagnostics.error(
                        "settings.\(declaration.name) \(network) overlaps the machines' network \(local.network.value)", at: given.node.location,
                        help: "choose a range outside \(local.network.value)")
                } else {
                    diagnostics.error(
                        "the default \(declaration.name) of kind \(group.kind.name), \(network), overlaps the machines' network \(local.network.value)",
                        at: cluster?.name.location ?? local.network.location,
                        help: "set settings.\(declaration.name) to a range outside \(local.network.value), or move the machines' network")
                }
            }
        }
    }
}
