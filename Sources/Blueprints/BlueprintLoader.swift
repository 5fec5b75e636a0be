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

    public init(
        variables: [String: String] = ProcessInfo.processInfo.environment, baseDirectory: String? = nil,
        fileExists: @escaping @Sendable (String) -> Bool = { FileManager.default.isReadableFile(atPath: $0) },
        directoryExists: @escaping @Sendable (String) -> Bool = { path in
            var isDirectory: ObjCBool = false
            return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue
        }
    ) {
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

    /// Reads and loads the blueprint at `path` (`-`: standard input, its relative paths from the current folder).
    public func load(path: String) throws -> Blueprint {
        let data = try Self.read(path)
        var environment = environment
        if environment.baseDirectory == nil {
            environment.baseDirectory =
                path == "-" ? FileManager.default.currentDirectoryPath : URL(fileURLWithPath: path).deletingLastPathComponent().path
        }
        if Self.isSavedPlan(data) {
            throw PhotonError(
                "'\(path)' is a plan saved by 'photon plan -o', not a blueprint", help: "run it with 'photon apply \(path)', or give the blueprint with -f")
        }
        return try BlueprintLoader(environment: environment, limits: limits).load(bytes: Array(data), file: path == "-" ? "<stdin>" : path)
    }

    /// The file's bytes, or an error that says in words why not (a folder, missing, not readable).
    static func read(_ path: String) throws -> Data {
        if path == "-" { return FileHandle.standardInput.readDataToEndOfFile() }
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), isFolder.boolValue {
            throw PhotonError(
                "cannot read blueprint '\(path)': it is a folder, not a file", help: "give the blueprint's YAML file with -f (or - for standard input)")
        }
        do {
            return try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw PhotonError("cannot read blueprint '\(path)': \(Self.reason(error))", help: "check the path given with -f (or give - for standard input)")
        }
    }

    /// A JSON document with a plan's format version and actions.
    static func isSavedPlan(_ data: Data) -> Bool {
        guard data.first == UInt8(ascii: "{"), let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return false }
        return object["formatVersion"] != nil && object["actions"] != nil
    }

    /// Loads a blueprint from bytes; `file` names it in messages.
    public func load(bytes: [UInt8], file: String) throws(DiagnosticsError) -> Blueprint {
        guard let root = try YAMLParser.parse(bytes, file: file, limits: limits) else {
            throw DiagnosticsError(
                Diagnostic(
                    "the blueprint is empty", at: SourceLocation(file: file, line: 1, column: 1),
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
        if nsError.domain == NSCocoaErrorDomain, nsError.code == NSFileReadNoPermissionError { return "permission denied" }
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
        let binaries = top.optional("binaries").flatMap(binariesSection) ?? BinarySources()
        top.finish()

        for secret in secrets { checkSecret(secret.reference, secrets: secrets) }
        if let name, let controlPlane {
            checkMachineNames(deployment: name, clusters: clusters)
            var blueprint = Blueprint(
                file: file, digest: digest, name: name, controlPlane: controlPlane, ssh: ssh, flavors: allFlavors,
                management: management, clusters: clusters, secrets: secrets, location: root.location)
            blueprint.binaries = binaries
            return blueprint
        }
        return nil
    }

    // MARK: Names

    /// A name that becomes part of host names.
    func label(_ value: YAMLValue, what: String) -> Located<String>? {
        guard let text = value.string() else { return nil }
        if let problem = Hostname.problem(withLabel: text) {
            error(
                "\(what) '\(Self.shown(text))' is not a valid host name part: \(problem)", at: value.location,
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
            if scalar.isASCII, scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) {
                out.unicodeScalars.append(scalar)
            } else if !out.hasSuffix("-") {
                out += "-"
            }
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
                    error(
                        "machine names of cluster '\(cluster.name.value)' role '\(role.name.value)' would be \(longest.utf8.count) characters ('\(longest)'); host names allow 63",
                        at: cluster.name.location, help: "shorten the deployment or cluster name")
                }
            }
        }
    }
}
