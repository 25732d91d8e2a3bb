"""Structural checks of infra/ and the workflows that checkov cannot express.

Run by scripts/check-static.sh inside the python-hcl2 virtualenv:

    python check_infra.py REPO_ROOT

Each check prints one line, "ok" or "FAIL" with the reason; the exit status is the number of failed
checks (capped at 100). The last line is "infra: N passed, N failed".
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.parse
from pathlib import Path
from typing import Any, Callable

import hcl2

ENVIRONMENTS = ("demo", "uat", "prod")
PLANT_PREFIX = "env/<env>/plant"
# Required variables of the plant stack that the workflows pass and the tfvars must not set: the image
# is the digest of the image plant-deploy has just built.
WORKFLOW_SUPPLIED = {"image"}


class Report:
    def __init__(self) -> None:
        self.passed = 0
        self.failed = 0

    def check(self, name: str, problems: list[str]) -> None:
        if problems:
            self.failed += 1
            print(f"FAIL {name}")
            for p in problems:
                print(f"     - {p}")
        else:
            self.passed += 1
            print(f"ok   {name}")


def load_hcl(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as fh:
        return hcl2.load(fh)


def strip_interp(value: Any) -> Any:
    """python-hcl2 returns expressions as "${...}" strings; unwrap one level."""
    if isinstance(value, str) and value.startswith("${") and value.endswith("}"):
        return value[2:-1]
    return value


def unquote(value: Any) -> Any:
    """python-hcl2 8 keeps the quotes of string literals; drop them."""
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


# --- every .tf and .tfvars parses ------------------------------------------------------------------

def check_parse(root: Path, parsed: dict[Path, dict[str, Any]]) -> list[str]:
    problems = []
    files = sorted(
        p
        for base in (root / "infra", root / "scripts" / "static" / "fixtures")
        for p in base.rglob("*")
        if p.suffix in (".tf", ".tfvars") and ".terraform" not in p.parts
    )
    if not files:
        return ["no .tf files found under infra/"]
    for path in files:
        try:
            parsed[path] = load_hcl(path)
        except Exception as exc:  # the parser raises several unrelated types
            problems.append(f"{path.relative_to(root)}: {type(exc).__name__}: {exc}")
    print(f"     parsed {len(files) - len(problems)} of {len(files)} .tf/.tfvars files")
    return problems


# --- tfvars are complete ---------------------------------------------------------------------------

def declared_variables(stack: Path, parsed: dict[Path, dict[str, Any]]) -> dict[str, bool]:
    """name -> has a default"""
    out: dict[str, bool] = {}
    for path, doc in parsed.items():
        if path.parent != stack or path.suffix != ".tf":
            continue
        for block in doc.get("variable", []):
            for name, body in block.items():
                out[unquote(name)] = "default" in body
    return out


def check_tfvars(root: Path, parsed: dict[Path, dict[str, Any]]) -> list[str]:
    problems = []
    stacks = root / "infra" / "terraform" / "stacks"
    expected_files = {
        stacks / "plant": [f"{e}.tfvars" for e in ENVIRONMENTS],
        stacks / "foundation": ["shared.tfvars"],
    }
    for stack, names in expected_files.items():
        variables = declared_variables(stack, parsed)
        if not variables:
            problems.append(f"{stack.relative_to(root)}: no variables found")
            continue
        required = {n for n, has_default in variables.items() if not has_default}
        for name in names:
            path = stack / "environments" / name
            if path not in parsed:
                problems.append(f"{path.relative_to(root)} is missing")
                continue
            given = {k for k in parsed[path] if not k.startswith("__")}
            supplied = WORKFLOW_SUPPLIED if stack.name == "plant" else set()
            for missing in sorted(required - given - supplied):
                problems.append(f"{path.relative_to(root)}: required variable {missing} is not set")
            for stale in sorted(given & supplied):
                problems.append(f"{path.relative_to(root)}: {stale} is passed by the deploy workflow and must not be set here")
    infra_wf = root / ".github" / "workflows" / "plant-db-infra.yml"
    wf_text = infra_wf.read_text(encoding="utf-8") if infra_wf.exists() else ""
    for name in sorted(WORKFLOW_SUPPLIED):
        if f'-var "{name}=' not in wf_text:
            problems.append(f"{infra_wf.relative_to(root)} does not pass -var \"{name}=...\" to the plan")
            for unknown in sorted(given - set(variables)):
                problems.append(f"{path.relative_to(root)}: {unknown} is not a declared variable")
            env = unquote(parsed[path].get("env"))
            if stack.name == "plant" and env != path.stem:
                problems.append(f"{path.relative_to(root)}: env = {env!r}, expected {path.stem!r}")
    return problems


# --- one state prefix ------------------------------------------------------------------------------

WORKFLOW_EXPR = re.compile(r"\$\{\{[^}]*\}\}|\$\{[A-Za-z_][A-Za-z0-9_]*\}|\$[A-Za-z_][A-Za-z0-9_]*")


def check_state_prefix(root: Path, parsed: dict[Path, dict[str, Any]]) -> list[str]:
    problems = []
    # Backends are partial: no prefix may be hard-coded in a backend block.
    for path, doc in parsed.items():
        for tf in doc.get("terraform", []):
            for backend in tf.get("backend", []):
                for kind, body in backend.items():
                    if "prefix" in body:
                        problems.append(f"{path.relative_to(root)}: backend {kind} hard-codes a prefix")
    # Every prefix a workflow initialises the plant stack with is env/<env>/plant.
    seen_plant = 0
    for wf in sorted((root / ".github" / "workflows").glob("*.yml")):
        text = wf.read_text(encoding="utf-8")
        for m in re.finditer(r"prefix=([^\s\"']+)", text):
            normalised = WORKFLOW_EXPR.sub("<env>", m.group(1))
            if normalised.endswith("/plant") or "plant" in normalised:
                seen_plant += 1
                if normalised != PLANT_PREFIX:
                    problems.append(f"{wf.name}: state prefix {m.group(1)} is not {PLANT_PREFIX}")
            elif normalised != "foundation":
                problems.append(f"{wf.name}: unexpected state prefix {m.group(1)}")
    if seen_plant == 0:
        problems.append("no workflow initialises the plant stack with a state prefix")
    # The foundation reads the plant's outputs from the same prefix.
    main = root / "infra" / "terraform" / "stacks" / "foundation" / "main.tf"
    found = []
    for block in parsed.get(main, {}).get("data", []):
        remote = {unquote(k): v for k, v in block.items()}.get("terraform_remote_state", {})
        for name, body in remote.items():
            if not name.startswith("__"):
                found.append(unquote(body["config"]["prefix"]))
    if len(found) != 1:
        problems.append(f"foundation: expected one terraform_remote_state, found {len(found)}")
    else:
        resolved = found[0].replace("${each.value.env}", "<env>").replace("${each.value.component}", "plant")
        if resolved != PLANT_PREFIX:
            problems.append(f"foundation remote state prefix {found[0]} resolves to {resolved}, not {PLANT_PREFIX}")
    return problems


# --- the certificate-name hash --------------------------------------------------------------------

def python_cert_hash(domains: list[str]) -> str:
    return hashlib.md5(",".join(sorted(set(domains))).encode("utf-8")).hexdigest()[:8]


class TfExpr:
    """Evaluates the small subset of Terraform expression syntax the cert-name module uses:
    function calls, string and number literals, and var.<name> references."""

    FUNCTIONS: dict[str, Callable[..., Any]] = {
        "substr": lambda s, off, n: s[off:] if n < 0 else s[off : off + n],
        "md5": lambda s: hashlib.md5(s.encode("utf-8")).hexdigest(),
        "join": lambda sep, items: sep.join(items),
        "sort": lambda items: sorted(items),
        "distinct": lambda items: list(dict.fromkeys(items)),
        "lower": lambda s: s.lower(),
    }
    TOKEN = re.compile(r'\s*(?:(?P<num>-?\d+)|(?P<str>"(?:[^"\\]|\\.)*")|(?P<ident>[A-Za-z_][A-Za-z0-9_.]*)|(?P<p>[(),]))')

    def __init__(self, text: str, variables: dict[str, Any]) -> None:
        self.tokens = []
        pos = 0
        text = text.strip()
        while pos < len(text):
            m = self.TOKEN.match(text, pos)
            if not m:
                raise ValueError(f"unsupported syntax at {text[pos:]!r}")
            self.tokens.append((m.lastgroup, m.group(m.lastgroup)))
            pos = m.end()
        self.i = 0
        self.variables = variables

    def evaluate(self) -> Any:
        value = self.expr()
        if self.i != len(self.tokens):
            raise ValueError("trailing tokens")
        return value

    def take(self, kind: str | None = None, text: str | None = None) -> str:
        k, t = self.tokens[self.i]
        if (kind and k != kind) or (text and t != text):
            raise ValueError(f"expected {text or kind}, got {t!r}")
        self.i += 1
        return t

    def expr(self) -> Any:
        kind, text = self.tokens[self.i]
        if kind == "num":
            self.i += 1
            return int(text)
        if kind == "str":
            self.i += 1
            return json.loads(text)
        if kind == "ident":
            self.i += 1
            if text.startswith("var."):
                return self.variables[text[4:]]
            fn = self.FUNCTIONS[text]
            self.take("p", "(")
            args = [self.expr()]
            while self.tokens[self.i][1] == ",":
                self.i += 1
                args.append(self.expr())
            self.take("p", ")")
            return fn(*args)
        raise ValueError(f"unexpected {text!r}")


def terraform_console(module: Path, domains: list[str], prefix: str) -> str | None:
    """Extra, only where a terraform binary exists: the real evaluator on the real module."""
    exe = shutil.which("terraform")
    if not exe:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copy(module / "main.tf", Path(tmp) / "main.tf")
        env_args = ["-var", f"prefix={prefix}", "-var", f"domains={json.dumps(domains)}"]
        init = subprocess.run([exe, "init", "-backend=false", "-input=false"], cwd=tmp, capture_output=True, text=True, timeout=120)
        if init.returncode != 0:
            return None
        out = subprocess.run([exe, "console", *env_args], cwd=tmp, input="local.hash\n", capture_output=True, text=True, timeout=120)
        if out.returncode != 0:
            return None
        return out.stdout.strip().strip('"')


def check_cert_hash(root: Path, parsed: dict[Path, dict[str, Any]]) -> list[str]:
    problems = []
    module = root / "infra" / "terraform" / "modules" / "cert-name"
    fixtures = json.loads((root / "scripts" / "static" / "cert_name_fixtures.json").read_text(encoding="utf-8"))["cases"]
    locals_ = {}
    for block in parsed.get(module / "main.tf", {}).get("locals", []):
        locals_.update(block)
    expression = strip_interp(locals_.get("hash"))
    if not isinstance(expression, str):
        return ["cert-name module has no `hash` local"]
    outputs = {}
    for block in parsed.get(module / "main.tf", {}).get("output", []):
        for name, body in block.items():
            outputs[unquote(name)] = unquote(body["value"])
    if outputs.get("name") != "${var.prefix}-${local.hash}":
        problems.append(f"cert-name output `name` is {outputs.get('name')!r}, expected \"${{var.prefix}}-${{local.hash}}\"")
    console_checked = 0
    for case in fixtures:
        domains, expected = case["domains"], case["hash"]
        from_python = python_cert_hash(domains)
        try:
            from_terraform = TfExpr(expression, {"domains": domains}).evaluate()
        except (ValueError, KeyError, IndexError) as exc:
            return [f"cannot evaluate the module's hash expression {expression!r}: {exc}"]
        if from_python != expected:
            problems.append(f"{domains}: python computes {from_python}, fixture says {expected}")
        if from_terraform != expected:
            problems.append(f"{domains}: the Terraform expression gives {from_terraform}, fixture says {expected}")
        if case.get("name") and f"{case['prefix']}-{from_terraform}" != case["name"]:
            problems.append(f"{domains}: name {case['prefix']}-{from_terraform} != {case['name']}")
        real = terraform_console(module, domains, case["prefix"])
        if real is not None:
            console_checked += 1
            if real != expected:
                problems.append(f"{domains}: terraform console gives {real}, fixture says {expected}")
    print(f"     {len(fixtures)} fixtures; terraform console cross-check: "
          + (f"{console_checked} evaluated" if console_checked else "skipped (no terraform binary or it could not init)"))
    return problems


# --- the database URL encodes the password --------------------------------------------------------

def tf_urlencode(s: str) -> str:
    """Terraform's urlencode (Go's url.QueryEscape)."""
    return urllib.parse.quote_plus(s, safe="-_.~")


def check_database_url(root: Path, parsed: dict[Path, dict[str, Any]]) -> list[str]:
    problems = []
    main = root / "infra" / "terraform" / "modules" / "cloud-sql" / "main.tf"
    locals_ = {}
    for block in parsed.get(main, {}).get("locals", []):
        locals_.update(block)
    url_expr = str(locals_.get("database_url", ""))
    if "urlencode(local.password)" not in url_expr:
        problems.append("cloud-sql database_url does not URL-encode the password")
    if "urlencode(var.user_name)" not in url_expr:
        problems.append("cloud-sql database_url does not URL-encode the user name")
    if "postgres://" not in url_expr or "/cloudsql/" not in url_expr:
        problems.append("cloud-sql database_url is not a postgres:// URL for the /cloudsql unix socket")
    # The encoding round-trips for the characters a generated password may contain.
    for password in ["p@ss:w/rd#1%", "!@#$%&*()-_=+[]{}<>:?", "plain"]:
        url = f"postgres://plant:{tf_urlencode(password)}@/plant?host=/cloudsql/p:r:i"
        parts = urllib.parse.urlsplit(url)
        if urllib.parse.unquote(parts.password or "") != password or parts.hostname is not None:
            problems.append(f"password {password!r} does not survive the URL {url!r}")
    return problems


def main() -> int:
    root = Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else Path.cwd()
    report = Report()
    parsed: dict[Path, dict[str, Any]] = {}
    report.check("every .tf and .tfvars file parses (python-hcl2)", check_parse(root, parsed))
    report.check("environment tfvars set every required variable (the workflow passes the image) and nothing undeclared", check_tfvars(root, parsed))
    report.check(f"one state prefix for the plant stack ({PLANT_PREFIX})", check_state_prefix(root, parsed))
    report.check("certificate-name hash: fixtures = Python = the Terraform expression", check_cert_hash(root, parsed))
    report.check("DATABASE_URL secret URL-encodes its credentials", check_database_url(root, parsed))
    print(f"infra: {report.passed} passed, {report.failed} failed")
    return min(report.failed, 100)


if __name__ == "__main__":
    sys.exit(main())
