import Blueprints
import Foundation
import Kinds
import PhotonCore
import Planning

/// `photon bundle`: every binary a blueprint's clusters need, gathered into one folder laid out
/// `<arch>/<file>` for an installer without network (`binaries: {from: FOLDER}`), or for a mirror.
package enum BinaryBundle {
    /// A file in the bundle.
    package struct Entry: Sendable {
        package var file: BinaryFile
        package var size: Int
        /// Whether this run brought it (false: the folder had it already, with the right digest).
        package var fetched: Bool
    }

    /// Fetches what `folder` lacks (checked by digest) from the blueprint's sources; refuses a blueprint
    /// whose kinds need a build photon cannot bring, one error per binary.
    package static func gather(
        blueprintPath: String, templates: String?, into folder: String, arch: String?, report: @escaping @Sendable (String) -> Void
    ) async throws -> [Entry] {
        let workspace = try Workspace(templates: templates)
        let blueprint = try workspace.loadBlueprint(blueprintPath)
        let resolved = try Resolver(catalog: workspace.catalog, secrets: workspace.secrets(for: blueprint)).resolve(blueprint)
        let root = URL(fileURLWithPath: folder).standardizedFileURL.path
        let staging = root + "/.incoming"
        let supply = BinarySupply(sources: blueprint.binaries, cacheDirectory: staging, arch: arch ?? BinarySupply.hostArchitecture)
        let missing = try supply.missing(for: resolved, catalog: workspace.catalog)
        if !missing.isEmpty { throw DiagnosticsError(missing) }
        let files = try supply.bundleFiles(for: resolved, catalog: workspace.catalog)
        var entries: [Entry] = []
        var wanted: [BinaryFile] = []
        for file in files {
            let path = root + "/" + file.bundlePath
            // A file already in the folder stays when its digest is right; anything else there is replaced.
            if FileManager.default.fileExists(atPath: path), (try? await OwnThread.run { try BinaryFetcher.digest(of: path) }) == file.sha256 {
                entries.append(Entry(file: file, size: size(path), fetched: false))
            } else {
                wanted.append(file)
            }
        }
        let fetcher = BinaryFetcher(cacheDirectory: staging)
        var seen = Set<String>()
        try await fetcher.fetch(wanted.filter { seen.insert($0.sha256).inserted }, report: report)
        for file in wanted {
            let path = root + "/" + file.bundlePath
            try FileManager.default.createDirectory(atPath: root + "/" + file.arch, withIntermediateDirectories: true)
            // Written beside its place, then renamed: the folder never holds half a file under a bundle name.
            let temporary = path + ".incoming"
            try? FileManager.default.removeItem(atPath: temporary)
            try FileManager.default.copyItem(atPath: fetcher.cachedPath(file), toPath: temporary)
            chmod(temporary, 0o644)
            guard rename(temporary, path) == 0 else { throw PhotonError("cannot write \(path): \(String(cString: strerror(errno)))") }
            entries.append(Entry(file: file, size: size(path), fetched: true))
        }
        try? FileManager.default.removeItem(atPath: staging)
        return entries.sorted { $0.file.bundlePath < $1.file.bundlePath }
    }

    static func size(_ path: String) -> Int { (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0 }
}
