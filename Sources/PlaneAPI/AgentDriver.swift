import Foundation
import MachineAccess
import NIOHTTP1
import PhotonCore

// The agent API's client lives beside the API it speaks (its bodies, the pinned HTTPS client), not in
// Drivers: Drivers stays free of the HTTP stack, and the plane is its only user.

/// The plane's side of the agent: a machine driver whose every call is a request to the agent.
public final class AgentDriver: MachineDriver {
    let client: PinnedClient

    public init(endpoint: AgentEndpoint) throws {
        client = try PinnedClient(baseURL: endpoint.url, certificate: try PinnedCertificate(certificatePEM: endpoint.certificatePEM), token: endpoint.token)
    }

    public func create(_ spec: MachineSpec) async throws -> MachineHandle {
        try await call(.POST, "/v1/machines", body: try JSONEncoder().encode(MachineSpecBody(spec)), timeout: .seconds(300))
    }

    public func delete(name: String) async throws {
        let (status, body) = try await send(.DELETE, "/v1/machines/\(name)", timeout: .seconds(300))
        guard (200..<300).contains(status) else { throw failure(status, body, "deleting machine \(name)") }
    }

    public func lookup(name: String) async throws -> MachineHandle? {
        let (status, body) = try await send(.GET, "/v1/machines/\(name)")
        if status == 404 { return nil }
        guard status == 200 else { throw failure(status, body, "looking up machine \(name)") }
        return try JSONDecoder().decode(MachineHandle.self, from: body)
    }

    public func list() async throws -> [MachineHandle] {
        try await call(.GET, "/v1/machines")
    }

    public func isRunning(name: String) async -> Bool? {
        guard let (status, body) = try? await send(.GET, "/v1/machines/\(name)/running"), status == 200 else { return nil }
        return (try? JSONDecoder().decode(RunningBody.self, from: body))?.running
    }

    func call<T: Decodable>(_ method: NIOHTTP1.HTTPMethod, _ path: String, body: Data? = nil, timeout: Duration = .seconds(30)) async throws -> T {
        let (status, data) = try await send(method, path, body: body, timeout: timeout)
        guard (200..<300).contains(status) else { throw failure(status, data, "\(method) \(path)") }
        return try JSONDecoder().decode(T.self, from: data)
    }

    func send(_ method: NIOHTTP1.HTTPMethod, _ path: String, body: Data? = nil, timeout: Duration = .seconds(30)) async throws -> (status: Int, body: Data) {
        do {
            return try await client.send(method, path, body: body, timeout: timeout)
        } catch let error as PhotonError {
            throw AgentError(message: "the installer's agent: \(error.message)", isTransient: true)
        }
    }

    func failure(_ status: Int, _ body: Data, _ what: String) -> AgentError {
        let message = (try? JSONDecoder().decode(APIErrorBody.self, from: body))?.error ?? String(decoding: body.prefix(400), as: UTF8.self)
        return AgentError(message: "the installer's agent failed \(what) (HTTP \(status)): \(message)", isTransient: status >= 500 && status != 500)
    }
}

/// An agent call that failed; connection problems are worth retrying.
public struct AgentError: Error, RetryClassifying, MachineOperationError, CustomStringConvertible {
    public var message: String
    public var isTransient: Bool
    public var description: String { message }
}
