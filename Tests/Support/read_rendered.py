#!/usr/bin/env python3
"""Reads files photon rendered with the real reader of each format, and checks a hostile value against
a benign one: the file must parse, keep the shape it has with the benign value (the same keys, lists
and lines), and hold the hostile value exactly where the benign one was.

Input (stdin, JSON): {"cases": [{"id", "format", "benign": PATH, "hostile": PATH, "marker": B, "value": H, "exact": bool}]}
A case that is not exact (an empty value, which a template may treat as "not given") only has to parse.
Output (stdout, JSON): {id: {"ok": true} | {"ok": false, "why": "..."}}

Readers: json (the json module, duplicate keys refused), yaml (PyYAML safe_load_all), toml (tomllib),
properties (java.util.Properties through ReadProperties.java), env (sh -n, then sourced by dash and by
bash with set -a, every variable read back), haproxy (haproxy -c, then HAProxy's own tokenizer rules,
parse_line in src/tools.c, ported below), systemd (the unit-file grammar: sections, key=value, comments,
continuations, % specifiers), text and multiline (lines).
"""
import json
import os
import subprocess
import sys
import tempfile
import tomllib

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))


class Unreadable(Exception):
    pass


def no_duplicates(pairs):
    seen = {}
    for key, value in pairs:
        if key in seen:
            raise Unreadable("duplicate key %r" % key)
        seen[key] = value
    return seen


def read_json(path):
    with open(path, encoding="utf-8") as handle:
        return json.load(handle, object_pairs_hook=no_duplicates)


def read_yaml(path):
    with open(path, encoding="utf-8") as handle:
        return list(yaml.safe_load_all(handle))


def read_toml(path):
    with open(path, "rb") as handle:
        return tomllib.load(handle)


def read_env(path):
    check = subprocess.run(["sh", "-n", path], capture_output=True, text=True)
    if check.returncode != 0:
        raise Unreadable("sh -n: " + check.stderr.strip())
    results = []
    for shell in ["sh", "bash"]:
        # Variables a shell sets by itself are read from an empty file and left out.
        values = {}
        for source in [path, os.devnull]:
            run = subprocess.run(["env", "-i", shell, "-c", 'set -a; . "$0" || exit 97; env -0', source], capture_output=True, timeout=20)
            if run.returncode != 0:
                raise Unreadable("%s could not source it (%d): %s" % (shell, run.returncode, run.stderr.decode(errors="replace").strip()))
            entries = dict(item.split("=", 1) for item in run.stdout.decode("utf-8", errors="surrogateescape").split("\0") if "=" in item)
            values[source] = entries
        baseline = values[os.devnull]
        results.append({k: v for k, v in values[path].items() if k not in baseline or baseline[k] != v})
    if results[0] != results[1]:
        raise Unreadable("dash and bash read different values: %r / %r" % (results[0], results[1]))
    return results[0]


def haproxy_words(line):
    """HAProxy's parse_line (src/tools.c) with comments, quotes, backslashes and environment variables on,
    the environment empty: the words of one configuration line, or an error for an unmatched quote."""
    words, word, index = [], None, 0
    dquote = squote = False
    while index < len(line):
        char = line[index]
        if char == "#" and not squote and not dquote:
            break
        if char == '"' and not squote:
            dquote = not dquote
            word = word or ""
            index += 1
            continue
        if char == "'" and not dquote:
            squote = not squote
            word = word or ""
            index += 1
            continue
        if char == "\\" and not squote:
            following = line[index + 1] if index + 1 < len(line) else ""
            simple = {" ": " ", "\\": "\\", "t": "\t", "n": "\n", "r": "\r", "#": "#", "'": "'", '"': '"'}
            if following in simple or (following == "$" and dquote):
                word = (word or "") + (simple.get(following) or "$")
                index += 2
                continue
            if following == "x":
                word = (word or "") + chr(int(line[index + 2:index + 4], 16))
                index += 4
                continue
            word = (word or "") + "\\"
            index += 1
            continue
        if char in " \t" and not squote and not dquote:
            if word is not None:
                words.append(word)
                word = None
            index += 1
            continue
        if char == "$" and dquote:
            # ${NAME} or $NAME from an empty environment: the variable disappears.
            end = index + 1
            if end < len(line) and line[end] == "{":
                close = line.find("}", end)
                if close < 0:
                    raise Unreadable("unmatched brace")
                index = close + 1
            else:
                if end >= len(line) or not (line[end].isalpha() or line[end] in "_."):
                    raise Unreadable("bad variable name after '$'")
                while end < len(line) and (line[end].isalnum() or line[end] == "_"):
                    end += 1
                index = end
            word = word or ""
            continue
        word = (word or "") + char
        index += 1
    if dquote or squote:
        raise Unreadable("unmatched quote")
    if word is not None:
        words.append(word)
    return words


def read_haproxy(path):
    check = subprocess.run(["haproxy", "-c", "-q", "-f", path], capture_output=True, text=True)
    if check.returncode != 0:
        raise Unreadable("haproxy -c: " + (check.stderr or check.stdout).strip()[-500:])
    with open(path, encoding="utf-8") as handle:
        return [words for words in (haproxy_words(line) for line in handle.read().split("\n")) if words]


