import Foundation
import PhotonCore

/// How an apply is asked to stop: the first request lets running actions finish, the second aborts them.
public final class StopSignal: Sendable {
    public enum State: Sendable { case running, stopping, aborting }
    private let state = Locked(State.running)
    private let onAbort = Locked<[@Sendable () -> Void]>([])

    public init() {}

    public var current: State { state.current }
    public var isStopping: Bool { state.current != .running }

    /// Moves to the next state and returns it.
    @discardableResult
    public func request() -> State {
        let next = state.withLock { current -> State in
            current = current == .running ? .stopping : .aborting
            return current
        }
        if next == .aborting { for handler in onAbort.current { handler() } }
        return next
    }

    /// Runs `handler` when the stop turns into an abort (at once if it already has).
    public func whenAborting(_ handler: @escaping @Sendable () -> Void) {
        if state.current == .aborting {
            handler()
            return
        }
        onAbort.withLock { $0.append(handler) }
    }
}
