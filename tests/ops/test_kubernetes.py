"""deploy/kubernetes renders, validates and agrees with the gateway (no cluster runs here).

Each overlay is rendered by the real kustomize (``kustomize build`` or ``kubectl kustomize``),
checked against the Kubernetes API schemas by kubernetes-validate (its schemas ship in the
package: no network), and its config is parsed by the gateway's own ``parse_config`` with the
environment the Deployment gives, so a key or a variable the gateway does not read fails here.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from gateway.config import CacheConfig, GatewayConfig, parse_config
from gateway.http.probes import HEALTH_PATH, READY_PATH

ROOT = Path(__file__).resolve().parents[2]
KUBERNETES = ROOT / "deploy" / "kubernetes"
OVERLAYS = ("single", "redis")
VALIDATE = Path(sys.executable).parent / "kubernetes-validate"
OLDEST_KUBERNETES = "1.30.0"
"""The oldest Kubernetes the manifests are checked against (besides the validator's newest)."""
SECRET = "execution-gateway"
MIB = 1024 * 1024
PERFORMANCE = ROOT / "docs" / "performance.md"


def renderer() -> list[str]:
    """The kustomize command on this machine: the standalone binary, else kubectl's own."""
    if kustomize := shutil.which("kustomize"):
        return [kustomize, "build"]
    if kubectl := shutil.which("kubectl"):
        return [kubectl, "kustomize"]
    message = (
        "neither kustomize nor kubectl is installed (scripts/system-packages installs kubectl)"
    )
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@dataclass(frozen=True)
class Rendered:
    overlay: str
    text: str
    objects: list[dict[str, Any]]

    def all(self, kind: str) -> list[dict[str, Any]]:
        return [o for o in self.objects if o["kind"] == kind]

    def one(self, kind: str) -> dict[str, Any]:
        found = self.all(kind)
        assert len(found) == 1, f"{self.overlay}: expected one {kind}, found {len(found)}"
        return found[0]

    @property
    def pod(self) -> dict[str, Any]:
        spec: dict[str, Any] = self.one("Deployment")["spec"]["template"]["spec"]
        return spec

    @property
    def container(self) -> dict[str, Any]:
        containers: list[dict[str, Any]] = self.pod["containers"]
        assert len(containers) == 1
        return containers[0]

    @property
    def toml(self) -> str:
        data: dict[str, str] = self.one("ConfigMap")["data"]
        return data["gateway.toml"]


def render(overlay: str) -> Rendered:
    finished = subprocess.run(  # noqa: S603 (kustomize on our own files)
        [*renderer(), str(KUBERNETES / "overlays" / overlay)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert finished.returncode == 0, f"{overlay} does not render: {finished.stderr}"
    objects = [o for o in yaml.safe_load_all(finished.stdout) if o]
    return Rendered(overlay, finished.stdout, objects)


@pytest.fixture(scope="module", params=OVERLAYS)
def rendered(request: pytest.FixtureRequest) -> Rendered:
    overlay: str = request.param
    return render(overlay)


@pytest.fixture(scope="module")
def single() -> Rendered:
    return render("single")


@pytest.fixture(scope="module")
def redis() -> Rendered:
    return render("redis")


def validate(text: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    manifest = tmp_path / "rendered.yaml"
    manifest.write_text(text, encoding="utf-8")
    return subprocess.run(  # noqa: S603 (the validator the dev extra installs)
        [
            str(VALIDATE),
            "--strict",
            "--quiet",
            "-k",
            OLDEST_KUBERNETES,
            "-k",
            "1.37.0",
            str(manifest),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def environment(container: dict[str, Any]) -> dict[str, str]:
    """The container's environment, each secret reference standing for a value of its own."""
    env: dict[str, str] = {}
    for variable in container["env"]:
        if "value" in variable:
            env[variable["name"]] = variable["value"]
            continue
        reference = variable["valueFrom"]["secretKeyRef"]
        assert reference["name"] == SECRET, f"{variable['name']}: secrets come from {SECRET}"
        stand_in = f"from-the-secret-{reference['key']}"
        env[variable["name"]] = (
            f"redis://{stand_in}" if "REDIS_URL" in reference["key"] else stand_in
        )
    return env


def variables_named(raw: Any) -> set[str]:
    """Every value of an ``*_env`` key in a parsed TOML document: the variables it reads."""
    if isinstance(raw, dict):
        named = {v for k, v in raw.items() if k.endswith("_env") and isinstance(v, str)}
        return named.union(*(variables_named(v) for v in raw.values()))
    if isinstance(raw, list):
        return set().union(*(variables_named(v) for v in raw))
    return set()


def config_of(rendered: Rendered) -> GatewayConfig:
    return parse_config(tomllib.loads(rendered.toml), environment(rendered.container))


def quantity(text: str) -> float:
    """A Kubernetes quantity in bytes (Mi, Gi) or cores (m)."""
    units = {"Ki": 1024, "Mi": MIB, "Gi": 1024 * MIB, "m": 0.001}
    for suffix, factor in units.items():
        if text.endswith(suffix):
            return float(text.removesuffix(suffix)) * factor
    return float(text)


# --- rendering and the API schemas ----------------------------------------------------------


def test_every_overlay_passes_the_kubernetes_schemas(rendered: Rendered, tmp_path: Path) -> None:
    checked = validate(rendered.text, tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    kinds = {o["kind"] for o in rendered.objects}
    assert kinds >= {
        "ConfigMap",
        "Deployment",
        "NetworkPolicy",
        "PodDisruptionBudget",
        "Service",
        "ServiceAccount",
    }
    assert "Secret" not in kinds, "secrets are referenced, never shipped"


def test_the_validator_refuses_a_misspelt_field(redis: Rendered, tmp_path: Path) -> None:
    spelt = "terminationGracePeriodSeconds:"
    assert spelt in redis.text
    checked = validate(redis.text.replace(spelt, "terminationGracePeriodSecond:"), tmp_path)
    assert checked.returncode != 0
    assert "terminationGracePeriodSecond" in checked.stdout + checked.stderr


# --- the config and the environment -------------------------------------------------------


def test_the_config_and_environment_are_what_the_gateway_reads(rendered: Rendered) -> None:
    config = config_of(rendered)  # raises ConfigError naming any unknown key or unset variable
    raw = tomllib.loads(rendered.toml)
    env = environment(rendered.container)
    overrides = {k: v for k, v in env.items() if k.startswith("GATEWAY__")}
    read = variables_named(raw) | {"GATEWAY_CONFIG"} | set(overrides)
    read |= {v for k, v in overrides.items() if k.endswith("_ENV")}
    assert set(env) == read, f"set but never read: {sorted(set(env) - read)}"
    assert config.auth.mode == "api_key", "a pod's address is not loopback: callers need keys"
    assert config.server.cursor_secret
    assert {s.name for s in config.sources} == {"rv", "velt", "zaia", "tl"}


def test_the_single_overlay_keeps_state_in_memory_and_redis_shares_it(
    single: Rendered, redis: Rendered
) -> None:
    assert config_of(single).state.backend == "memory"
    state = config_of(redis).state
    assert state.backend == "redis"
    assert state.redis_url == "redis://from-the-secret-GATEWAY_REDIS_URL"


def test_the_config_file_is_mounted_where_the_image_reads_it(rendered: Rendered) -> None:
    env = environment(rendered.container)
    configmap = rendered.one("ConfigMap")["metadata"]["name"]
    volumes = {v["name"]: v for v in rendered.pod["volumes"]}
    mounts = {m["mountPath"]: m for m in rendered.container["volumeMounts"]}
    mount_path, file_name = env["GATEWAY_CONFIG"].rsplit("/", 1)
    mount = mounts[mount_path]
    assert mount["readOnly"] is True
    assert volumes[mount["name"]]["configMap"]["name"] == configmap
    assert file_name in rendered.one("ConfigMap")["data"]
    assert re.fullmatch(r"execution-gateway-config-[a-z0-9]{10}", configmap), (
        "a hashed name: a changed config rolls the pods"
    )
    dockerfile = (ROOT / "docker" / "Dockerfile").read_text(encoding="utf-8")
    assert f"GATEWAY_CONFIG={env['GATEWAY_CONFIG']}" in dockerfile


# --- the pod --------------------------------------------------------------------------------


def test_probes_use_the_gateways_health_and_readiness_routes(rendered: Rendered) -> None:
    container = rendered.container
    port = config_of(rendered).server.port
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    for probe, path in (
        ("startupProbe", HEALTH_PATH),
        ("livenessProbe", HEALTH_PATH),
        ("readinessProbe", READY_PATH),
    ):
        get = container[probe]["httpGet"]
        assert get["path"] == path, probe
        assert ports[get["port"]] == port, probe
    assert ports["metrics"] == config_of(rendered).server.metrics_port


def test_termination_waits_out_the_graceful_shutdown(rendered: Rendered) -> None:
    shutdown_s = math.ceil(config_of(rendered).server.shutdown_timeout_s)
    pre_stop = rendered.container["lifecycle"]["preStop"]["exec"]["command"]
    assert pre_stop[0] == "sleep"
    grace = rendered.pod["terminationGracePeriodSeconds"]
    assert grace > int(pre_stop[1]) + shutdown_s, "the kubelet's SIGKILL must not cut it short"


def test_the_pod_runs_as_the_images_user_on_a_read_only_root(rendered: Rendered) -> None:
    dockerfile = (ROOT / "docker" / "Dockerfile").read_text(encoding="utf-8")
    image_uid = re.search(r"useradd [^\n]*--uid (\d+)", dockerfile)
    assert image_uid is not None
    pod, container = rendered.pod["securityContext"], rendered.container["securityContext"]
    assert pod["runAsNonRoot"] is True
    assert pod["runAsUser"] == int(image_uid.group(1))
    assert pod["seccompProfile"] == {"type": "RuntimeDefault"}
    assert container["readOnlyRootFilesystem"] is True
    assert container["allowPrivilegeEscalation"] is False
    assert container["capabilities"] == {"drop": ["ALL"]}
    assert rendered.pod["automountServiceAccountToken"] is False
    assert rendered.one("ServiceAccount")["automountServiceAccountToken"] is False


def test_memory_is_sized_from_the_measured_process(rendered: Rendered) -> None:
    text = PERFORMANCE.read_text(encoding="utf-8")
    peak = re.search(r"\*\*Memory: \d+ to (\d+) MiB per process\*\*", text)
    per_subscription = re.search(r"\*\*Memory per idle subscription: ([\d.]+) KiB\*\*", text)
    assert peak, "docs/performance.md states the measured memory per process"
    assert per_subscription, "docs/performance.md states the memory per subscription"
    config = config_of(rendered)
    measured = int(peak.group(1)) * MIB
    resources = rendered.container["resources"]
    assert quantity(resources["requests"]["memory"]) >= 1.5 * measured
    bound = (
        measured
        + max(config.cache.answers_max_bytes, CacheConfig().answers_max_bytes)
        + config.live.max_subscriptions * float(per_subscription.group(1)) * 1024
    )
    assert quantity(resources["limits"]["memory"]) >= bound, (
        f"the limit must hold what the config allows: {bound / MIB:.0f} MiB"
    )
    assert quantity(resources["limits"]["cpu"]) <= 1, "one event loop uses one core at most"
    assert quantity(resources["requests"]["cpu"]) > 0


# --- around the pod -------------------------------------------------------------------------


def test_service_budget_and_policy_select_the_pods(rendered: Rendered) -> None:
    labels = rendered.one("Deployment")["spec"]["template"]["metadata"]["labels"]
    selector = rendered.one("Deployment")["spec"]["selector"]["matchLabels"]
    assert selector.items() <= labels.items()
    service = rendered.one("Service")["spec"]
    assert service["selector"].items() <= labels.items()
    container_ports = {p["name"] for p in rendered.container["ports"]}
    assert {p["targetPort"] for p in service["ports"]} == container_ports
    budget = rendered.one("PodDisruptionBudget")["spec"]
    assert budget["selector"]["matchLabels"].items() <= labels.items()
    assert budget["maxUnavailable"] == 1, "a drain proceeds with one replica and keeps two of three"
    policy = rendered.one("NetworkPolicy")["spec"]
    assert policy["podSelector"]["matchLabels"].items() <= labels.items()
    assert set(policy["policyTypes"]) == {"Ingress", "Egress"}
    ingress_ports = {p["port"] for rule in policy["ingress"] for p in rule["ports"]}
    server = config_of(rendered).server
    assert ingress_ports == {server.port, server.metrics_port}
    egress_ports = {p["port"] for rule in policy["egress"] for p in rule["ports"]}
    assert {53, 443} <= egress_ports
    assert (6379 in egress_ports) == (config_of(rendered).state.backend == "redis")


def test_one_replica_in_memory_and_three_or_more_on_redis(
    single: Rendered, redis: Rendered
) -> None:
    assert single.one("Deployment")["spec"]["replicas"] == 1
    assert not single.all("HorizontalPodAutoscaler"), "state in memory does not scale out"
    assert "replicas" not in redis.one("Deployment")["spec"], "the autoscaler owns the count"
    autoscaler = redis.one("HorizontalPodAutoscaler")["spec"]
    assert autoscaler["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": redis.one("Deployment")["metadata"]["name"],
    }
    assert autoscaler["minReplicas"] == 3
    assert autoscaler["maxReplicas"] > autoscaler["minReplicas"]
    strategy = redis.one("Deployment")["spec"]["strategy"]["rollingUpdate"]
    assert strategy["maxUnavailable"] == 0, "a rollout never lowers the serving count"
