import Foundation
import PhotonCore
import YAMLReader

/// The sections about what runs: the management plane, clusters and their roles, settings, secrets.
extension BlueprintReading {
    func managementSection(_ value: YAMLValue, flavors: [String: Flavor]) -> Management? {
        guard let section = value.mapping() else { return nil }
        defer { section.finish() }
        let machinesValue = section.required("machines")
        var machines = machinesValue.flatMap { $0.int() }
        if let count = machines, ![1, 3, 5].contains(count) {
            error(
                "management.machines must be 1, 3 or 5, found \(count)", at: machinesValue?.location,
                help: "the management plane's etcd needs an odd number of members: 1 (no fault tolerance), 3 or 5")
            machines = nil
        }
        let flavor = section.optional("flavor").flatMap { flavorReference($0, flavors: flavors) }
        let services = section.optional("services").flatMap { list -> [Located<String>]? in
            list.list()?.compactMap { item in item.string().map { Located($0, at: item.location) } }
        }
        let settings = section.optional("settings").map(settingsSection) ?? []
        guard let machines, let machinesValue else { return nil }
        return Management(
            machines: Located(machines, at: machinesValue.location), flavor: flavor, services: services, settings: settings, location: section.location)
    }

    func clustersSection(_ value: YAMLValue, flavors: [String: Flavor], secrets: [NamedSecret]) -> [Cluster] {
        guard let items = value.list() else { return [] }
        var clusters: [Cluster] = []
        var firstByName: [String: SourceLocation] = [:]
        for item in items {
            guard let cluster = cluster(item, flavors: flavors, secrets: secrets) else { continue }
            if let first = firstByName[cluster.name.value] {
                error(
                    "duplicate cluster name '\(cluster.name.value)'", at: cluster.name.location,
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
        return Cluster(
            name: name, kind: kind, roles: roles, flavor: flavor, settings: settings, rollout: rollout,
            location: section.location, rolesLocation: rolesValue?.location)
    }

    func rolesSection(_ value: YAMLValue, flavors: [String: Flavor]) -> [RoleSpec] {
        var roles: [RoleSpec] = []
        for (name, keyLocation, body) in value.entries() ?? [] {
            if let problem = Hostname.problem(withLabel: name) {
                error(
                    "role name '\(Self.shown(name))' is not a valid host name part: \(problem)", at: keyLocation,
                    help: "use the role names of the cluster's kind ('photon kinds' lists them), for example '\(Self.suggestedLabel(name))'")
                continue
            }
            let roleName = Located(name, at: keyLocation)
            // `workers: 3` is shorthand for `workers: {count: 3}`.
            if case .scalar = body.node.content {
                guard let count = body.int(in: -100_000...100_000) else { continue }
                roles.append(RoleSpec(name: roleName, count: Located(count, at: body.location)))
                continue
            }
            guard let section = body.mapping() else { continue }
            let countValue = section.required("count")
            let count = countValue?.int(in: -100_000...100_000)
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
                error(
                    "secret name '\(Self.shown(name))' is not valid", at: keyLocation,
                    help: "use letters, digits and '_', starting with a letter, so templates can name it as secrets.\(fixed.isEmpty ? "token" : fixed)")
                continue
            }
            guard let reference = secretReference(body) else { continue }
            if case .named = reference.value {
                error(
                    "a secret under 'secrets:' must say where its value comes from, not name another secret", at: body.location,
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
            error(
                "'\(Self.shown(text))' is not a secret reference", at: value.location,
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
                error(
                    "secret file '\(path)' does not exist or is not readable", at: reference.location,
                    help: path.hasPrefix("/") || path.hasPrefix("~")
                        ? nil : "relative paths are read from the blueprint's directory (\(environment.baseDirectory ?? "."))")
            }
        case .named(let name):
            if !secrets.contains(where: { $0.name.value == name }) {
                error(
                    "secret '\(name)' is not defined under 'secrets:'", at: reference.location,
                    help: Suggestions.closest(to: name, among: secrets.map(\.name.value)).map { "did you mean '\($0)'?" }
                        ?? "add '\(name): generate' (or env:/file:) under 'secrets:'")
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
