import Etcd
import Foundation
import PhotonCore
import YAMLReader

/// What `photon serve` reads (`/etc/photon/serve.yaml`, written by the management kind): where to
/// listen, its TLS pair and token, the etcd members and the deployment's prefix, its peers.
public struct ServeConfiguration: Sendable {
    public struct Peer: Sendable, Hashable {
        public var name: String
        public var url: String
    }

    public var file: String
    public var deployment: String
    public var node: String
    public var listenAddress: String
    public var listenPort: Int
    /// Where the other servers reach this one ("https://10.0.0.2:9443").
    public var advertise: String
    /// The deployment's keys on this machine: `secrets.key`, the SSH key, known hosts, operations' files.
    public var stateDirectory: String
    public var certificatePath: String
    public var keyPath: String
    public var tokenFile: String
    public var etcdEndpoints: [String]
    /// The plane's etcd certificate authority and this server's client certificate and key (files).
    public var etcdTLS: (authority: String, certificate: String, key: String)?
    public var prefix: String
    public var leaderKey: String
    public var leaderTTL: Int
    public var peers: [Peer]
    /// The port HAProxy takes clients on, on every plane machine (nil: no HAProxy).
    public var proxyPort: Int?

    public init(
        file: String, deployment: String, node: String, listenAddress: String, listenPort: Int, advertise: String, stateDirectory: String,
        certificatePath: String, keyPath: String, tokenFile: String, etcdEndpoints: [String],
        etcdTLS: (authority: String, certificate: String, key: String)? = nil, prefix: String, leaderKey: String,
        leaderTTL: Int, peers: [Peer]
    ) {
        self.file = file
        self.deployment = deployment
        self.node = node
        self.listenAddress = listenAddress
        self.listenPort = listenPort
        self.advertise = advertise
        self.stateDirectory = stateDirectory
        self.certificatePath = certificatePath
        self.keyPath = keyPath
        self.tokenFile = tokenFile
        self.etcdEndpoints = etcdEndpoints
        self.etcdTLS = etcdTLS
        self.prefix = prefix
        self.leaderKey = leaderKey
        self.leaderTTL = leaderTTL
        self.peers = peers
    }

