/// An operation that did not succeed and has already said why (its report, or the plane's events): the
/// command exits with this code and prints nothing more.
package struct OperationExit: Error, Sendable, Equatable {
    package var code: Int32

    package static let failure = OperationExit(code: 1)
    /// A preview whose plan has changes (`plan --detailed-exitcode`).
    package static let changesPending = OperationExit(code: 2)
    /// Stopped by Ctrl-C (or the plane's operation was): 128 + SIGINT.
    package static let interrupted = OperationExit(code: 130)
}
