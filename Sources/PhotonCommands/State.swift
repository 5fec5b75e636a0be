import ArgumentParser
import Blueprints
import Foundation
import Planning
import PhotonCore
import StateStore

/// Where a deployment's state lives.
struct StateOptions: ParsableArguments {
    @Option(name: .customLong("state"), help: ArgumentHelp("The deployment's state directory (default: .photon/<deployment>).", valueName: "dir"))
    var directory: String?

    func directory(for deployment: String) -> String {
        directory ?? ".photon/\(deployment)"
    }

    func open(deployment: String) throws -> StateStore {
        try StateStore.open(directory: directory(for: deployment), deployment: deployment)
    }

    /// The recorded state when the deployment has one; empty for a new deployment, creating nothing.
    func recorded(deployment: String) throws -> RecordedState {
        let path = directory(for: deployment) + "/" + StateStore.databaseFileName
        guard FileManager.default.fileExists(atPath: path) else { return .empty }
        let store = try open(deployment: deployment)
        defer { try? store.close() }
        return try store.readRecordedState()
    }
}
