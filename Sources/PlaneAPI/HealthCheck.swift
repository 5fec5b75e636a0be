import Foundation
import PhotonCore

/// `photon serve --check`: the management kind's readiness gate on the last plane machine. Every API
/// server the configuration names, and every HAProxy when the plane runs it, must answer
/// `/v1/health` with 200 over TLS with the plane's pinned certificate. Addresses come from the
/// configuration photon wrote, so no value of a blueprint is ever parsed by a shell.
public enum PlaneHealthCheck {
    /// Throws naming every endpoint that did not answer healthy.
    public static func run(_ configuration: ServeConfiguration) async throws {
        let identity = try ServerIdentity.read(certificate: configuration.certificatePath, key: configuration.keyPath)
        let token = try configuration.token()
        var endpoints = configuration.peers.map(\.url)
        if let port = configuration.proxyPort {
            endpoints += configuration.peers.compactMap { peer in
                URLComponents(string: peer.url)?.host.map { "https://\($0):\(port)" }
            }
        }
        var failures: [String] = []
        for endpoint in endpoints {
            do {
                let client = try PinnedClient(baseURL: endpoint, certificate: identity.certificate, token: token)
                let (status, body) = try await client.send(.GET, "/v1/health", timeout: .seconds(5))
                if status != 200 { failures.append("\(endpoint): HTTP \(status) \(String(decoding: body.prefix(200), as: UTF8.self))") }
            } catch {
                failures.append("\(endpoint): \(error)")
            }
        }
        guard failures.isEmpty else {
            throw PhotonError("not every API server of \(configuration.deployment) is healthy: \(failures.joined(separator: "; "))")
        }
    }
}
