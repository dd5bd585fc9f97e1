"""deploy/: every YAML parses, the manifests are well-formed and agree with the code.

Checked against the code, not against a copy of it: subcommands from ``anima.cli.main``, variable
names from ``anima.config.ENVIRONMENT``, probe paths from ``anima.http.health``, COPY sources from
the repository tree. Nothing here runs Docker or Kubernetes.
"""

from __future__ import annotations

import glob
import json
import re
import shlex
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from anima.cli import main as cli_main
from anima.config import ENVIRONMENT
from anima.http.health import ROUTE_HANDLERS as HEALTH_ROUTES

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"

#: variables of integrations that arrive with later issues (payments, AI)
LATER_PREFIXES = ("STRIPE_", "GEMINI_")
#: `anima worker` arrives with the events issue; every other subcommand must exist today
PENDING_SUBCOMMANDS = {"worker"}
SUBCOMMANDS = set(cli_main.commands) | PENDING_SUBCOMMANDS
SECRET_VARIABLES = ("ANIMA_SECRET_KEY", "ANIMA_MASTER_KEY", "DATABASE_URL", "REDIS_URL")


def yaml_files() -> list[Path]:
    files = sorted(p for p in DEPLOY.rglob("*") if p.suffix in (".yaml", ".yml"))
    assert files, "no YAML under deploy/"
    return files


def load_all(path: Path) -> list[Any]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def k8s_objects() -> list[tuple[Path, dict[str, Any]]]:
    out = []
    for path in sorted(K8S.glob("*.yaml")):
        for doc in load_all(path):
            out.append((path, doc))
    return out


def by_kind(kind: str) -> list[dict[str, Any]]:
    return [doc for _, doc in k8s_objects() if doc.get("kind") == kind]


def deployment(name: str) -> dict[str, Any]:
    found = [d for d in by_kind("Deployment") if d["metadata"]["name"] == name]
    assert len(found) == 1, name
    return found[0]


def pod_specs() -> Iterator[tuple[str, dict[str, Any]]]:
    for _, doc in k8s_objects():
        if doc.get("kind") in ("Deployment", "Job", "StatefulSet", "DaemonSet"):
            yield doc["metadata"]["name"], doc["spec"]["template"]["spec"]
        elif doc.get("kind") == "CronJob":
            yield doc["metadata"]["name"], doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]


def containers() -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    for name, spec in pod_specs():
        for container in spec.get("initContainers", []) + spec["containers"]:
            yield name, spec, container


def compose() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


def anima_services() -> dict[str, dict[str, Any]]:
    """Compose services that run the Anima image (built from deploy/Dockerfile)."""
    services = compose()["services"]
    return {
        name: svc
        for name, svc in services.items()
        if "build" in svc and svc["build"].get("dockerfile", "").endswith("deploy/Dockerfile")
    }


def as_argv(value: Any) -> list[str]:
    return shlex.split(value) if isinstance(value, str) else list(value or [])


def known_variable(name: str) -> bool:
    return name in ENVIRONMENT or name.startswith(LATER_PREFIXES)


# ---------------------------------------------------------------- YAML


@pytest.mark.parametrize("path", yaml_files(), ids=lambda p: str(p.relative_to(DEPLOY)))
def test_every_yaml_file_parses(path: Path) -> None:
    docs = load_all(path)
    assert docs, f"{path} is empty"
    assert all(isinstance(doc, dict) for doc in docs)


# ---------------------------------------------------------------- Kubernetes


def test_k8s_objects_have_kind_api_version_and_name() -> None:
    objects = k8s_objects()
    assert objects
    for path, doc in objects:
        assert doc.get("apiVersion"), path
        assert doc.get("kind"), path
        if doc["kind"] == "Kustomization":
            continue
        assert doc.get("metadata", {}).get("name"), path
        assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", doc["metadata"]["name"]), path
        if doc["kind"] != "Namespace":
            assert doc["metadata"].get("namespace") == "anima", path


def test_k8s_has_every_required_object() -> None:
    kinds = [(doc["kind"], doc.get("apiVersion")) for _, doc in k8s_objects()]
    for required in [
        ("Namespace", "v1"),
        ("ConfigMap", "v1"),
        ("Secret", "v1"),
        ("Job", "batch/v1"),
        ("Deployment", "apps/v1"),
        ("Service", "v1"),
        ("HorizontalPodAutoscaler", "autoscaling/v2"),
        ("PodDisruptionBudget", "policy/v1"),
    ]:
        assert required in kinds, required
    assert {d["metadata"]["name"] for d in by_kind("Deployment")} == {"anima-api", "anima-worker"}


