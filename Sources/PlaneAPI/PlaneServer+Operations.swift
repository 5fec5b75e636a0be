import Engine
import Etcd
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTLS
import Logging
import NIOCore
import PhotonCore
import Planning
import StateStore

/// Plans, operations asked of the server, and their event streams.
extension PlaneServer {
    /// Previews the request (the plan of an apply or a scale) against the plane's state, in a child like
    /// operations, but at once and changing nothing.
    func plan(_ request: PlanRequest) async throws -> PlanBody {
        guard planSlots.take() else {
            throw HTTPError(.tooManyRequests, message: "\(limits.concurrentPlans) plans are being computed already; try again in a moment")
        }
        defer { planSlots.give() }
        var chosen = request.workspace
        if chosen == nil { chosen = try await book.workspace() }
        guard let workspace = chosen else {
            throw PhotonError("the plane has no blueprint yet", help: "send one with the plan request")
        }
        let directory = configuration.stateDirectory + "/plans/" + UUID().uuidString
        let job = directory + ".job.json"  // beside the folder: the blueprint's file there may have any name
        defer {
            try? FileManager.default.removeItem(atPath: directory)
            try? FileManager.default.removeItem(atPath: job)
        }
        let files = try workspace.materialize(in: directory)
        try OperationJob(
            request: request.request, blueprint: files.blueprint, kinds: files.kinds, preview: true, format: request.format == "json" ? .json : .text
        )
        .write(to: job)
        let child = try HostCommand.spawnWithPipes(
            OperationJob.arguments(executable: runner.executable, file: job),
            environment: [PlaneServer.configurationVariable: configuration.file, "NO_COLOR": "1"])
        @Sendable func readAll(_ descriptor: Int32) async throws -> String {
            try await OwnThread.run {
                var text = ""
                OperationRunner.readLines(descriptor) { text += $0 + "\n" }
                close(descriptor)
                return text
            }
        }
        async let output = readAll(child.stdout)
        async let errors = readAll(child.stderr)
        // A plan that runs past its deadline is ended: its pipes close and the readers return.
        let ended = Locked(false)
        let overdue = Task {
            try await Task.sleep(for: limits.planDeadline)
            ended.withLock { $0 = true }
            kill(child.pid, SIGKILL)
        }
        let status = await HostCommand.wait(child.pid)
        overdue.cancel()
        let timedOut = ended.withLock { $0 }
        let body = PlanBody(plan: try await output, exitStatus: status, errors: try await errors)
        if timedOut { throw HTTPError(.gatewayTimeout, message: "the plan took longer than \(limits.planDeadline) and was stopped") }
        return body
    }

    /// Set for the photon processes a server starts: its configuration file (they then keep their state in the plane).
    public static let configurationVariable = "PHOTON_PLANE_CONFIG"

    /// Records the operation, or answers 409 naming the one in the way.
    func accept(_ request: OperationRequest, summary: String? = nil, workspace: BlueprintBundle? = nil) async throws -> Response {
        if let problem = request.problem { return try JSONResponse.error(.badRequest, APIErrorBody(error: problem)) }
        let (created, blocking) = try await book.create(request, summary: summary ?? request.summary)
        guard var created else {
            let busy = blocking!
            return try JSONResponse.error(
                .conflict,
                APIErrorBody(
                    error: "the deployment is busy with operation \(busy.id) (\(busy.summary), \(busy.status.rawValue))",
                    help: "wait for it ('photon status' shows it), then try again", operation: busy.id, run: busy.runs.last))
        }
        if let workspace {
            try await book.setSubmitted(created.id, workspace)
            // The first apply through the plane has no plane workspace yet; scale needs one to run on.
            if try await book.workspace() == nil { try await book.setWorkspace(workspace) }
        }
        created.status = .queued
        return try JSONResponse.encode(
            AcceptedBody(
                operation: created.id, status: created.status.rawValue,
                events: "/v1/operations/\(created.id)/events"), status: .accepted)
    }

    /// The operation's events as NDJSON, from `from` on, following it until it finishes: what etcd holds
    /// first, then what it commits, from a watch (no polling); every few seconds a look at the operation
    /// ends a stream whose operation finished without an exit event.
    func eventStream(_ id: String, from: Int) -> Response {
        let book = self.readBook
        let body = ResponseBody { writer in
            var next = max(1, from)
            var sawExit = false
            let (existing, revision) = try await book.eventsAndRevision(id)
            for event in existing where event.sequence >= next {
                try await writer.write(Self.line(event.line))
                next = event.sequence + 1
                if event.line.contains("\"event\":\"exit\"") { sawExit = true }
            }
            if !sawExit {
                for await signal in book.follow(id, fromRevision: revision + 1) {
                    switch signal {
                    case .events(let events):
                        for event in events where event.sequence >= next {
                            try await writer.write(Self.line(event.line))
                            next = event.sequence + 1
                            if event.line.contains("\"event\":\"exit\"") { sawExit = true }
                        }
                    case .tick:
                        guard let operation = try await book.get(id), operation.status.isFinished else { continue }
                        // Finished without an exit event seen here: whatever this member has, then the end.
                        for event in try await book.events(id, from: next) {
                            try await writer.write(Self.line(event.line))
                            next = event.sequence + 1
                        }
                        sawExit = true
                    }
                    if sawExit { break }
                }
            }
            // The exit event is written just before the record reads finished: wait for that (briefly).
            for _ in 0..<50 {
                if try await book.get(id)?.status.isFinished != false { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: [.contentType: "application/x-ndjson"], body: body)
    }

    static func line(_ text: String) -> ByteBuffer {
        var buffer = ByteBuffer(string: text)
        buffer.writeString("\n")
        return buffer
    }
}
