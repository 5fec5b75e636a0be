import Blueprints
import Drivers
import Foundation
import PhotonCore

/// What the installer keeps for a blueprint, which no local machine may see: photon's state (with
/// every deployment's keys when it is under `.photon/`), the blueprint's folder, and every secret or key
/// file the blueprint names (`ssh.key`, `secrets:`, and `file:` settings of clusters and the plane).
package enum InstallerPaths {
    package static func hidden(for blueprint: Blueprint, stateDirectory: String) -> [HiddenPath] {
        let state = URL(fileURLWithPath: stateDirectory).standardizedFileURL.path
        let parent = (state as NSString).deletingLastPathComponent
        var paths = [HiddenPath((parent as NSString).lastPathComponent == ".photon" ? parent : state, reason: .state)]
        let folder = URL(fileURLWithPath: blueprint.file).standardizedFileURL.deletingLastPathComponent().path
        paths.append(HiddenPath(folder, reason: .blueprint, source: blueprint.file))
        if let key = blueprint.ssh.key, case .file(let path) = key.value {
            paths.append(HiddenPath(resolve(path, in: folder), reason: .keyFile, source: key.location.description))
        }
        for secret in blueprint.secrets {
            if case .file(let path) = secret.reference.value {
                paths.append(HiddenPath(resolve(path, in: folder), reason: .secretFile, source: secret.reference.location.description))
            }
        }
        let settings = blueprint.clusters.flatMap(\.settings) + (blueprint.management?.settings ?? [])
        for setting in settings {
            // A setting's type is the kind's to say; any value written as a file reference is treated as one.
            guard case .scalar(let text, _) = setting.node.content, case .file(let path)? = SecretReference(text) else { continue }
            paths.append(HiddenPath(resolve(path, in: folder), reason: .secretFile, source: setting.node.location.description))
        }
        return paths
    }

    /// A path as the blueprint's `file:` references read it: `~/` from the home folder, relative ones from
    /// the blueprint's folder.
    package static func resolve(_ path: String, in folder: String) -> String {
        let expanded = path.hasPrefix("~/") ? NSHomeDirectory() + path.dropFirst(1) : path
        let absolute = expanded.hasPrefix("/") ? expanded : folder + "/" + expanded
        return URL(fileURLWithPath: absolute).standardizedFileURL.path
    }
}
