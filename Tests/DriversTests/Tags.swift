import Testing

extension Tag {
    /// Attacker tests: each plays one of the README's threat-model attackers against real components.
    @Tag static var security: Self
}
