"""The deployment's known fault classes, each checked on the repository and proven on a bad fixture.

Run by scripts/check-static.sh inside the python-hcl2 virtualenv:

    python check_faults.py REPO_ROOT

Every rule runs twice: on the repository, where it must find nothing, and on its fixture under
scripts/static/fixtures/faults/<rule>/, where it must find something (so a rule that can no longer
fire is itself a failure). Exit status: the number of failed rules.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import yaml

from check_infra import load_hcl, unquote

DIGEST = re.compile(r"^[a-z0-9.-]+(:[0-9]+)?/[a-z0-9._/-]+@sha256:[0-9a-f]{64}$")
ZERO_DIGEST = "@sha256:" + "0" * 64


# ---- helpers -------------------------------------------------------------------------------------

def tf_files(root: Path, suffix: str = ".tf") -> Iterator[tuple[Path, dict[str, Any]]]:
    for path in sorted(root.rglob(f"*{suffix}")):
        if ".terraform" not in path.parts:
            yield path, load_hcl(path)


def resources(doc: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for block in doc.get("resource", []):
        for type_label, named in block.items():
            if type_label.startswith("__"):
                continue
            for name_label, body in named.items():
                if not name_label.startswith("__"):
                    yield unquote(type_label), unquote(name_label), body


def blocks_named(body: Any, name: str) -> Iterator[dict[str, Any]]:
    """Every block `name` at any depth, including the content of `dynamic "name"` blocks."""
    if isinstance(body, list):
        for item in body:
            yield from blocks_named(item, name)
        return
    if not isinstance(body, dict):
        return
    for key, value in body.items():
        if key == name and isinstance(value, list):
            yield from (v for v in value if isinstance(v, dict))
        if key == "dynamic" and isinstance(value, list):
            for dyn in value:
                for label, spec in dyn.items():
                    if isinstance(spec, dict) and unquote(label) == name:
                        yield from (c for c in spec.get("content", []) if isinstance(c, dict))
        if isinstance(value, (list, dict)):
            yield from blocks_named(value, name)


def rel(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


# ---- 1. timeout_sec on a backend service with serverless NEG backends -------------------------------

def serverless_timeout(root: Path) -> list[str]:
    """The API refuses timeout_sec when the backends are serverless NEGs. A backend counts as
    serverless when its group refers to a SERVERLESS NEG of the configuration or to a component's
    `backend_negs` (serverless by the foundation's contract)."""
    docs = list(tf_files(root))
    serverless = {
        f"google_compute_region_network_endpoint_group.{name}"
        for _, doc in docs
        for type_, name, body in resources(doc)
        if type_ == "google_compute_region_network_endpoint_group"
        and unquote(body.get("network_endpoint_type", "")) == "SERVERLESS"
    }
    problems = []
    for path, doc in docs:
        for type_, name, body in resources(doc):
            if type_ != "google_compute_backend_service" or "timeout_sec" not in body:
                continue
            groups = " ".join(str(b.get("group", "")) for b in blocks_named(body, "backend"))
            groups += " " + " ".join(str(d) for d in body.get("dynamic", []))
            if "backend_negs" in groups or any(neg in groups for neg in serverless):
                problems.append(f"{rel(path, root)}: {type_}.{name} sets timeout_sec on serverless NEG backends")
    return problems


# ---- 2. hidden files uploaded without include-hidden-files ----------------------------------------

def hidden_upload(root: Path) -> list[str]:
    """actions/upload-artifact (v4.4+) skips files and folders whose name starts with a dot unless
    include-hidden-files is true, so such a path silently never reaches the next job."""
    problems = []
    for path in sorted([*root.rglob("*.yml"), *root.rglob("*.yaml")]):
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for job_name, job in (doc.get("jobs") or {}).items():
            for step in job.get("steps") or []:
                if not str(step.get("uses", "")).startswith("actions/upload-artifact@"):
                    continue
                with_ = step.get("with") or {}
                if str(with_.get("include-hidden-files", "false")).lower() == "true":
                    continue
                for line in str(with_.get("path", "")).splitlines():
                    parts = [p for p in re.sub(r"\$\{\{[^}]*\}\}", "x", line.strip()).split("/") if p not in ("", ".", "..")]
                    if any(p.startswith(".") for p in parts):
                        problems.append(f"{rel(path, root)}: job {job_name} uploads {line.strip()} without include-hidden-files: true")
    return problems


# ---- 2b. an artifact restored from a path its upload did not produce ------------------------------

def normalise(text: str) -> str:
    """One spelling for the expressions a workflow uses for the same value."""
    text = re.sub(r"\$\{\{\s*env\.(\w+)\s*\}\}", r"$\1", text)
    text = re.sub(r"\$\{\{\s*runner\.temp\s*\}\}", "$RUNNER_TEMP", text)
    return re.sub(r"\$\{(\w+)\}", r"$\1", text)


def artifact_layout(paths: list[str]) -> set[str]:
    """upload-artifact stores each file relative to the least common ancestor of all paths."""
    split = [p.strip().strip("/").split("/") for p in paths if p.strip()]
    common = 0
    while all(len(p) > common + 1 for p in split) and len({tuple(p[: common + 1]) for p in split}) == 1:
        common += 1
    return {"/".join(p[common:]) for p in split}


def artifact_paths(root: Path) -> list[str]:
    """A job that downloads an artifact and then reads DOWNLOAD_DIR/x must find x in the layout
    the uploading job produced: upload-artifact drops the paths' common ancestor."""
    problems = []
    for path in sorted([*root.rglob("*.yml"), *root.rglob("*.yaml")]):
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        layouts: dict[str, set[str]] = {}
        for job in (doc.get("jobs") or {}).values():
            for step in job.get("steps") or []:
                if str(step.get("uses", "")).startswith("actions/upload-artifact@"):
                    with_ = step.get("with") or {}
                    lines = [normalise(line) for line in str(with_.get("path", "")).splitlines()]
                    layouts[normalise(str(with_.get("name", "")))] = artifact_layout(lines)
        for job_name, job in (doc.get("jobs") or {}).items():
            downloads: dict[str, str] = {}
            for step in job.get("steps") or []:
                with_ = step.get("with") or {}
                if str(step.get("uses", "")).startswith("actions/download-artifact@"):
                    downloads[normalise(str(with_.get("path", "")))] = normalise(str(with_.get("name", "")))
                    continue
                script = normalise(str(step.get("run", "")))
                for directory, name in downloads.items():
                    if name not in layouts:
                        continue
                    for m in re.finditer(re.escape(directory) + r"/([^\s\"']+)", script):
                        if m.group(1) not in layouts[name]:
                            problems.append(
                                f"{rel(path, root)}: job {job_name} reads {directory}/{m.group(1)}, "
                                f"but artifact {name} holds {sorted(layouts[name])}"
                            )
    return problems


# ---- 3. a shipped tfvars enabling a component whose state contract is unmet ------------------------

def meets_contract(stack: Path) -> str | None:
    """None when the stack outputs backend_negs = { (var.region) = <SERVERLESS NEG>.id }."""
    if not stack.is_dir():
        return f"no stack {stack.name} in this repository to check its outputs"
    docs = list(tf_files(stack))
    negs = {
        name
        for _, doc in docs
        for type_, name, body in resources(doc)
        if type_ == "google_compute_region_network_endpoint_group"
        and unquote(body.get("network_endpoint_type", "")) == "SERVERLESS"
    }
    for _, doc in docs:
        for block in doc.get("output", []):
            body = {unquote(k): v for k, v in block.items()}.get("backend_negs")
            if body is None:
                continue
            value = body.get("value")
            ids = {f"${{google_compute_region_network_endpoint_group.{n}.id}}" for n in negs}
            if isinstance(value, dict) and value and all(
                "var.region" in str(k) and v in ids for k, v in value.items() if not str(k).startswith("__")
            ):
                return None
            return f"output backend_negs of stack {stack.name} is not a map region => serverless NEG id: {value}"
    return f"stack {stack.name} has no output backend_negs"


def component_contract(root: Path) -> list[str]:
    """root is a stacks/ directory; every foundation tfvars may enable only components whose stack
    here meets the contract the foundation reads through remote state."""
    problems = []
    for path, doc in tf_files(root / "foundation" / "environments", ".tfvars"):
        for key, value in doc.items():
            m = re.fullmatch(r"enable_(\w+)", key)
            if not m or value is not True:
                continue
            reason = meets_contract(root / m.group(1))
            if reason:
                problems.append(f"{rel(path, root)}: {key} = true, but {reason}")
    return problems


# ---- 4. a service or job reading a secret without a pinned version --------------------------------

def secret_latest(root: Path) -> list[str]:
    """`version = "latest"` (or none) lets a revision start before the secret has a version and
    hides which value it runs with; pinning the version resource's attribute orders it too."""
    problems = []
    for path, doc in tf_files(root):
        for type_, name, body in resources(doc):
            for ref in blocks_named(body, "secret_key_ref"):
                version = ref.get("version")
                if version is None or unquote(str(version)) == "latest":
                    problems.append(f"{rel(path, root)}: {type_}.{name} reads a secret at version {version or '(unset)'}")
        for block in doc.get("module", []):
            for name, body in block.items():
                if "latest" in str(body.get("secret_env", "")):
                    problems.append(f"{rel(path, root)}: module {unquote(name)} passes a secret at version \"latest\"")
    return problems


# ---- 5. a non-digest image for uat or prod --------------------------------------------------------

def image_digest(root: Path) -> list[str]:
    """root is a stack directory: uat/prod tfvars may set only a real digest, and the stack's
    `image` variable must refuse anything else for uat and prod."""
    problems = []
    for path, doc in tf_files(root / "environments", ".tfvars"):
        if path.stem not in ("uat", "prod") or "image" not in doc:
            continue
        image = unquote(str(doc["image"]))
        if not DIGEST.match(image) or image.endswith(ZERO_DIGEST):
            problems.append(f"{rel(path, root)}: image {image} is not REGISTRY/PATH@sha256:<real digest>")
    validations = []
    for _, doc in tf_files(root):
        for block in doc.get("variable", []):
            body = {unquote(k): v for k, v in block.items()}.get("image")
            if body:
                validations += [str(v.get("condition", "")) for v in body.get("validation", [])]
    if not any("@sha256:" in c and "uat" in c and "prod" in c for c in validations):
        problems.append(f"{root.name}: variable image has no validation refusing a non-digest image in uat and prod")
    return problems


# ---- 6. roles/cloudsql.client without a condition -------------------------------------------------

def cloudsql_unconditioned(root: Path) -> list[str]:
    """Every environment shares the project: a project-wide grant reaches every instance."""
    problems = []
    for path, doc in tf_files(root):
        for type_, name, body in resources(doc):
            if type_.startswith("google_project_iam_") and unquote(str(body.get("role", ""))) == "roles/cloudsql.client":
                if not body.get("condition"):
                    problems.append(f"{rel(path, root)}: {type_}.{name} grants roles/cloudsql.client project-wide")
    return problems


# ---- 6b. a container command found through PATH ----------------------------------------------------

def relative_command(root: Path) -> list[str]:
    """The runtime image has no shell and its PATH is not part of the contract: a Cloud Run
    container's command names its executable by absolute path."""
    problems = []
    for path, doc in tf_files(root):
        for type_, name, body in resources(doc):
            if not type_.startswith("google_cloud_run_v2_"):
                continue
            for container in blocks_named(body, "containers"):
                command = container.get("command")
                if isinstance(command, list) and command and not unquote(str(command[0])).startswith("/"):
                    problems.append(f"{rel(path, root)}: {type_}.{name} runs {unquote(str(command[0]))} through PATH")
    return problems


# ---- 7. base images pinned by tag ------------------------------------------------------------------

def dockerfile_digest(root: Path) -> list[str]:
    """Every FROM of an outside image carries @sha256: (ARG defaults before the first FROM are
    expanded), so a rebuild uses the bytes that were reviewed."""
    problems = []
    for path in sorted(root.glob("Dockerfile*")):
        args: dict[str, str] = {}
        stages: set[str] = set()
        for line in path.read_text(encoding="utf-8").splitlines():
            m = re.match(r"^\s*ARG\s+(\w+)=(\S+)", line)
            if m and not stages:
                args[m.group(1)] = m.group(2).strip('"')
            m = re.match(r"^\s*FROM\s+(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?", line, re.I)
            if not m:
                continue
            image = re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda a: args.get(a.group(1) or a.group(2), a.group(0)), m.group(1))
            if image not in stages and image != "scratch" and "@sha256:" not in image:
                problems.append(f"{rel(path, root)}: FROM {image} is not pinned by digest")
            if m.group(2):
                stages.add(m.group(2))
    return problems


