import Blueprints
import Foundation
import Kinds
import PhotonCore

/// A binary a cluster needs, resolved for the cluster's version and the machines' architecture.
public struct BinaryFile: Sendable, Hashable, Codable {
    public var name: String
    /// The file's own release (crictl 1.30.0 for Kubernetes 1.30.4).
    public var release: String
    public var arch: String
    /// Its name in a bundle or mirror, under `<arch>/`.
    public var fileName: String
    public var sha256: String
    /// A URL, or a path on the installer.
    public var source: String

    public init(name: String, release: String, arch: String, fileName: String, sha256: String, source: String) {
        self.name = name
        self.release = release
        self.arch = arch
        self.fileName = fileName
        self.sha256 = sha256
        self.source = source
    }

    /// "kubeadm 1.30.4 (amd64)".
    public var label: String { "\(name) \(release) (\(arch))" }
    public var isDownload: Bool { BinarySources.isURL(source) }
    /// Where a bundle keeps it.
    public var bundlePath: String { "\(arch)/\(fileName)" }
}

/// Where the binaries come from (the blueprint's `binaries:`), the machines' architecture, and the
/// installer's content-addressed cache they are uploaded from.
public struct BinarySupply: Sendable {
    public var sources: BinarySources
    /// `<state>/cache/sha256`: one file per digest.
    public var cacheDirectory: String
    public var arch: String

    public init(sources: BinarySources = BinarySources(), cacheDirectory: String = "", arch: String = BinarySupply.hostArchitecture) {
        self.sources = sources
        self.cacheDirectory = cacheDirectory
        self.arch = arch
    }

    /// The installer's architecture by Kubernetes' names (amd64, arm64): local machines share its kernel.
    public static let hostArchitecture: String = {
        var name = utsname()
        uname(&name)
        let machine = withUnsafeBytes(of: &name.machine) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        return BinaryDeclaration.architectures[machine] ?? machine
    }()

    public func cachePath(_ digest: String) -> String { "\(cacheDirectory)/\(digest)" }

    static func artifactKey(group: String, binary: String) -> String { "binary \(group)/\(binary)" }

    /// Every binary the deployment's clusters need that has a source and a digest, once per digest.
    public func files(for deployment: ResolvedDeployment, catalog: KindCatalog) throws(DiagnosticsError) -> [BinaryFile] {
        var seen = Set<String>()
        return try resolve(deployment, catalog: catalog).files.values.flatMap { $0.values }.sorted { $0.label < $1.label }
            .filter { seen.insert($0.sha256).inserted }
    }

    /// Every file as a bundle holds it (`ARCH/FILE`): two names with one digest are two files there.
    public func bundleFiles(for deployment: ResolvedDeployment, catalog: KindCatalog) throws(DiagnosticsError) -> [BinaryFile] {
        var seen = Set<String>()
        return try resolve(deployment, catalog: catalog).files.values.flatMap { $0.values }.sorted { $0.bundlePath < $1.bundlePath }
            .filter { seen.insert($0.bundlePath).inserted }
    }

    /// One error per binary that has no source or no digest: what apply refuses to start without, and
    /// what a plan shows as a warning (it still previews the rest).
    public func missing(for deployment: ResolvedDeployment, catalog: KindCatalog) throws(DiagnosticsError) -> [Diagnostic] {
        try resolve(deployment, catalog: catalog).missing
    }

    /// The artifact of every binary a group's steps upload, by ``artifactKey(group:binary:)``.
    func artifacts(for deployment: ResolvedDeployment, catalog: KindCatalog) throws(DiagnosticsError) -> [String: Artifact] {
        var artifacts: [String: Artifact] = [:]
        for (group, files) in try resolve(deployment, catalog: catalog).files {
            for (name, file) in files {
                artifacts[Self.artifactKey(group: group, binary: name)] = Artifact(path: cachePath(file.sha256), sha256: file.sha256, label: file.label)
            }
        }
        return artifacts
    }

    /// By group, by binary name, and what is missing; throws for a digest the blueprint pins for a
    /// binary no kind brings (a typo).
    func resolve(
        _ deployment: ResolvedDeployment, catalog: KindCatalog
    ) throws(DiagnosticsError) -> (files: [String: [String: BinaryFile]], missing: [Diagnostic]) {
        var missing: [Diagnostic] = []
        var files: [String: [String: BinaryFile]] = [:]
        let known = Set(catalog.kinds.values.flatMap(\.binaries.keys))
        for group in deployment.groups where !group.kind.binaries.isEmpty && group.roles.contains(where: { $0.count > 0 }) {
            guard case .text(let version)? = group.settings["version"] else { continue }
            let cluster = deployment.blueprint.clusters.first { $0.name.value == group.name }
            let location = cluster?.settings.first { $0.name == "version" }?.keyLocation ?? cluster?.location
            for declaration in group.kind.binaries.values.sorted(by: { $0.name < $1.name }) {
                switch file(declaration, kind: group.kind.name, version: version) {
                case .success(let file): files[group.name, default: [:]][declaration.name] = file
                case .failure(let problem): missing.append(Diagnostic(problem.message, at: location, help: problem.help))
                }
            }
        }
        var diagnostics = DiagnosticCollector()
        for (name, digest) in sources.sha256.sorted(by: { $0.key < $1.key }) where !known.contains(name) {
            diagnostics.error(
                "binaries.sha256 names '\(name)', which no kind brings", at: digest.location,
                help: Suggestions.help(for: name, among: known.sorted(), noun: "binary"))
        }
        try diagnostics.throwIfAny()
        return (files, missing)
    }

    struct Problem: Error {
        var message: String
        var help: String
    }

    func file(_ declaration: BinaryDeclaration, kind: String, version: String) -> Result<BinaryFile, Problem> {
        let name = declaration.name
        let known = declaration.releases[version]
        let release = known?.release ?? version
        guard let sha256 = sources.sha256[name]?.value ?? known?.sha256[arch] else {
            if declaration.releases.isEmpty {
                return .failure(
                    Problem(
                        message: "kind \(kind) needs your build of \(name) \(version) for \(arch): its software publishes none photon can pin",
                        help:
                            "give binaries.sha256.\(name) (`sha256sum` of your file) and binaries.from (a folder or mirror with \(arch)/\(declaration.fileName(release: release, arch: arch)))"
                    ))
            }
            let versions = declaration.releases.filter { $0.value.sha256[arch] != nil }.keys.sorted()
            return .failure(
                Problem(
                    message: "kind \(kind) knows no \(name) for version \(version) on \(arch)"
                        + (versions.isEmpty ? "" : " (it knows \(versions.joined(separator: ", ")))"),
                    help:
                        "use a version the kind knows, or give binaries.sha256.\(name) (the digest of your own file) and binaries.from (a folder or mirror with \(arch)/\(declaration.fileName(release: release, arch: arch)))"
                ))
        }
        let fileName = declaration.fileName(release: release, arch: arch)
        let source: String
        if let from = sources.from?.value {
            source = "\(from)/\(arch)/\(fileName)"
        } else if let url = declaration.url {
            source = BinaryDeclaration.expand(url, release: release, arch: arch)
        } else {
            return .failure(
                Problem(
                    message: "kind \(kind) has no download for \(name): its software publishes no binaries",
                    help: "give binaries.from: a folder or mirror with \(arch)/\(fileName) (your own build, with binaries.sha256.\(name))"))
        }
        return .success(BinaryFile(name: name, release: release, arch: arch, fileName: fileName, sha256: sha256, source: source))
    }
}
