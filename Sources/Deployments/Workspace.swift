import Blueprints
import Foundation
import Kinds
import PhotonCore
import Planning
import SSH

/// What a command needs to plan: the kinds, and photon's own executable as an artifact.
package struct Workspace {
    package var catalog: KindCatalog
    /// The folder the kinds were read from.
    package var directory: String
    /// Inside the management plane: the secrets the installer resolved; the only ones that exist there.
    package var planeSecrets: PlaneSecrets?

    package init(templates: String?) throws {
        directory = try Workspace.templatesDirectory(explicit: templates)
        catalog = try KindCatalog.load(directory: directory)
    }

    /// `--templates`, then `$PHOTON_TEMPLATES`, then the templates installed beside photon
    /// (`<prefix>/share/photon/templates`) or in the source tree it was built from, then `./templates`.
    package static func templatesDirectory(explicit: String?) throws -> String {
        if let explicit { return explicit }
        let environment = ProcessInfo.processInfo.environment
        if let fromEnvironment = environment["PHOTON_TEMPLATES"], !fromEnvironment.isEmpty { return fromEnvironment }
        let fileManager = FileManager.default
        func isKindFolder(_ path: String) -> Bool {
            ((try? fileManager.contentsOfDirectory(atPath: path)) ?? []).contains { fileManager.fileExists(atPath: "\(path)/\($0)/kind.yaml") }
        }
        let executable = RunningExecutable.url
        var directory = executable.deletingLastPathComponent()
        for _ in 0..<6 {
            for candidate in [directory.appendingPathComponent("share/photon/templates").path, directory.appendingPathComponent("templates").path]
            where isKindFolder(candidate) {
                return candidate
            }
            directory = directory.deletingLastPathComponent()
        }
        let local = fileManager.currentDirectoryPath + "/templates"
        if isKindFolder(local) { return local }
        throw PhotonError(
            "cannot find the cluster kinds (templates/)",
            help: "pass --templates DIR or set PHOTON_TEMPLATES to the templates folder of the photon source tree")
    }

    /// photon's own executable, which the management plane runs as its API server.
    package static func photonArtifact() -> Artifact? {
        let path = RunningExecutable.path
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        var hasher = StreamingDigest()
        while let chunk = try? handle.read(upToCount: 4 << 20), !chunk.isEmpty { hasher.update(chunk) }
        return Artifact(path: path, sha256: hasher.finalize())
    }

    package func loadBlueprint(_ path: String) throws -> Blueprint {
        let blueprint = try BlueprintLoader(environment: planeSecrets?.loadEnvironment ?? LoadEnvironment()).load(path: path)
        // A key photon cannot sign with is refused where the blueprint names it, before any connection.
        if let key = blueprint.ssh.key, case .file(let file) = key.value {
            let resolved = InstallerPaths.resolve(file, in: URL(fileURLWithPath: blueprint.file).standardizedFileURL.deletingLastPathComponent().path)
            if let data = FileManager.default.contents(atPath: resolved), let problem = SSHKeys.unusableKeyProblem(String(decoding: data, as: UTF8.self)) {
                throw DiagnosticsError(Diagnostic("ssh.key \(file): \(problem)", at: key.location, help: "ssh-keygen -t ed25519 makes one photon can use"))
            }
        }
        return blueprint
    }

    /// The installer's cache of the kinds' binaries, by digest.
    package static func binaryCache(stateDirectory: String) -> String { stateDirectory + "/binaries" }

    package func planner(for blueprint: Blueprint, planeFiles: [String: String] = [:], stateDirectory: String? = nil) -> Planner {
        var artifacts: [String: Artifact] = [:]
        if blueprint.management != nil, let photon = Workspace.photonArtifact() { artifacts["photon"] = photon }
        for (name, path) in planeFiles where blueprint.management != nil {
            if let data = FileManager.default.contents(atPath: path) { artifacts[name] = Artifact(path: path, sha256: ContentDigest.sha256(Array(data))) }
        }
        var planner = Planner(catalog: catalog, secrets: secrets(for: blueprint), artifacts: artifacts, photonVersion: PhotonVersion.current)
        planner.binaries = BinarySupply(sources: blueprint.binaries, cacheDirectory: stateDirectory.map(Self.binaryCache) ?? "")
        return planner
    }

    /// Where the blueprint's `file:` secrets are read from: beside the blueprint (inside the plane, from
    /// what the installer sent).
    package func secrets(for blueprint: Blueprint) -> SecretSource {
        if let planeSecrets { return planeSecrets.source }
        let base = URL(fileURLWithPath: blueprint.file).deletingLastPathComponent().path
        return SecretSource(baseDirectory: base.isEmpty ? "." : base)
    }
}