@dataclass
class Rule:
    name: str
    fixture: str
    where: Callable[[Path], Path]
    check: Callable[[Path], list[str]]


RULES = [
    Rule("no timeout_sec on serverless-NEG backend services", "serverless-timeout",
         lambda r: r / "infra", serverless_timeout),
    Rule("hidden files are uploaded with include-hidden-files", "hidden-upload",
         lambda r: r / ".github" / "workflows", hidden_upload),
    Rule("artifacts are read back at the paths their upload produced", "artifact-paths",
         lambda r: r / ".github" / "workflows", artifact_paths),
    Rule("shipped foundation tfvars enable only components meeting the backend_negs contract", "component-contract",
         lambda r: r / "infra" / "terraform" / "stacks", component_contract),
    Rule("every secret a service or job reads is pinned to a version", "secret-latest",
         lambda r: r / "infra", secret_latest),
    Rule("uat and prod take only @sha256: images (tfvars and variable validation)", "image-digest",
         lambda r: r / "infra" / "terraform" / "stacks" / "plant", image_digest),
    Rule("roles/cloudsql.client is conditioned on one instance", "cloudsql-unconditioned",
         lambda r: r / "infra", cloudsql_unconditioned),
    Rule("Cloud Run container commands are absolute paths", "relative-command",
         lambda r: r / "infra", relative_command),
    Rule("Dockerfile base images are pinned by digest", "dockerfile-digest",
         lambda r: r, dockerfile_digest),
]


def main() -> int:
    repo = Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else Path.cwd()
    fixtures = repo / "scripts" / "static" / "fixtures" / "faults"
    failed = 0
    for rule in RULES:
        on_repo = rule.check(rule.where(repo))
        fixture = fixtures / rule.fixture
        on_fixture = rule.check(fixture) if fixture.is_dir() else []
        ok = not on_repo and bool(on_fixture)
        failed += 0 if ok else 1
        print(f"{'ok  ' if ok else 'FAIL'} {rule.name} (fixture {rule.fixture}: {len(on_fixture)} finding(s))")
        for p in on_repo:
            print(f"     - {p}")
        if not on_fixture:
            print(f"     - the rule found nothing in its bad fixture {rel(fixture, repo)}")
        for p in on_fixture:
            print(f"       fixture: {p}")
    print(f"faults: {len(RULES) - failed} passed, {failed} failed")
    return failed


if __name__ == "__main__":
    sys.exit(main())
