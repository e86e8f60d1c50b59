"""infra/k8s: every object valid against the Kubernetes API's schema (the schemas ship inside
the kubernetes-validate package: nothing is fetched), and wired as the plan says."""

from __future__ import annotations

import copy
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from kubernetes_validate import utils as kubernetes

from tests.infra.files import (
    K8S,
    KUSTOMIZATION,
    WRITABLE_DIR,
    kubernetes_objects,
    objects_of_kind,
    pod_specs,
)

# The oldest Kubernetes the manifests are written for (docs/decisions.md, "infra/").
KUBERNETES_VERSION = "1.30.0"
SECRET_SETTINGS = {
    "LUOTSI_MASTER_KEYS",
    "LUOTSI_SECRET_KEY",
    "LUOTSI_APP_DATABASE_URL",
    "LUOTSI_APP_DB_PASSWORD",
    "LUOTSI_SMTP_PASSWORD",
    "LUOTSI_STRIPE_SECRET_KEY",
    "LUOTSI_STRIPE_WEBHOOK_SECRET",
    "LUOTSI_STRIPE_CONNECT_WEBHOOK_SECRET",
    "LUOTSI_S3_SECRET_ACCESS_KEY",
}


def _validate(obj: dict[str, Any]) -> None:
    # strict: a misspelt field is an error, as `kubectl apply --validate=strict` makes it.
    kubernetes.validate(obj, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize(
    "obj",
    [obj for _path, obj in kubernetes_objects()],
    ids=[f"{path.name}:{obj['kind']}" for path, obj in kubernetes_objects()],
)
def test_every_object_is_valid_against_the_kubernetes_schema(obj: dict[str, Any]) -> None:
    _validate(obj)


@pytest.mark.parametrize(
    "break_it",
    [
        lambda d: d["spec"]["template"]["spec"]["containers"][0].update(readinesProbe={}),
        lambda d: d["spec"].update(replicas="two"),
        lambda d: d["spec"].pop("selector"),
    ],
    ids=["misspelt-field", "wrong-type", "missing-required"],
)
def test_the_schema_check_refuses_a_broken_deployment(break_it: Any) -> None:
    deployment = copy.deepcopy(objects_of_kind("Deployment")[0])
    break_it(deployment)
    with pytest.raises(kubernetes.ValidationError):
        _validate(deployment)


def test_the_kustomization_applies_every_manifest() -> None:
    listed = yaml.safe_load(KUSTOMIZATION.read_text())["resources"]
    assert sorted(listed) == sorted(p.name for p in K8S.glob("*.yaml") if p != KUSTOMIZATION)


def test_the_kinds_the_plan_asks_for_are_there() -> None:
    kinds = sorted(obj["kind"] for _path, obj in kubernetes_objects())
    for kind in ("Deployment", "Job", "Service", "Ingress", "HorizontalPodAutoscaler"):
        assert kind in kinds
    assert "PodDisruptionBudget" in kinds
    assert kinds.count("Deployment") == 2


def test_no_secret_is_committed() -> None:
    assert objects_of_kind("Secret") == []
    for workload, spec in pod_specs():
        for container in spec["containers"]:
            for variable in container.get("env", []):
                if variable["name"] in SECRET_SETTINGS or variable["name"] == "LUOTSI_DATABASE_URL":
                    assert "value" not in variable, f"{workload}: {variable['name']} literal"
    for config in objects_of_kind("ConfigMap"):
        assert not SECRET_SETTINGS & config["data"].keys()
        for name, value in config["data"].items():
            if name.endswith("_URL"):  # an address, never a password in it
                assert urlsplit(value).password is None, name


def test_every_pod_runs_unprivileged_on_a_read_only_root_with_limits() -> None:
    for workload, spec in pod_specs():
        assert spec["securityContext"]["runAsNonRoot"] is True, workload
        assert spec["securityContext"]["runAsUser"] != 0, workload
        assert spec["automountServiceAccountToken"] is False, workload
        volumes = {v["name"]: v for v in spec.get("volumes", [])}
        for container in spec["containers"]:
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True, workload
            assert context["allowPrivilegeEscalation"] is False, workload
            assert context["capabilities"]["drop"] == ["ALL"], workload
            for bound in ("requests", "limits"):
                assert {"cpu", "memory"} <= container["resources"][bound].keys(), workload
            mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
            assert "emptyDir" in volumes[mounts[WRITABLE_DIR]], workload  # the one writable place


def test_the_app_is_probed_on_healthz_and_readyz() -> None:
    (app,) = [d for d in objects_of_kind("Deployment") if d["metadata"]["name"] == "luotsi-app"]
    container = app["spec"]["template"]["spec"]["containers"][0]
    port_names = {p["name"] for p in container["ports"]}
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        assert container[probe]["httpGet"]["port"] in port_names


def test_service_ingress_autoscaler_and_budget_point_at_the_app() -> None:
    (app,) = [d for d in objects_of_kind("Deployment") if d["metadata"]["name"] == "luotsi-app"]
    labels = app["spec"]["template"]["metadata"]["labels"]
    ports = {p["name"] for p in app["spec"]["template"]["spec"]["containers"][0]["ports"]}
    (service,) = objects_of_kind("Service")
    assert service["spec"]["selector"].items() <= labels.items()
    assert {p["targetPort"] for p in service["spec"]["ports"]} <= ports
    for ingress in objects_of_kind("Ingress"):
        for rule in ingress["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                backend = path["backend"]["service"]
                assert backend["name"] == service["metadata"]["name"]
                assert backend["port"]["name"] in {p["name"] for p in service["spec"]["ports"]}
    (autoscaler,) = objects_of_kind("HorizontalPodAutoscaler")
    assert autoscaler["spec"]["scaleTargetRef"]["name"] == app["metadata"]["name"]
    assert autoscaler["spec"]["minReplicas"] >= 2
    (budget,) = objects_of_kind("PodDisruptionBudget")
    assert budget["spec"]["selector"]["matchLabels"].items() <= labels.items()


def test_the_keys_reach_app_and_worker_and_the_owner_only_the_migration() -> None:
    secrets_used: dict[str, set[str]] = {}
    for workload, spec in pod_specs():
        container = spec["containers"][0]
        names = {s["secretRef"]["name"] for s in container.get("envFrom", []) if "secretRef" in s}
        names |= {
            v["valueFrom"]["secretKeyRef"]["name"]
            for v in container.get("env", [])
            if "secretKeyRef" in v.get("valueFrom", {})
        }
        secrets_used[workload] = names
    assert secrets_used == {
        "luotsi-app": {"luotsi-keys", "luotsi-storage"},
        "luotsi-worker": {"luotsi-keys", "luotsi-storage"},
        "luotsi-migrate": {"luotsi-migrate", "luotsi-storage"},
    }


def test_every_pod_keeps_files_in_one_s3_bucket() -> None:
    """Pods share no disk: app, worker and the migration (which moves files in) read the same
    S3 settings, and the bucket's keys, when given, from the one optional Secret."""
    (settings,) = objects_of_kind("ConfigMap")
    assert settings["data"]["LUOTSI_STORAGE_URL"].startswith("s3://")
    assert "LUOTSI_S3_SECRET_ACCESS_KEY" not in settings["data"]
    for workload, spec in pod_specs():
        sources = spec["containers"][0]["envFrom"]
        assert {"configMapRef": {"name": "luotsi-settings"}} in sources, workload
        assert {"secretRef": {"name": "luotsi-storage", "optional": True}} in sources, workload