def test_containers_use_the_anima_entrypoint_with_real_subcommands() -> None:
    seen = set()
    for owner, _, container in containers():
        command = container.get("command")
        assert command in (None, ["anima"]), f"{owner}: command {command}"
        args = as_argv(container.get("args"))
        assert args, f"{owner}: no subcommand"
        assert args[0] in SUBCOMMANDS, f"{owner}: `anima {args[0]}` is not a subcommand of {sorted(SUBCOMMANDS)}"
        seen.add(args[0])
    assert {"serve", "migrate", "worker"} <= seen
    assert {"serve", "migrate"} <= set(cli_main.commands), "serve/migrate must exist in anima.cli today"


def test_migration_job_runs_anima_migrate_once() -> None:
    (job,) = by_kind("Job")
    spec = job["spec"]["template"]["spec"]
    assert spec["restartPolicy"] == "Never"
    assert as_argv(spec["containers"][0]["args"]) == ["migrate"]
    assert job["spec"]["backoffLimit"] <= 2


def test_api_deployment_replicas_probes_and_resources() -> None:
    api = deployment("anima-api")
    assert api["spec"]["replicas"] == 2
    (container,) = api["spec"]["template"]["spec"]["containers"]
    assert as_argv(container["args"])[0] == "serve"
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"
    assert container["resources"]["requests"]["cpu"] and container["resources"]["limits"]["memory"]
    port_names = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert container["readinessProbe"]["httpGet"]["port"] in (*port_names, *port_names.values())


def test_probe_paths_are_real_routes() -> None:
    routes = {path for handler in HEALTH_ROUTES for path in handler.paths}
    assert {"/health", "/ready"} <= routes
    probes = []
    for owner, _, container in containers():
        for kind in ("startupProbe", "livenessProbe", "readinessProbe"):
            if kind in container and "httpGet" in container[kind]:
                probes.append((owner, kind, container[kind]["httpGet"]["path"]))
    assert probes
    for owner, kind, path in probes:
        assert path in routes, (owner, kind, path)
        if kind == "readinessProbe":
            assert path == "/ready", owner
        else:
            assert path == "/health", (owner, kind)


def test_pods_run_as_non_root_with_read_only_root_filesystem() -> None:
    for owner, spec, container in containers():
        pod_ctx = spec.get("securityContext", {})
        ctx = container.get("securityContext", {})
        assert pod_ctx.get("runAsNonRoot") is True or ctx.get("runAsNonRoot") is True, owner
        assert (ctx.get("runAsUser") or pod_ctx.get("runAsUser")) not in (None, 0), owner
        assert ctx.get("readOnlyRootFilesystem") is True, owner
        assert ctx.get("allowPrivilegeEscalation") is False, owner
        assert "ALL" in ctx.get("capabilities", {}).get("drop", []), owner
        assert container.get("resources", {}).get("requests"), owner
        mounts = {m["mountPath"] for m in container.get("volumeMounts", [])}
        assert "/tmp" in mounts, f"{owner}: a read-only root needs a writable /tmp"


