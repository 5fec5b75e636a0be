import Blueprints
import Kinds
import PhotonCore
import Planning

extension Planner {
    /// This planner with every binary of every kind pinned to a made-up digest from a folder, as a
    /// user's own builds would be: any kind version plans, and nothing is fetched by planning.
    func pinningEveryBinary() -> Planner {
        var planner = self
        let location = SourceLocation(file: "pinned", line: 1, column: 1)
        let names = catalog.kinds.values.flatMap(\.binaries.keys)
        planner.binaries = BinarySupply(
            sources: BinarySources(
                from: Located("/srv/photon-bundle", at: location),
                sha256: Dictionary(uniqueKeysWithValues: names.map { ($0, Located(ContentDigest.sha256($0), at: location)) })),
            cacheDirectory: "/var/cache/photon-test")
        return planner
    }
}
