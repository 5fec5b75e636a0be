import Blueprints
import Kinds
import PhotonCore

extension ValueOrigins {
    /// Where each value a group's templates can name was written: the blueprint's line for what it
    /// gives, the kind's declaration for defaults. A value that cannot be written into a file or a
    /// command is reported there.
    static func of(_ group: ResolvedGroup, in blueprint: Blueprint) -> ValueOrigins {
        var locations: [String: SourceLocation] = ["deployment.name": blueprint.name.location]
        let given: [Setting]
        if group.isManagement {
            given = blueprint.management?.settings ?? []
        } else {
            let cluster = blueprint.clusters.first { $0.name.value == group.name }
            given = cluster?.settings ?? []
            if let cluster { locations["cluster.name"] = cluster.name.location }
        }
        for secret in blueprint.secrets { locations["secrets.\(secret.name.value)"] = secret.reference.location }
        for declaration in group.kind.settings {
            let path = "settings.\(declaration.name)"
            if let setting = given.first(where: { $0.name == declaration.name }) {
                locations[path] = setting.node.location
                if case .list(let items) = setting.node.content {
                    for (index, item) in items.enumerated() { locations["\(path).\(index)"] = item.location }
                }
            } else {
                locations[path] = declaration.location
                if case .list(let items)? = declaration.defaultValue {
                    for index in items.indices { locations["\(path).\(index)"] = declaration.location }
                }
            }
        }
        return ValueOrigins(locations)
    }
}