def test_service_hpa_and_pdb_point_at_the_api() -> None:
    api = deployment("anima-api")
    labels = api["spec"]["template"]["metadata"]["labels"]
    assert api["spec"]["selector"]["matchLabels"].items() <= labels.items()
    (service,) = by_kind("Service")
    assert service["spec"]["selector"].items() <= labels.items()
    (hpa,) = by_kind("HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "anima-api"}
    assert hpa["spec"]["minReplicas"] >= 2 and hpa["spec"]["maxReplicas"] > hpa["spec"]["minReplicas"]
    (pdb,) = by_kind("PodDisruptionBudget")
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()


def test_pods_read_the_configmap_and_secret_that_exist() -> None:
    configmaps = {d["metadata"]["name"] for d in by_kind("ConfigMap")}
    secrets = {d["metadata"]["name"] for d in by_kind("Secret")}
    for owner, _, container in containers():
        refs = container.get("envFrom", [])
        assert refs, owner
        for ref in refs:
            if "configMapRef" in ref:
                assert ref["configMapRef"]["name"] in configmaps, owner
            if "secretRef" in ref:
                assert ref["secretRef"]["name"] in secrets, owner


def test_secret_template_holds_placeholders_only() -> None:
    (secret,) = by_kind("Secret")
    values = {**secret.get("stringData", {}), **secret.get("data", {})}
    assert set(SECRET_VARIABLES[:3]) <= set(values)
    for name, value in values.items():
        assert "REPLACE" in str(value), f"{name} looks like a real value"


def test_kustomization_lists_existing_files_but_not_the_secret_or_job() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    for resource in kustomization["resources"]:
        assert (K8S / resource).is_file(), resource
    assert "secret.template.yaml" not in kustomization["resources"]
    assert "migrate-job.yaml" not in kustomization["resources"]


# ---------------------------------------------------------------- environment variables


def k8s_variable_names() -> set[str]:
    names: set[str] = set()
    for doc in by_kind("ConfigMap"):
        names |= set(doc.get("data", {}))
    for doc in by_kind("Secret"):
        names |= set(doc.get("stringData", {})) | set(doc.get("data", {}))
    for _, _, container in containers():
        names |= {e["name"] for e in container.get("env", [])}
    return names


def compose_variable_names() -> set[str]:
    names: set[str] = set()
    for svc in anima_services().values():
        env = svc.get("environment", {})
        names |= set(env) if isinstance(env, dict) else {item.split("=", 1)[0] for item in env}
    return names


def env_example_names() -> set[str]:
    lines = (DEPLOY / ".env.example").read_text().splitlines()
    return {line.split("=", 1)[0].strip() for line in lines if line.strip() and not line.startswith("#")}


def compose_interpolated_names() -> set[str]:
    return set(re.findall(r"\$\{([A-Z_][A-Z0-9_]*)", (DEPLOY / "compose.yaml").read_text()))


def test_every_variable_in_the_manifests_is_one_config_knows() -> None:
    names = k8s_variable_names()
    assert names
    unknown = sorted(n for n in names if not known_variable(n))
    assert not unknown, f"not in anima.config.ENVIRONMENT: {unknown}"


def test_every_variable_in_compose_is_one_config_knows() -> None:
    names = compose_variable_names() | (env_example_names() - compose_interpolated_names())
    assert names
    unknown = sorted(n for n in names if not known_variable(n))
    assert not unknown, f"not in anima.config.ENVIRONMENT: {unknown}"
    # what .env provides only for compose's own ${...} interpolation is used there
    for name in env_example_names() - {n for n in env_example_names() if known_variable(n)}:
        assert name in compose_interpolated_names(), name


def test_production_needs_are_provided() -> None:
    """What load_settings requires in production reaches the pods and the compose services."""
    k8s = k8s_variable_names()
    for name in ("ANIMA_ENV", *SECRET_VARIABLES[:3]):
        assert name in k8s, name
    configmap = by_kind("ConfigMap")[0]["data"]
    assert configmap["ANIMA_ENV"] == "production"
    for svc in anima_services().values():
        assert svc["environment"]["ANIMA_ENV"] == "production"
        assert ".env" in as_argv(svc.get("env_file"))
    for name in SECRET_VARIABLES[:3]:
        assert name in env_example_names(), name


# ---------------------------------------------------------------- compose


def test_compose_services_and_ordering() -> None:
    services = compose()["services"]
    assert {"postgres", "redis", "migrate", "api", "worker"} <= set(services)
    assert services["postgres"]["image"].startswith("postgres:16")
    assert services["redis"]["image"].startswith("redis:7")
    for name in ("postgres", "redis"):
        assert services[name]["healthcheck"]["test"], name
    assert services["api"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert services["worker"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert any(path in str(services["api"]["healthcheck"]["test"]) for path in ("/ready", "/health"))


def test_compose_commands_are_real_subcommands() -> None:
    commands = {}
    for name, svc in anima_services().items():
        argv = as_argv(svc.get("command"))
        assert argv and argv[0] in SUBCOMMANDS, f"{name}: {argv}"
        assert "entrypoint" not in svc, name
        commands[name] = argv[0]
    assert commands == {"migrate": "migrate", "api": "serve", "worker": "worker"}


def test_compose_holds_no_literal_secrets() -> None:
    for name, svc in compose()["services"].items():
        env = svc.get("environment") or {}
        if isinstance(env, list):
            env = dict((item.split("=", 1) + [None])[:2] for item in env)
        for key, value in env.items():
            if key in SECRET_VARIABLES or "PASSWORD" in key or "SECRET" in key:
                assert value is None or str(value).startswith("${"), f"{name}.{key} is a literal value"


# ---------------------------------------------------------------- Dockerfile


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = (DEPLOY / "Dockerfile").read_text()
    logical: list[str] = []
    buffer = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            buffer += line[:-1] + " "
            continue
        logical.append(buffer + line)
        buffer = ""
    out = []
    for line in logical:
        keyword, _, rest = line.partition(" ")
        out.append((keyword.upper(), rest.strip()))
    return out


def copy_sources(rest: str) -> tuple[list[str], dict[str, str]]:
    flags: dict[str, str] = {}
    if rest.startswith("["):
        parts = json.loads(rest)
    else:
        parts = shlex.split(rest)
    while parts and parts[0].startswith("--"):
        key, _, value = parts.pop(0)[2:].partition("=")
        flags[key] = value
    return parts[:-1], flags


def test_dockerfile_copy_sources_exist_in_the_repository() -> None:
    checked = 0
    for keyword, rest in dockerfile_instructions():
        if keyword not in ("COPY", "ADD"):
            continue
        sources, flags = copy_sources(rest)
        if "from" in flags:
            continue  # from another build stage
        assert sources, rest
        matched_any = False
        for source in sources:
            if any(ch in source for ch in "*?["):
                matched_any |= bool(glob.glob(str(ROOT / source)))
                continue
            assert (ROOT / source.rstrip("/")).exists(), f"COPY source {source!r} is not in the repository"
            matched_any = True
            checked += 1
        assert matched_any, rest
    assert checked >= 4


def test_dockerfile_shape() -> None:
    instructions = dockerfile_instructions()
    froms = [rest for kw, rest in instructions if kw == "FROM"]
    args = {rest.split("=", 1)[0]: rest.split("=", 1)[1] for kw, rest in instructions if kw == "ARG" and "=" in rest}
    assert len(froms) >= 2, "multi-stage"
    for line in froms:
        image = line.split()[0]
        image = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], image)
        assert image == "python:3.11-slim", line
    entrypoint = [json.loads(rest) for kw, rest in instructions if kw == "ENTRYPOINT"]
    assert entrypoint[-1] == ["anima"]
    cmd = [json.loads(rest) for kw, rest in instructions if kw == "CMD"]
    assert cmd[-1] == ["serve", "--host", "0.0.0.0"]
    assert cmd[-1][0] in cli_main.commands
    users = [rest for kw, rest in instructions if kw == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    healthchecks = [rest for kw, rest in instructions if kw == "HEALTHCHECK"]
    assert healthchecks and "/health" in healthchecks[-1]
    env_text = " ".join(rest for kw, rest in instructions if kw == "ENV")
    assert "ANIMA_ENV=production" in env_text
    for name in re.findall(r"\b([A-Z][A-Z0-9_]+)=", env_text):
        assert known_variable(name) or name in ("PATH", "PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED") or name.startswith(
            "PIP_"
        ), name
    # the repository's lock pins the image's dependencies (as constraints: no test tools in the image)
    run_text = " ".join(rest for kw, rest in instructions if kw == "RUN")
    assert "-c requirements.lock" in run_text
    assert "[test]" not in run_text
    # the console script the image's ENTRYPOINT calls exists
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["anima"] == "anima.cli:main"


def test_dockerfile_copies_what_the_runtime_reads() -> None:
    """The migration scripts and tenant manifests are found relative to the source tree."""
    from anima.tenancy.migrations import MIGRATIONS_DIR

    assert MIGRATIONS_DIR == ROOT / "migrations"
    copied = " ".join(rest for kw, rest in dockerfile_instructions() if kw == "COPY")
    for needed in ("src/", "migrations/", "tenants/"):
        assert needed in copied, needed


# ---------------------------------------------------------------- README


def test_deploy_readme_covers_scale_out() -> None:
    text = (DEPLOY / "README.md").read_text().lower()
    for needle in (
        "docker build",
        "anima migrate",
        "PgBouncer",
        "ANIMA_DB_CONNECTION_MAX_USES",
        "citus.enable_schema_based_sharding",
        "stateless",
    ):
        assert needle.lower() in text, needle