def read_systemd(path):
    """A unit file as systemd's config parser reads it: [Section] headers, Key=Value with spaces around
    both trimmed, # and ; comment lines, a trailing backslash continuing the value; then % specifiers
    (%% is a percent sign, any other % names a value systemd substitutes)."""
    entries, section, pending = [], None, None
    with open(path, encoding="utf-8") as handle:
        lines = handle.read().split("\n")
    for raw in lines:
        line = raw.strip()
        if pending is not None:
            if line.endswith("\\"):
                pending += " " + line[:-1]
                continue
            entries[-1] = (entries[-1][0], entries[-1][1], pending + " " + line)
            pending = None
            continue
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            if not line.endswith("]"):
                raise Unreadable("bad section header %r" % line)
            section = line[1:-1]
            continue
        if "=" not in line:
            raise Unreadable("line without '=': %r" % line)
        key, value = line.split("=", 1)
        entries.append((section, key.strip(), value.strip()))
        if value.strip().endswith("\\"):
            pending = value.strip()[:-1]
    resolved = []
    for section, key, value in entries:
        out, index = "", 0
        while index < len(value):
            if value[index] == "%":
                if index + 1 >= len(value):
                    raise Unreadable("a lone % at the end of %s=" % key)
                out += "%" if value[index + 1] == "%" else "<specifier %s>" % value[index + 1]
                index += 2
            else:
                out += value[index]
                index += 1
        resolved.append([section, key, out])
    return resolved


def read_lines(path):
    with open(path, encoding="utf-8") as handle:
        return handle.read().split("\n")


def read_properties_all(paths):
    if not paths:
        return {}
    run = subprocess.run(["java", os.path.join(HERE, "ReadProperties.java")] + paths, capture_output=True, text=True, timeout=600)
    if run.returncode != 0:
        raise SystemExit("ReadProperties.java failed: " + run.stderr)
    return json.loads(run.stdout)


READERS = {"json": read_json, "yaml": read_yaml, "toml": read_toml, "env": read_env, "haproxy": read_haproxy,
           "systemd": read_systemd, "text": read_lines, "multiline": read_lines}


def compare(benign, hostile, marker, value, where="$"):
    """The hostile tree must be the benign one with the marker replaced by the value in every string."""
    if isinstance(benign, dict):
        if not isinstance(hostile, dict):
            return "%s: a mapping became %s" % (where, type(hostile).__name__)
        expected = {k.replace(marker, value) if isinstance(k, str) else k: v for k, v in benign.items()}
        if set(expected) != set(hostile):
            return "%s: keys %r became %r" % (where, sorted(map(str, expected)), sorted(map(str, hostile)))
        for key, child in benign.items():
            mapped = key.replace(marker, value) if isinstance(key, str) else key
            problem = compare(child, hostile[mapped], marker, value, "%s.%s" % (where, key))
            if problem:
                return problem
        return None
    if isinstance(benign, list):
        if not isinstance(hostile, list) or len(benign) != len(hostile):
            return "%s: a list of %d became %r" % (where, len(benign), hostile if not isinstance(hostile, list) else "a list of %d" % len(hostile))
        for index, (a, b) in enumerate(zip(benign, hostile)):
            problem = compare(a, b, marker, value, "%s[%d]" % (where, index))
            if problem:
                return problem
        return None
    if isinstance(benign, str):
        expected = benign.replace(marker, value)
        if hostile != expected:
            return "%s: expected %r, read %r" % (where, expected[:300], hostile if not isinstance(hostile, str) else hostile[:300])
        return None
    if type(benign) is not type(hostile) or benign != hostile:
        return "%s: %r became %r" % (where, benign, hostile)
    return None


def main():
    cases = json.load(sys.stdin)["cases"]
    properties = sorted({p for case in cases if case["format"] == "properties" for p in (case["benign"], case["hostile"])})
    parsed_properties = read_properties_all(properties)
    results, cache = {}, {}

    def read(path, format):
        if path not in cache:
            try:
                if format == "properties":
                    entry = parsed_properties[path]
                    if "error" in entry:
                        raise Unreadable(entry["error"])
                    cache[path] = (entry["value"], None)
                else:
                    cache[path] = (READERS[format](path), None)
            except (Unreadable, ValueError, yaml.YAMLError, tomllib.TOMLDecodeError, UnicodeDecodeError, subprocess.TimeoutExpired) as error:
                cache[path] = (None, "%s: %s" % (type(error).__name__, error))
        return cache[path]

    for case in cases:
        benign, problem = read(case["benign"], case["format"])
        if problem:
            results[case["id"]] = {"ok": False, "why": "the benign file does not read: " + problem}
            continue
        hostile, problem = read(case["hostile"], case["format"])
        if problem:
            results[case["id"]] = {"ok": False, "why": "does not read: " + problem}
            continue
        problem = compare(benign, hostile, case["marker"], case["value"]) if case.get("exact", True) else None
        results[case["id"]] = {"ok": problem is None, "why": problem or ""}
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
