/// The names every template and command can use. The planner fills exactly these; the kind loader
/// checks templates against them, so a misspelt name fails when the kind loads, not on a machine.
public enum TemplateContextSchema {
    public static let namespaces: [String: String] = [
        "deployment": "the deployment: name",
        "cluster": "the cluster: name, kind",
        "settings": "the cluster's settings, declared in kind.yaml",
        "secrets": "the blueprint's named secrets (sensitive)",
        "services": "the services switched on, as true/false (management plane)",
        "machine": "the machine the step is for",
        "role": "that machine's role: name, count, quorum",
        "roles": "every role of the cluster by name",
        "captured": "values captured by earlier steps (known after apply)",
        "photon": "photon itself: version",
        "certificates": "the cluster's certificate authorities (kind.yaml's certificates): <name>.certificate",
    ]

    /// Fields of a machine value (`machine`, `roles.<r>.first`, items of `roles.<r>.machines`).
    public static let machineFields: Set<String> = [
        "name", "hostname", "address", "index", "role", "first", "last", "flavor", "cpus", "memoryMiB", "diskGiB", "certificates", "existing",
    ]
    /// Fields of a role value (`role`, `roles.<r>`).
    public static let roleFields: Set<String> = ["name", "count", "quorum", "first", "machines", "addresses"]
    public static let deploymentFields: Set<String> = ["name"]
    public static let clusterFields: Set<String> = ["name", "kind"]
    public static let photonFields: Set<String> = ["version"]
}
