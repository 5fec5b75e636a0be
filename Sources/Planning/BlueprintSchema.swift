import Foundation
import Kinds

/// The JSON Schema (draft 2020-12) of blueprints, for editors to complete and check them.
///
/// It is generated from the kinds, so each cluster kind's roles and settings are described exactly
/// and a kind added to templates/ appears in `photon schema --templates DIR` without editing anything.
public enum BlueprintSchema {
    public static func json(catalog: KindCatalog) -> String {
        let data = try? JSONSerialization.data(withJSONObject: document(catalog: catalog), options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        return data.map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }

    static var label: [String: Any] {
        [
            "type": "string", "pattern": "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$", "maxLength": 63,
            "description": "lowercase letters, digits and '-': it becomes part of host names",
        ]
    }
    static var size: [String: Any] {
        [
            "description": "a size such as 512MiB, 4GiB or 2G; a plain number is bytes",
            "anyOf": [
                ["type": "string", "pattern": "^[0-9]+ *(B|KiB|MiB|GiB|TiB|K|M|G|T|KB|MB|GB|TB)?$"],
                ["type": "integer", "minimum": 0],
            ],
        ]
    }
    static var duration: [String: Any] {
        [
            "description": "a duration such as 30s, 5m or 1h30m; a plain number is seconds",
            "anyOf": [["type": "string", "pattern": "^([0-9]+(ms|s|m|h))+$|^[0-9]+$"], ["type": "integer", "minimum": 0]],
        ]
    }
    static var cidr: [String: Any] {
        [
            "type": "string", "pattern": "^([0-9]{1,3}\\.){3}[0-9]{1,3}/([0-9]|[12][0-9]|3[0-2])$",
            "description": "an IPv4 network in CIDR form, such as 10.213.0.0/24",
        ]
    }
    static var secretReference: [String: Any] {
        [
            "description": "where a secret comes from: env:NAME, file:PATH, generate, or secret:NAME (an entry of 'secrets')",
            "anyOf": [
                ["type": "string", "pattern": "^(generate|env:.+|file:.+|secret:.+)$"],
                ["type": "object", "properties": ["generate": ["const": true]], "required": ["generate"], "additionalProperties": false],
            ],
        ]
    }
    static var rollout: [String: Any] {
        [
            "type": "object", "additionalProperties": false,
            "description": "how machines are changed: the canaries go first and alone, then at most maxInFlight at a time",
            "properties": [
                "maxInFlight": [
                    "description": "machines changed at once: a count or a percentage of the role",
                    "anyOf": [["type": "integer", "minimum": 1], ["type": "string", "pattern": "^([1-9][0-9]*|([1-9][0-9]?|100)%)$"]],
                ],
                "canaries": ["type": "integer", "minimum": 0, "maximum": 1000, "description": "machines that go first, alone (default 1)"],
            ],
        ]
    }

    /// Dot-separated DNS labels (an IPv4 address matches too).
    static let domainPattern = "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$"

    static func settingSchema(_ setting: SettingDeclaration) -> [String: Any] {
        var schema: [String: Any]
        switch setting.type {
        case .string: schema = ["type": "string"]
        case .int: schema = ["type": "integer"]
        case .port: schema = ["type": "integer", "minimum": 1, "maximum": 65535]
        case .bool: schema = ["type": "boolean"]
        case .cidr: schema = cidr
        case .version: schema = ["type": "string", "pattern": "^v?[0-9]+(\\.[0-9]+){1,3}([-+][0-9A-Za-z.-]+)?$"]
        case .duration: schema = duration
        case .secret: schema = ["$ref": "#/$defs/secretReference"]
        case .list: schema = ["type": "array", "items": ["type": "string"]]
        case .path: schema = ["type": "string", "pattern": "^/([^/\\u0000-\\u001f]+(/[^/\\u0000-\\u001f]+)*)?$"]
        case .image: schema = ["type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._:/@+-]*$", "maxLength": 512]
        case .size: schema = ["type": "string", "pattern": "^[0-9]{1,12}[kKmMgG]?$"]
        case .domain: schema = ["type": "string", "pattern": domainPattern, "maxLength": 253]
        case .hostname: schema = ["type": "string", "pattern": domainPattern, "maxLength": 253]
        }
        if !setting.allowed.isEmpty { schema["enum"] = setting.allowed }
        var description = setting.description
        let note = setting.defaultValue.map { "default \($0)" } ?? "required"
        description += description.isEmpty ? note : " (\(note))"
        schema["description"] = description
        return schema
    }

    static func countSchema(_ rule: CountRule) -> [String: Any] {
        var schema: [String: Any] = ["type": "integer", "minimum": rule.min, "maximum": rule.max]
        if rule.odd { schema["not"] = ["multipleOf": 2] }
        return schema
    }

    static func settingsSchema(_ kind: Kind) -> [String: Any] {
        var properties: [String: Any] = [:]
        for setting in kind.settings { properties[setting.name] = settingSchema(setting) }
        let required = kind.settings.filter { $0.defaultValue == nil }.map(\.name)
        var schema: [String: Any] = ["type": "object", "additionalProperties": false, "properties": properties]
        if !required.isEmpty { schema["required"] = required }
        return schema
    }

    static func clusterKindRule(_ kind: Kind) -> [String: Any] {
        var roles: [String: Any] = [:]
        for role in kind.roles {
            let count = countSchema(role.count)
            roles[role.name] = [
                "description": "\(role.description) (\(role.count.summary))",
                "anyOf": [
                    count,
                    [
                        "type": "object", "additionalProperties": false, "required": ["count"],
                        "properties": ["count": count, "flavor": label, "rollout": ["$ref": "#/$defs/rollout"]],
                    ],
                ],
            ]
        }
        return [
            "if": ["properties": ["kind": ["const": kind.name]], "required": ["kind"]],
            "then": [
                "properties": [
                    "roles": [
                        "type": "object", "additionalProperties": false, "properties": roles,
                        "required": kind.roles.filter { $0.count.defaultCount == nil }.map(\.name),
                    ],
                    "settings": settingsSchema(kind),
                ]
            ],
        ]
    }

    // Long: the JSON Schema written out as a literal, in the blueprint's order.
    static func document(catalog: KindCatalog) -> [String: Any] {
        let clusterKinds = catalog.clusterKinds
        let staticMachine: [String: Any] = [
            "type": "object", "additionalProperties": false, "required": ["address", "hostKey"],
            "properties": [
                "address": ["type": "string", "description": "IPv4 address or DNS name"],
                "port": ["type": "integer", "minimum": 1, "maximum": 65535, "default": 22],
                "user": ["type": "string", "pattern": "^[a-z_][a-z0-9_-]{0,31}$"],
                "hostKey": [
                    "type": "string",
                    "description": "the pinned host key: 'SHA256:…' fingerprint, 'ssh-ed25519 AAAA…' or a known_hosts line (ssh-keyscan -t ed25519 HOST)",
                ],
            ],
        ]
        let controlPlane: [String: Any] = [
            "type": "object", "required": ["driver"],
            "description": "the IaaS that makes machines",
            "properties": [
                "driver": ["enum": ["local", "static"], "description": "local: LXC machines on this host; static: machines you already have"],
                "network": cidr, "bridge": ["type": "string", "pattern": "^[A-Za-z0-9_.-]{1,15}$"],
                "layers": [
                    "type": "array", "items": ["type": "string"],
                    "description": "folders whose files appear read-only in every local machine at the same paths (relative to the blueprint)",
                ],
                "machines": ["type": "array", "minItems": 1, "items": staticMachine],
            ],
            "allOf": [
                [
                    "if": ["properties": ["driver": ["const": "local"]]],
                    "then": [
                        "required": ["network"], "properties": ["driver": true, "network": true, "bridge": true, "layers": true], "additionalProperties": false,
                    ],
                ],
                [
                    "if": ["properties": ["driver": ["const": "static"]]],
                    "then": ["required": ["machines"], "properties": ["driver": true, "machines": true], "additionalProperties": false],
                ],
            ],
        ]
        let ssh: [String: Any] = [
            "type": "object", "additionalProperties": false,
            "properties": [
                "user": ["type": "string", "pattern": "^[a-z_][a-z0-9_-]{0,31}$", "default": "root"],
                "port": ["type": "integer", "minimum": 1, "maximum": 65535, "default": 22],
                "parallelism": ["type": "integer", "minimum": 1, "maximum": 4096, "default": 64, "description": "SSH connections open at once"],
                "connectTimeout": duration,
                "key": ["$ref": "#/$defs/secretReference", "description": "the client key; default: a per-deployment ed25519 key photon generates"],
            ],
        ]
        let flavor: [String: Any] = [
            "type": "object", "additionalProperties": false, "required": ["cpu", "memory", "disk"],
            "properties": [
                "cpu": ["type": "number", "exclusiveMinimum": 0, "maximum": 1024, "description": "CPUs; fractions allowed"],
                "memory": size, "disk": size,
            ],
        ]
        var management: [String: Any] = [
            "type": "object", "additionalProperties": false, "required": ["machines"],
            "description": "photon's own management plane: API servers, etcd and HAProxy",
            "properties": [
                "machines": ["enum": [1, 3, 5]],
                "flavor": label,
                "services": ["type": "array", "items": ["type": "string"], "uniqueItems": true],
                "settings": ["type": "object"],
            ],
        ]
        if let kind = catalog.kinds[KindCatalog.managementKind] {
            var properties = management["properties"] as? [String: Any] ?? [:]
            properties["services"] = [
                "type": "array", "uniqueItems": true, "items": ["enum": kind.services.map(\.name)],
                "description": "services to run (default all); required: \(kind.services.filter(\.required).map(\.name).joined(separator: ", "))",
            ]
            properties["settings"] = settingsSchema(kind)
            management["properties"] = properties
        }
        let cluster: [String: Any] = [
            "type": "object", "additionalProperties": false, "required": ["name", "kind", "roles"],
            "properties": [
                "name": label,
                "kind": ["enum": clusterKinds.map(\.name), "description": clusterKinds.map { "\($0.name): \($0.description)" }.joined(separator: "; ")],
                "flavor": label,
                "roles": ["type": "object", "description": "machine count per role, or {count, flavor, rollout}"],
                "settings": ["type": "object"],
                "rollout": ["$ref": "#/$defs/rollout"],
            ],
            "allOf": clusterKinds.map(clusterKindRule),
        ]
        return [
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": "https://github.com/photon-deployer/photon/blueprints/schema.json",
            "title": "photon blueprint",
            "description": "A deployment for photon: its control plane, management plane and clusters. Generated by 'photon schema'.",
            "type": "object", "additionalProperties": false, "required": ["name", "controlPlane"],
            "properties": [
                "version": ["const": 1, "description": "blueprint language version"],
                "name": label,
                "controlPlane": controlPlane,
                "ssh": ssh,
                "flavors": [
                    "type": "object", "propertyNames": label, "additionalProperties": flavor,
                    "description": "named machine sizes; small, medium and large are built in",
                ],
                "management": management,
                "clusters": ["type": "array", "items": cluster],
                "secrets": [
                    "type": "object", "propertyNames": ["pattern": "^[A-Za-z][A-Za-z0-9_]*$"],
                    "additionalProperties": ["$ref": "#/$defs/secretReference"],
                    "description": "named secrets; templates read them as secrets.NAME",
                ],
                "binaries": [
                    "type": "object", "additionalProperties": false,
                    "description": "where the binaries the kinds bring come from when not from upstream",
                    "properties": [
                        "from": ["type": "string", "description": "a folder made by 'photon bundle', or an http(s) mirror with its layout (ARCH/FILE)"],
                        "sha256": [
                            "type": "object", "additionalProperties": ["type": "string", "pattern": "^[0-9A-Fa-f]{64}$"],
                            "description": "digests of your own builds by binary name; they replace the kind's",
                        ],
                    ],
                ],
            ],
            "$defs": ["secretReference": secretReference, "rollout": rollout],
        ]
    }
}
