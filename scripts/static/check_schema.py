"""Checks every google resource and data block under the given directories against the google
provider's schema, without a Terraform registry.

    python check_schema.py build WHEEL_OR_JSII SCHEMA.json      # once per pinned provider version
    python check_schema.py check SCHEMA.json DIR [DIR ...]        # every run
    python check_schema.py fixture SCHEMA.json BAD_DIR            # the check finds what is planted

Where the schema comes from: the CDK for Terraform prebuilt bindings of the google provider
(`cdktf-cdktf-provider-google` on PyPI, pinned with its hash in requirements-schema.txt) are
generated from `terraform providers schema -json` of one provider release, and ship that generated
code's jsii assembly: a JSON document with one struct per resource configuration and per nested
block. For each property the assembly records whether it is optional, its type (a primitive, a
map, or another struct: a nested block), and a link to the registry documentation whose fragment is
the argument's Terraform name (`...#secret_data_wo`). `build` turns that into a small table;
`check` walks the HCL (python-hcl2) and reports, per block, every argument or nested block the
provider does not know and every required one that is missing, and every reference
`google_x.name.attr` to a block of the same module whose type exports no such attribute (the
assembly's resource classes list their attribute getters). `dynamic "x"` blocks are checked as
blocks named x, with their `content`; an argument set through a meta-argument (`count`,
`for_each`, `depends_on`, `lifecycle`, `provider`) is always accepted.

Limits, by design: types and value constraints are not checked (Terraform would, at validate and
plan time); resources of other providers (random, terraform_remote_state) are listed as not
covered.
"""

from __future__ import annotations

import difflib
import json
import re
import sys
from pathlib import Path
from typing import Any, Iterator

# Raise when `build` writes a different table; check-static.sh rebuilds the cached table then.
TABLE_FORMAT = 2
META_ARGUMENTS = {"count", "for_each", "depends_on", "lifecycle", "provider", "provisioner", "connection"}
REGISTRY_LINK = re.compile(
    r"\{@link https://registry\.terraform\.io/providers/hashicorp/google/([^/]+)/docs/(resources|data-sources)/\w+ (google_\w+)\}"
)
ARGUMENT_LINK = re.compile(r"Docs at Terraform Registry: \{@link \S+#(\w+) ")


# ---- build: jsii assembly -> schema table ---------------------------------------------------------

def snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def struct_ref(type_: dict[str, Any], types: dict[str, Any]) -> str | None:
    """The struct a property's type refers to (a nested block), or None for a plain value."""
    if "fqn" in type_:
        target = types.get(type_["fqn"])
        return type_["fqn"] if target and target.get("datatype") else None
    if "collection" in type_ and type_["collection"]["kind"] == "array":
        return struct_ref(type_["collection"]["elementtype"], types)
    if "union" in type_:
        for member in type_["union"]["types"]:
            ref = struct_ref(member, types)
            if ref:
                return ref
    return None


def read_assembly(path: Path) -> dict[str, Any]:
    """The jsii assembly, from the wheel itself (its _jsii/*.jsii.tgz holds package/.jsii) or from
    an extracted .jsii file."""
    if path.suffix != ".whl":
        return json.loads(path.read_text(encoding="utf-8"))
    import io
    import tarfile
    import zipfile

    with zipfile.ZipFile(path) as wheel:
        inner = [n for n in wheel.namelist() if n.endswith(".jsii.tgz")]
        if len(inner) != 1:
            raise SystemExit(f"{path}: expected one .jsii.tgz inside, found {inner}")
        with tarfile.open(fileobj=io.BytesIO(wheel.read(inner[0])), mode="r:gz") as tgz:
            member = tgz.extractfile("package/.jsii")
            if member is None:
                raise SystemExit(f"{path}: no package/.jsii in {inner[0]}")
            return json.load(member)


