import MachineAccess
import PhotonCore

/// A control-plane failure: what went wrong, with which machine and operation, and what to do about it.
public struct DriverError: Error, RetryClassifying, MachineOperationError, CustomStringConvertible, Sendable {
    /// The machine concerned, when there is one.
    public var machine: String?
    /// "create", "delete", "lookup", "list", or "prepare the host".
    public var operation: String
    public var message: String
    public var help: String?
    public var isTransient: Bool

    public init(machine: String?, operation: String, _ message: String, help: String? = nil, transient: Bool = false) {
        self.machine = machine
        self.operation = operation
        self.message = message
        self.help = help
        self.isTransient = transient
    }

    public var description: String {
        let doing = ["create": "creating", "delete": "deleting", "lookup": "looking up"][operation].map { "\($0) machine" } ?? operation
        var text = machine.map { "\(doing) \($0): \(message)" } ?? "\(operation): \(message)"
        if let help { text += " (\(help))" }
        return text
    }
}
