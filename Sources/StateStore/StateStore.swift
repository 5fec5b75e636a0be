// filled by the state store
