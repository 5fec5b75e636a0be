import PhotonCore
import PlaneAPI

/// One operation of a management plane, run in the child `photon run-operation` that its server starts:
/// the job's typed request goes through the same deployment interface the commands use, with the
/// plane's state (the server's configuration names it), streaming NDJSON events on stdout.
package enum PlaneOperation {
    package static func run(_ job: OperationJob) async throws {
        try PlaneEnvironment.check()
        guard PlaneEnvironment.current != nil else {
            throw PhotonError("run-operation runs inside a management plane only", help: "photon serve starts it; use apply, scale or destroy")
        }
        let settings = RunSettings(yes: true, format: job.format == .json ? .json : .text)
        func open(_ command: String) async throws -> any Deployment {
            try await Deployments.open(blueprintPath: job.blueprint, templates: job.kinds, state: StateLocation(), settings: settings, command: command)
        }
        let request = job.request
        switch request.kind {
        case .apply where job.preview:
            try await preview(job)
        case .apply:
            try await open("apply").apply(saved: nil)
        case .scale:
            guard let cluster = request.cluster else { throw PhotonError("a scale names its cluster") }
            let assignments = (request.counts ?? [:]).sorted { $0.key < $1.key }.map { (role: $0.key, count: $0.value) }
            try await open("scale").scale(Scaling(cluster: cluster, assignments: assignments, force: request.force == true, dryRun: job.preview))
        case .destroy:
            try await open("destroy").destroy(clusters: request.cluster.map { [$0] } ?? [], keepManagement: request.cluster == nil)
        }
    }

    /// The plan an apply would carry out, as `photon plan --detailed-exitcode` prints it: exit 2 when it has changes.
    private static func preview(_ job: OperationJob) async throws {
        let preview = try await Preview.make(
            blueprintPath: job.blueprint, templates: job.kinds, state: StateLocation(), clustersFormat: job.format.rawValue, savingOrDrawing: false)
        switch job.format {
        case .json: Output.result(PlanJSONRenderer.render(preview.plan, photonVersion: PhotonVersion.current))
        case .text: Output.result(PlanTextRenderer(color: Output.stdoutColor).render(preview.plan))
        }
        if preview.plan.hasChanges { throw OperationExit.changesPending }
    }
}
