import Foundation

/// Turns SIGINT into calls of a handler instead of ending the process.
package final class InterruptHandler: @unchecked Sendable {
    private let source: any DispatchSourceSignal

    package init(_ handler: @escaping @Sendable () -> Void) {
        signal(SIGINT, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
        source.setEventHandler(handler: handler)
        source.resume()
        self.source = source
    }

    package func cancel() {
        source.cancel()
        signal(SIGINT, SIG_DFL)
    }
}