def build(assembly_path: Path, out_path: Path) -> int:
    assembly = read_assembly(assembly_path)
    types: dict[str, Any] = assembly["types"]
    version = None
    roots: dict[str, dict[str, str]] = {"resource": {}, "data": {}}
    # What each type exports to references (`google_x.name.attr`): the class's attribute getters.
    exports: dict[str, dict[str, list[str]]] = {"resource": {}, "data": {}}
    for fqn, t in types.items():
        if t.get("kind") != "class" or not t.get("initializer"):
            continue
        m = REGISTRY_LINK.search(t.get("docs", {}).get("summary", ""))
        if not m:
            continue
        version = m.group(1)
        config = [p for p in t["initializer"].get("parameters", []) if p["name"] == "config"]
        if not config:
            continue
        kind = "resource" if m.group(2) == "resources" else "data"
        roots[kind][m.group(3)] = config[0]["type"]["fqn"]
        exports[kind][m.group(3)] = sorted(
            {snake(p["name"]) for p in t.get("properties", []) if not p.get("static") and not p["name"].endswith("Input")}
        )

    structs: dict[str, Any] = {}

    def properties(fqn: str) -> list[dict[str, Any]]:
        t = types[fqn]
        props = list(t.get("properties", []))
        for parent in t.get("interfaces", []):
            if parent in types:
                props.extend(properties(parent))
        return props

    def visit(fqn: str) -> None:
        if fqn in structs:
            return
        entry: dict[str, Any] = {"attrs": {}, "blocks": {}}
        structs[fqn] = entry
        for p in properties(fqn):
            docs = p.get("docs", {})
            m = ARGUMENT_LINK.search(docs.get("remarks", "") + " " + docs.get("summary", ""))
            name = m.group(1) if m else snake(p["name"])
            required = not p.get("optional", False)
            ref = struct_ref(p["type"], types)
            if ref:
                entry["blocks"][name] = [required, ref]
                visit(ref)
            else:
                entry["attrs"][name] = required

    for kind in roots.values():
        for fqn in kind.values():
            visit(fqn)
    table = {"provider": "hashicorp/google", "version": version, **roots, "structs": structs, "exports": exports}
    out_path.write_text(json.dumps(table, separators=(",", ":")), encoding="utf-8")
    print(f"     schema of hashicorp/google {version}: {len(roots['resource'])} resources, "
          f"{len(roots['data'])} data sources, {len(structs)} structs")
    return 0


# ---- check: HCL against the table -----------------------------------------------------------------

def unquote(s: str) -> str:
    return s[1:-1] if len(s) >= 2 and s[0] == s[-1] == '"' else s


def is_block_list(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) and v.get("__is_block__") for v in value)


class Checker:
    def __init__(self, table: dict[str, Any]) -> None:
        self.table = table
        self.problems: list[str] = []
        self.checked = 0
        self.references = 0
        self.not_covered: set[str] = set()

    def check_body(self, where: str, body: dict[str, Any], fqn: str, top: bool) -> None:
        struct = self.table["structs"][fqn]
        present: set[str] = set()
        for key, value in body.items():
            if key.startswith("__"):
                continue
            if top and key in META_ARGUMENTS:
                continue
            if key == "dynamic" and isinstance(value, list):
                for dyn in value:
                    for label, spec in dyn.items():
                        if label.startswith("__") or not isinstance(spec, dict):
                            continue
                        name = unquote(label)
                        present.add(name)
                        self.nested(where, name, struct, [c for c in spec.get("content", []) if isinstance(c, dict)])
                continue
            present.add(key)
            if key in struct["attrs"]:
                continue
            if key in struct["blocks"]:
                # A nested block, or (for object-typed arguments) an attribute holding an object.
                self.nested(where, key, struct, value if is_block_list(value) else [])
                continue
            self.problems.append(f"{where}: unknown argument or block `{key}`{self.hint(key, struct)}")
        for name, required in struct["attrs"].items():
            if required and name not in present:
                self.problems.append(f"{where}: required argument `{name}` is missing")
        for name, (required, _) in struct["blocks"].items():
            if required and name not in present:
                self.problems.append(f"{where}: required block `{name}` is missing")

    def nested(self, where: str, name: str, struct: dict[str, Any], bodies: list[dict[str, Any]]) -> None:
        if name not in struct["blocks"]:
            self.problems.append(f"{where}: unknown block `{name}`{self.hint(name, struct)}")
            return
        for body in bodies:
            self.check_body(f"{where}.{name}", body, struct["blocks"][name][1], top=False)

    @staticmethod
    def hint(name: str, struct: dict[str, Any]) -> str:
        close = difflib.get_close_matches(name, [*struct["attrs"], *struct["blocks"]], n=1)
        return f" (did you mean `{close[0]}`?)" if close else ""

    def check_constraint(self, path: Path, doc: dict[str, Any]) -> None:
        """The google provider constraint must admit exactly the checked release line: from the
        schema's version up to the next major release, whose removals the schema cannot vouch for."""
        version = self.table["version"]
        want = f">= {version}, < {int(version.split('.')[0]) + 1}.0.0"
        for tf in doc.get("terraform", []):
            for providers in tf.get("required_providers", []):
                google = providers.get("google")
                if isinstance(google, dict) and unquote(str(google.get("version"))) != want:
                    self.problems.append(
                        f"{path}: google provider constraint {google.get('version')} is not \"{want}\", the release line the schema check covers"
                    )

    def check_file(self, path: Path, doc: dict[str, Any]) -> None:
        self.check_constraint(path, doc)
        for kind in ("resource", "data", "ephemeral"):
            for block in doc.get(kind, []):
                for type_label, named in block.items():
                    tf_type = unquote(type_label)
                    if type_label.startswith("__"):
                        continue
                    for name_label, body in named.items():
                        if name_label.startswith("__"):
                            continue
                        address = f"{'' if kind == 'resource' else kind + '.'}{tf_type}.{unquote(name_label)}"
                        fqn = self.table.get(kind, {}).get(tf_type)
                        if kind == "ephemeral":
                            self.not_covered.add(f"ephemeral {tf_type}")
                            continue
                        if fqn is None:
                            if tf_type.startswith("google_"):
                                self.problems.append(f"{path}: {address}: the provider has no {kind} type {tf_type}")
                            else:
                                self.not_covered.add(tf_type)
                            continue
                        self.checked += 1
                        self.check_body(f"{path}: {address}", body, fqn, top=True)


