import Foundation
import PhotonCore
import PlaneAPI

/// How this installer reaches a deployment's management plane, written at hand-over to
/// `<state>/plane.json` (mode 0600, in the 0700 state directory): the API endpoints, the pinned
/// certificate, the token, and the agent this host runs for the plane. While it exists, commands for
/// the deployment go to the plane unless `--local` is given.
package struct PlaneContext: Codable, Sendable {
    package static let fileName = "plane.json"

    package struct Agent: Codable, Sendable {
        package var url: String
        package var pid: Int32
        package var blueprint: String
    }

    package var deployment: String
    /// HAProxy on every plane machine when the plane runs it, else each API server; tried in order.
    package var endpoints: [String]
    package var certificatePEM: String
    package var fingerprint: String
    package var token: String
    package var agent: Agent?

    package static func path(in stateDirectory: String) -> String { stateDirectory + "/" + fileName }

    package static func load(stateDirectory: String) throws -> PlaneContext? {
        let path = path(in: stateDirectory)
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        let context: PlaneContext
        do {
            context = try JSONDecoder().decode(PlaneContext.self, from: data)
        } catch {
            throw PhotonError(
                "the plane context \(path) is damaged: \(error)",
                help: "hand the deployment over again with 'photon apply --local -f BLUEPRINT'")
        }
        // The pin is the certificate itself; a fingerprint that does not match it means someone edited the file.
        guard try PinnedCertificate.fingerprint(ofPEM: context.certificatePEM) == context.fingerprint else {
            throw PhotonError(
                "the plane context \(path) names the fingerprint \(context.fingerprint), which is not its certificate's",
                help: "hand the deployment over again with 'photon apply --local -f BLUEPRINT'")
        }
        return context
    }

    package func save(stateDirectory: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let path = Self.path(in: stateDirectory)
        let temporary = path + ".new"
        guard FileManager.default.createFile(atPath: temporary, contents: try encoder.encode(self), attributes: [.posixPermissions: 0o600]) else {
            throw PhotonError("cannot write the plane context \(temporary)")
        }
        guard rename(temporary, path) == 0 else { throw PhotonError("cannot write the plane context \(path): \(String(cString: strerror(errno)))") }
    }

    package static func remove(stateDirectory: String) {
        try? FileManager.default.removeItem(atPath: path(in: stateDirectory))
    }

    /// A client of the first endpoint whose server answers `/v1/health` (any status: a server that
    /// answers with a wrong certificate is an error, not a fallback).
    package func connect() async throws -> PinnedClient {
        let certificate = try PinnedCertificate(certificatePEM: certificatePEM)
        var failures: [String] = []
        for endpoint in endpoints {
            let client = try PinnedClient(baseURL: endpoint, certificate: certificate, token: token)
            do {
                let (_, body) = try await client.send(.GET, "/v1/health", timeout: .seconds(5))
                if let health = try? JSONDecoder().decode(HealthBody.self, from: body), !health.authenticated {
                    throw PhotonError(
                        "the plane at \(endpoint) refused the token of the context file",
                        help: "the plane's token changed; hand the deployment over again with 'photon apply --local -f BLUEPRINT'")
                }
                return client
            } catch let error as PhotonError where !error.message.contains("pinned certificate") && !error.message.contains("refused the token") {
                failures.append(error.message)
            }
        }
        throw PhotonError(
            "no server of the management plane of \(deployment) answers: \(failures.joined(separator: "; "))",
            help: "check the plane machines ('photon status --local -f BLUEPRINT'); 'photon apply --local' repairs the plane")
    }
}
