import Foundation
import PhotonCore
import YAMLReader

/// The sections about machines: the control plane, static machines, SSH, flavors.
extension BlueprintReading {
    // One function: each driver's keys read in turn, each with its position; a list of keys, not logic to split.
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
                    error(
                        "layer '\(path)' is not a directory", at: item.location,
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
            error(
                "unknown control-plane driver '\(other)'", at: driver?.location, help: Suggestions.help(for: other, among: ["local", "static"], noun: "driver"))
            _ = section.optional("network")
            _ = section.optional("machines")
            _ = section.optional("bridge")
            _ = section.optional("layers")
            return nil
        case nil:
            _ = section.optional("network")
            _ = section.optional("machines")
            _ = section.optional("bridge")
            _ = section.optional("layers")
            return nil
        }
    }

    /// A key of the other driver: say so instead of just "unknown key".
    @discardableResult
    func reportMisplaced(_ key: String, in section: MappingReader, driver: String) -> Bool {
        guard let pair = section.value.node.pairs?.first(where: { $0.key == key }) else { return false }
        error(
            "'\(key)' belongs to 'driver: \(driver)'", at: pair.keyLocation,
            help: driver == "local"
                ? "static machines are listed under 'machines:' with their addresses" : "the local driver makes its own machines on 'network:'")
        return true
    }

    func bridgeName(_ value: YAMLValue) -> String? {
        guard let text = value.string() else { return nil }
        // Linux interface names: at most 15 bytes, no '/', ':' or whitespace.
        guard !text.isEmpty, text.utf8.count <= 15,
            text.unicodeScalars.allSatisfy({ $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "-_.".unicodeScalars.contains($0)) })
        else {
            error(
                "bridge name '\(Self.shown(text))' is not a valid Linux interface name", at: value.location,
                help: "use at most 15 letters, digits, '-', '_' or '.'")
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
            error(
                "'\(Self.shown(name))' is not a valid user name", at: userValue?.location,
                help: "user names are lowercase letters, digits, '_' and '-', starting with a letter or '_'")
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
                error(
                    "'\(Self.shown(user))' is not a valid user name", at: userValue.location,
                    help: "user names are lowercase letters, digits, '_' and '-', starting with a letter or '_'")
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
                guard
                    let number = node.parsed(
                        "a number of CPUs (like 1, 2 or 0.5)",
                        { text -> Double? in
                            guard !text.contains("e"), !text.contains("E") else { return nil }
                            return Double(text)
                        })
                else { return nil }
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
            error(
                "flavor '\(name)' is not defined", at: value.location,
                help: Suggestions.closest(to: name, among: flavors.keys.sorted()).map { "did you mean '\($0)'?" }
                    ?? "define it under 'flavors:' or use one of: \(flavors.keys.sorted().joined(separator: ", "))")
            return nil
        }
        return Located(name, at: value.location)
    }
}
