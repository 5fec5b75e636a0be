import PhotonCore
import YAMLReader

/// What a kind's machines must have before photon changes anything on them, checked by preflight: on
/// the installer at plan time for local machines (they see this host's root and the blueprint's
/// layers), on each new static machine over SSH before the first step runs anywhere.
public struct Requirement: Sendable {
    public enum Check: Sendable, Hashable {
        /// A program on PATH; with `pattern`, `NAME ARGS` must print a line it matches (a version).
        case command(String, versionArguments: [String], pattern: String?)
        /// A file or folder at an absolute path.
        case file(String)
        /// A kernel module loaded, or built in (its /sys/module folder, or a filesystem it provides).
        case module(String)
        /// At least this much memory.
        case memory(mebibytes: Int)
        /// Nothing listening on this TCP port (static machines; local ones have their own network).
        case freePort(Int)
    }

    public var check: Check
    /// The roles whose machines need it; every role when nil.
    public var roles: [String]?
    /// How to provide it ("Debian package containerd").
    public var help: String?
    public var location: SourceLocation

    public func applies(to role: String) -> Bool { roles?.contains(role) ?? true }

    /// "containerd on PATH", "kernel module br_netfilter", "1700 MiB of memory".
    public var expectation: String {
        switch check {
        case .command(let name, _, let pattern?): return "\(name) on PATH, its version matching \(pattern)"
        case .command(let name, _, nil): return "\(name) on PATH"
        case .file(let path): return path
        case .module(let name): return "kernel module \(name)"
        case .memory(let mebibytes): return "\(mebibytes) MiB of memory"
        case .freePort(let port): return "TCP port \(port) free"
        }
    }
}

extension KindReading {
    /// `requires: [{command: NAME, version: {args: [...], pattern: REGEX}} | {file: PATH} | {module: NAME}
    /// | {memory: SIZE} | {port: N}, each with optional roles and help]`.
    func requiresSection(_ value: YAMLValue, roles: [String]) -> [Requirement] {
        (value.list() ?? []).compactMap { item -> Requirement? in
            guard let section = item.mapping() else { return nil }
            defer { section.finish() }
            let kinds = ["command", "file", "module", "memory", "port"].filter { section.has($0) }
            guard kinds.count == 1, let kind = kinds.first else {
                error("a requirement has one of 'command', 'file', 'module', 'memory', 'port'", at: item.location)
                section.abandon()
                return nil
            }
            var check: Requirement.Check?
            switch kind {
            case "command":
                guard let name = section.required("command")?.string() else { break }
                guard Self.isProgramName(name) else {
                    error("command '\(name)' must be a program name (letters, digits, '.', '_', '+', '-')", at: section.optional("command")?.location)
                    break
                }
                var arguments: [String] = []
                var pattern: String?
                if let version = section.optional("version")?.mapping() {
                    arguments = version.optional("args")?.list()?.compactMap { $0.string() } ?? ["--version"]
                    pattern = version.required("pattern")?.string()
                    version.finish()
                }
                check = .command(name, versionArguments: arguments, pattern: pattern)
            case "file":
                if let path = section.required("file")?.string() {
                    if path.hasPrefix("/"), !path.contains("\n") {
                        check = .file(path)
                    } else {
                        error("file must be an absolute path", at: section.optional("file")?.location)
                    }
                }
            case "module":
                if let name = section.required("module")?.string() {
                    if Self.isProgramName(name) {
                        check = .module(name)
                    } else {
                        error("module '\(name)' is not a module name", at: section.optional("module")?.location)
                    }
                }
            case "memory":
                check = section.required("memory")?.parsed("a size (like 1700MiB or 2GiB)") { Self.mebibytes($0) }.map { .memory(mebibytes: $0) }
            default:
                check = section.required("port")?.int(in: 1...65535).map { .freePort($0) }
            }
            let roleList = section.optional("roles")?.list()?.compactMap { $0.string() }
            for (index, role) in (roleList ?? []).enumerated() where !roles.contains(role) {
                error(
                    "requirement names role '\(role)', which the kind does not have", at: section.optional("roles")?.list()?[index].location,
                    help: Suggestions.help(for: role, among: roles, noun: "role"))
            }
            let help = section.optional("help")?.string()
            return check.map { Requirement(check: $0, roles: roleList, help: help, location: item.location) }
        }
    }

    static func isProgramName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 128 && !name.hasPrefix("-") && !name.hasPrefix(".")
            && name.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "._+-".unicodeScalars.contains($0)) }
    }

    /// `1700MiB`, `2GiB`, `512M`: in MiB.
    static func mebibytes(_ text: String) -> Int? {
        let units: [(String, Double)] = [("GiB", 1024), ("MiB", 1), ("G", 1000 * 1000 * 1000 / 1_048_576), ("M", 1000 * 1000 / 1_048_576)]
        for (suffix, factor) in units where text.hasSuffix(suffix) {
            guard let number = Double(text.dropLast(suffix.count)), number > 0 else { return nil }
            return Int((number * factor).rounded(.up))
        }
        return nil
    }
}
