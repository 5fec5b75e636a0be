#!/usr/bin/env python3
"""Validates YAML files against photon's blueprint JSON Schema with the reference implementation
(python3-jsonschema, draft 2020-12). Prints one line per file: 'ok PATH' or 'invalid PATH: reasons'.
Exit status 0 when every file matched the expectation given by --expect (valid or invalid)."""
import json
import sys

import jsonschema
import yaml

def main() -> int:
    args = sys.argv[1:]
    expect = "valid"
    if args and args[0].startswith("--expect="):
        expect = args.pop(0).split("=", 1)[1]
    schema_path, files = args[0], args[1:]
    with open(schema_path) as handle:
        schema = json.load(handle)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    status = 0
    for path in files:
        with open(path) as handle:
            document = yaml.safe_load(handle)
        errors = sorted(validator.iter_errors(document), key=lambda e: list(e.path))
        if errors:
            reasons = "; ".join(f"{'/'.join(map(str, e.path)) or '<root>'}: {e.message}" for e in errors[:5])
            print(f"invalid {path}: {reasons}")
        else:
            print(f"ok {path}")
        if bool(errors) != (expect == "invalid"):
            status = 1
    return status

if __name__ == "__main__":
    sys.exit(main())
