import ArgumentParser
import Blueprints
import Deployments
import Etcd
import Foundation
import PhotonCore
import PlaneAPI
import Planning
import StateStore

/// The flags that say where a deployment's state lives.
struct StateOptions: ParsableArguments {
    @Option(name: .customLong("state"), help: ArgumentHelp("The deployment's state directory (default: .photon/<deployment>).", valueName: "dir"))
    var directory: String?

    @Flag(help: "Use the state on this machine even when a management plane runs the deployment (to repair or re-bootstrap the plane).")
    var local = false

    var location: StateLocation { StateLocation(directory: directory, local: local) }

    func validate() throws {
        var isFolder: ObjCBool = false
        if let directory, FileManager.default.fileExists(atPath: directory, isDirectory: &isFolder), !isFolder.boolValue {
            throw ValidationError("--state \(directory) is a file; it takes the folder a deployment's state is kept in (like .photon/NAME)")
        }
    }

    func directory(for deployment: String) -> String { location.directory(for: deployment) }
    func open(deployment: String) async throws -> OpenedState { try await location.open(deployment: deployment) }
    func recorded(deployment: String) async throws -> RecordedState { try await location.recorded(deployment: deployment) }
}