REFERENCE = re.compile(r"(?<![\w.])(data\.)?(google_\w+)\.(\w+)(?:\[[^\]]*\])?\.(\w+)")


def strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            if str(k).startswith("__"):
                continue  # the parser's own keys, comments among them
            yield str(k)
            yield from strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from strings(v)


def check_references(checker: "Checker", module_dir: Path, docs: dict[Path, dict[str, Any]]) -> None:
    """Every `google_x.name.attr` / `data.google_x.name.attr` names a block declared in the same
    module and an attribute that type exports (what `terraform validate` would say)."""
    declared: dict[tuple[str, str], set[str]] = {("resource", ""): set()}
    for doc in docs.values():
        for kind in ("resource", "data"):
            for block in doc.get(kind, []):
                for type_label, named in block.items():
                    if isinstance(named, dict):
                        declared.setdefault((kind, unquote(type_label)), set()).update(unquote(n) for n in named if not n.startswith("__"))
    for path, doc in docs.items():
        for text in strings(doc):
            for m in REFERENCE.finditer(text):
                kind = "data" if m.group(1) else "resource"
                tf_type, name, attr = m.group(2), m.group(3), m.group(4)
                if name not in declared.get((kind, tf_type), set()):
                    continue  # a type name in a string, or another module's block: not a reference here
                exported = checker.table.get("exports", {}).get(kind, {}).get(tf_type)
                checker.references += 1
                if exported is not None and attr not in exported:
                    close = difflib.get_close_matches(attr, exported, n=1)
                    hint = f" (did you mean `{close[0]}`?)" if close else ""
                    checker.problems.append(
                        f"{path}: {m.group(0)}: {tf_type} exports no attribute `{attr}`{hint}"
                    )


def run(schema_path: Path, dirs: list[Path]) -> tuple[Checker, str]:
    import hcl2

    table = json.loads(schema_path.read_text(encoding="utf-8"))
    checker = Checker(table)
    modules: dict[Path, dict[Path, dict[str, Any]]] = {}
    for d in dirs:
        for path in sorted(d.rglob("*.tf")):
            if ".terraform" in path.parts:
                continue
            with path.open(encoding="utf-8") as fh:
                doc = hcl2.load(fh)
            checker.check_file(path, doc)
            modules.setdefault(path.parent, {})[path] = doc
    for module_dir, docs in modules.items():
        check_references(checker, module_dir, docs)
    covered = (f"{checker.checked} blocks and {checker.references} attribute references checked "
               f"against hashicorp/google {table['version']}")
    if checker.not_covered:
        covered += f"; other providers, not covered: {', '.join(sorted(checker.not_covered))}"
    return checker, covered


def check(schema_path: Path, dirs: list[Path]) -> int:
    checker, covered = run(schema_path, dirs)
    for p in checker.problems:
        print(f"     - {p}")
    print(f"     {covered}")
    if checker.checked == 0:
        print("     - no google resource or data block found")
        return 1
    return 1 if checker.problems else 0


def fixture(schema_path: Path, d: Path) -> int:
    """The bad fixture's `# expect: TEXT` lines must each match a finding, and every finding must
    be expected: the check finds exactly the faults planted there."""
    expected = [
        m.group(1).strip()
        for path in sorted(d.rglob("*.tf"))
        for m in re.finditer(r"^# expect: (.+)$", path.read_text(encoding="utf-8"), re.M)
    ]
    checker, covered = run(schema_path, [d])
    missed = [e for e in expected if not any(e in p for p in checker.problems)]
    unexpected = [p for p in checker.problems if not any(e in p for e in expected)]
    for p in checker.problems:
        print(f"       fixture: {p}")
    for e in missed:
        print(f"     - not found in the bad fixture: {e}")
    for p in unexpected:
        print(f"     - not planted in the bad fixture: {p}")
    print(f"     {len(checker.problems)} findings in the bad fixture, {len(expected)} planted")
    return 1 if missed or unexpected or not expected else 0


def main() -> int:
    if len(sys.argv) >= 4 and sys.argv[1] == "build":
        return build(Path(sys.argv[2]), Path(sys.argv[3]))
    if len(sys.argv) == 4 and sys.argv[1] == "fixture":
        return fixture(Path(sys.argv[2]), Path(sys.argv[3]))
    if len(sys.argv) >= 4 and sys.argv[1] == "check":
        return check(Path(sys.argv[2]), [Path(a) for a in sys.argv[3:]])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
