// swift-tools-version: 6.1
import PackageDescription

// Layers, leaf first; a target only depends on targets above it in this list.
//   CYAML → YAMLReader ─┐
//   PhotonCore ─────────┼→ Blueprints ─┐      (PKI: certificate authorities, under Kinds and Planning)
//            └→ Etcd ─┐ └→ Kinds ──────┼→ Planning → Engine → StateStore ─┬→ PlaneAPI → PhotonCommands → photon
//                     └────────────────┼──────────────────↗ │            │      ↑
//                                      │                  ├→ SSH (CLibSSH2) → Drivers
//                                      │                  └→ EngineTestSupport (tests, crash bed)
//                                      └────────────────────────────→ photon-bench
let package = Package(
    name: "photon",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "photon", targets: ["photon"]),
        .executable(name: "photon-bench", targets: ["photon-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-certificates", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-asn1", from: "1.7.4"),
    ],
    targets: [
        .systemLibrary(
            name: "CYAML",
            pkgConfig: "yaml-0.1",
            providers: [.apt(["libyaml-dev"])]
        ),
        .systemLibrary(
            name: "CLibSSH2",
            pkgConfig: "libssh2",
            providers: [.apt(["libssh2-1-dev"])]
        ),
        .target(
            name: "PhotonCore",
            dependencies: [.product(name: "Crypto", package: "swift-crypto")]
        ),
        .target(name: "YAMLReader", dependencies: ["CYAML", "PhotonCore"]),
        // photon's certificate authorities: the CAs it keeps per deployment and the leaf certificates they sign.
        .target(
            name: "PKI",
            dependencies: [
                "PhotonCore",
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .target(name: "Blueprints", dependencies: ["PhotonCore", "YAMLReader"]),
        .target(name: "Kinds", dependencies: ["PhotonCore", "YAMLReader", "PKI"]),
        .target(name: "Planning", dependencies: ["PhotonCore", "Blueprints", "Kinds", "PKI"]),
        .target(name: "MachineAccess", dependencies: ["PhotonCore"]),
        .target(name: "Engine", dependencies: ["PhotonCore", "MachineAccess", "Blueprints", "Kinds", "Planning"]),
        // etcd's v3 API through its JSON gateway: keys, transactions, leases, elections.
        .target(
            name: "Etcd",
            dependencies: [
                "PhotonCore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
            ]
        ),
        .target(
            name: "StateStore",
            dependencies: [
                "PhotonCore", "Blueprints", "Planning", "Engine", "MachineAccess", "Etcd",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        // The libssh2 transport: the engine's remote shell.
        .target(
            name: "SSH",
            dependencies: ["CLibSSH2", "PhotonCore", "MachineAccess", .product(name: "Crypto", package: "swift-crypto")]
        ),
        // The control planes: machines on LXC (local) and the user's own (static).
        .target(name: "Drivers", dependencies: ["PhotonCore", "MachineAccess", "SSH"]),
        // The management plane's API: the HTTPS server (`photon serve`), its client, the pinned
        // certificates, and the local driver served to the plane (`photon agent`).
        .target(
            name: "PlaneAPI",
            dependencies: [
                "PhotonCore", "YAMLReader", "Blueprints", "Planning", "Engine", "MachineAccess", "StateStore", "Etcd", "Drivers", "PKI",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
            ]
        ),
        // In-memory and file-backed machines and shells, for tests and the crash-test bed.
        .target(name: "EngineTestSupport", dependencies: ["PhotonCore", "Planning", "Engine", "MachineAccess", "PKI", "Etcd"]),
        // The application layer: opening a deployment, planning, applying, scaling, destroying, the plane's
        // installer and its client. No argument parsing: commands and the plane call it with plain values.
        .target(
            name: "Deployments",
            dependencies: [
                "PhotonCore", "Blueprints", "Kinds", "Planning", "Engine", "MachineAccess", "StateStore", "SSH", "Drivers", "Etcd", "PlaneAPI", "PKI",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        .target(
            name: "PhotonCommands",
            dependencies: [
                "Deployments", "PhotonCore", "Blueprints", "Kinds", "Planning", "Engine", "MachineAccess", "StateStore", "SSH", "Drivers", "Etcd",
                "PlaneAPI", "PKI", .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(name: "photon", dependencies: ["PhotonCommands"]),
        // photon with file-backed machines instead of real ones, for crash tests that SIGKILL apply.
        .executableTarget(
            name: "photon-testbed",
            dependencies: ["PhotonCommands", "Deployments", "Engine", "MachineAccess", "EngineTestSupport", "Drivers", "Blueprints", "PhotonCore"]),
        .executableTarget(
            name: "photon-bench",
            dependencies: ["PhotonCore", "Blueprints", "Kinds", "Planning", "Engine", "MachineAccess", "StateStore", "EngineTestSupport", "SSH", "Drivers"]),

        .testTarget(name: "YAMLReaderTests", dependencies: ["YAMLReader", "PhotonCore"]),
        .testTarget(name: "PKITests", dependencies: ["PKI", "PhotonCore"]),
        .testTarget(name: "BlueprintsTests", dependencies: ["Blueprints", "PhotonCore", "YAMLReader"]),
        .testTarget(name: "KindsTests", dependencies: ["Kinds", "PhotonCore", "YAMLReader"]),
        .testTarget(name: "PlanningTests", dependencies: ["Planning", "Blueprints", "Kinds", "PhotonCore"]),
        .testTarget(
            name: "PhotonCommandsTests",
            dependencies: [
                "PhotonCommands", "Deployments", "PKI", "Planning", "StateStore", "EngineTestSupport", "Drivers", "SSH", "Engine", "MachineAccess",
                "PhotonCore",
            ]),
        .testTarget(name: "EngineTests", dependencies: ["Engine", "MachineAccess", "EngineTestSupport", "Planning", "Kinds", "Blueprints", "PhotonCore"]),
        .testTarget(name: "SSHTests", dependencies: ["SSH", "Engine", "MachineAccess", "EngineTestSupport", "PhotonCore"]),
        .testTarget(name: "DriversTests", dependencies: ["Drivers", "SSH", "Engine", "MachineAccess", "EngineTestSupport", "Blueprints", "PhotonCore"]),
        .testTarget(
            name: "PlaneAPITests",
            dependencies: ["PlaneAPI", "StateStore", "Etcd", "EngineTestSupport", "Engine", "MachineAccess", "Drivers", "Planning", "Blueprints", "PhotonCore"]),
        .testTarget(
            name: "StateStoreTests",
            dependencies: ["StateStore", "Etcd", "EngineTestSupport", "Engine", "MachineAccess", "Planning", "Blueprints", "PhotonCore"]),
    ]
)