    /// Reads and checks the file; every problem is reported with its line and column.
    // Long: each key of the file read in turn with its position; a list of keys, not logic.
    public static func load(_ path: String) throws -> ServeConfiguration {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw PhotonError("cannot read the server configuration \(path)", help: "the management kind writes it to /etc/photon/serve.yaml")
        }
        guard let node = try YAMLParser.parse(Array(data), file: path) else {
            throw PhotonError("the server configuration \(path) is empty")
        }
        let reader = DocumentReader(file: path)
        let root = reader.root(node)
        var result: ServeConfiguration?
        if let top = root.mapping() {
            let deployment = top.required("deployment")?.string()
            let node = top.required("node")?.string()
            let listen = top.required("listen")?.mapping()
            let address = listen?.required("address")?.string()
            let port = listen?.required("port")?.int(in: 1...65535)
            listen?.finish()
            let advertise = top.required("advertise")?.string()
            let stateDirectory = top.optional("stateDirectory")?.string() ?? deployment.map { "/var/lib/photon/\($0)" }
            let tls = top.required("tls")?.mapping()
            let certificate = tls?.required("certificate")?.string()
            let key = tls?.required("key")?.string()
            tls?.finish()
            let auth = top.required("auth")?.mapping()
            let tokenFile = auth?.required("tokenFile")?.string()
            auth?.finish()
            let etcd = top.required("etcd")?.mapping()
            let endpointsValue = etcd?.required("endpoints")
            let endpoints = endpointsValue?.list()?.compactMap { $0.string() }
            var etcdTLS: (authority: String, certificate: String, key: String)?
            if let tls = etcd?.optional("tls")?.mapping() {
                if let authority = tls.required("authority")?.string(), let certificate = tls.required("certificate")?.string(),
                    let key = tls.required("key")?.string()
                {
                    etcdTLS = (authority, certificate, key)
                }
                tls.finish()
            }
            if let endpoints, endpoints.contains(where: { !$0.hasPrefix("https://") }), let location = endpointsValue?.location {
                // The plane's etcd takes orders only from holders of its certificates: plain HTTP is refused here too.
                reader.error("etcd.endpoints must all be https:// (the plane's etcd speaks TLS only)", at: location)
            } else if etcdTLS == nil, let location = endpointsValue?.location {
                reader.error("etcd.tls must name the plane's certificate authority and this server's client certificate and key", at: location)
            }
            let prefix = etcd?.required("prefix")?.string()
            let election = etcd?.optional("leaderElection")?.mapping()
            let leaderKey = election?.optional("key")?.string() ?? prefix.map { $0 + "leader" }
            let ttlText = election?.optional("ttl")?.string() ?? "15s"
            election?.finish()
            etcd?.finish()
            let peers =
                top.optional("peers")?.list()?.compactMap { value -> Peer? in
                    guard let peer = value.mapping() else { return nil }
                    defer { peer.finish() }
                    guard let name = peer.required("name")?.string(), let url = peer.required("url")?.string() else { return nil }
                    return Peer(name: name, url: url)
                } ?? []
            var proxyPort: Int?
            if let proxy = top.optional("proxy")?.mapping() {
                proxyPort = proxy.required("port")?.int(in: 1...65535)
                proxy.finish()
            }
            top.finish()
            let ttl = Int(ttlText.hasSuffix("s") ? String(ttlText.dropLast()) : ttlText)
            if ttl == nil || ttl! < 2 { reader.error("etcd.leaderElection.ttl must be a number of seconds (2s or more), found '\(ttlText)'", at: nil) }
            if let deployment, let node, let address, let port, let advertise, let stateDirectory, let certificate, let key, let tokenFile,
                let endpoints, !endpoints.isEmpty, let prefix, let leaderKey, let ttl
            {
                result = ServeConfiguration(
                    file: path, deployment: deployment, node: node, listenAddress: address, listenPort: port, advertise: advertise,
                    stateDirectory: stateDirectory, certificatePath: certificate, keyPath: key, tokenFile: tokenFile,
                    etcdEndpoints: endpoints, etcdTLS: etcdTLS, prefix: prefix.hasSuffix("/") ? prefix : prefix + "/", leaderKey: leaderKey,
                    leaderTTL: ttl, peers: peers)
                result?.proxyPort = proxyPort
            }
        }
        try reader.diagnostics.throwIfAny()
        guard let result else { throw PhotonError("the server configuration \(path) is incomplete") }
        return result
    }

    /// A client of the plane's etcd with this server's certificate.
    public func etcdClient(serializableReads: Bool = false, localFirst: Bool = true) throws -> EtcdClient {
        guard let etcdTLS else { throw PhotonError("the server configuration \(file) names no etcd client certificate (etcd.tls)") }
        // This machine's own etcd member first: reads stay on the machine.
        let endpoints = localFirst ? etcdEndpoints.sorted { first, _ in first.contains("//\(listenAddress):") } : etcdEndpoints
        return try EtcdClient(
            endpoints: endpoints, tls: try EtcdTLS.files(authority: etcdTLS.authority, certificate: etcdTLS.certificate, key: etcdTLS.key),
            serializableReads: serializableReads)
    }

    /// The bearer token clients must present, read from its file (surrounding whitespace dropped).
    public func token() throws -> String {
        guard let data = FileManager.default.contents(atPath: tokenFile) else {
            throw PhotonError("cannot read the API token file \(tokenFile)")
        }
        let token = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard token.count >= 16 else { throw PhotonError("the API token in \(tokenFile) is too short (at least 16 characters)") }
        return token
    }
}
