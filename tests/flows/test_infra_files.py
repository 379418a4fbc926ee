"""The scale-out files parse and agree with the code (Docker cannot run on the CI machine,
so ``infra/compose.yaml`` and ``infra/Dockerfile`` are checked by reading them)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

from flows.deployments import DEPLOYMENT, SPECS, WORK_POOL, load_flow

INFRA = Path(__file__).resolve().parents[2] / "infra"
ROOT = INFRA.parent


def _compose() -> dict:
    return yaml.safe_load((INFRA / "compose.yaml").read_text(encoding="utf-8"))


def _prefect_yaml() -> dict:
    return yaml.safe_load((INFRA / "prefect.yaml").read_text(encoding="utf-8"))


def test_compose_has_every_role():
    services = _compose()["services"]
    assert set(services) == {"postgres", "prefect-server", "migrate", "prefect-setup",
                             "worker", "app"}
    assert services["migrate"]["command"] == ["civicflow", "db", "upgrade"]
    assert services["migrate"]["restart"] == "no"
    assert services["worker"]["command"] == ["prefect", "worker", "start", "--pool", WORK_POOL]
    assert services["app"]["command"][:2] == ["civicflow", "app"]
    assert "prefect.yaml" in services["prefect-setup"]["command"][-1]
    assert f"work-pool create {WORK_POOL} --type process" in services["prefect-setup"][
        "command"][-1]
    server_env = services["prefect-server"]["environment"]
    assert server_env["PREFECT_SERVER_DATABASE_CONNECTION_URL"].startswith(
        "postgresql+asyncpg://")
    for name in ("migrate", "prefect-setup", "worker", "app"):
        env = services[name]["environment"]
        assert env["CIVICFLOW_DB__URL"].startswith("postgresql+psycopg://")
        assert env["PREFECT_API_URL"] == "http://prefect-server:4200/api"
        assert services[name]["build"]["dockerfile"] == "infra/Dockerfile"
    after = services["worker"]["depends_on"]
    assert after["migrate"]["condition"] == "service_completed_successfully"
    assert after["prefect-setup"]["condition"] == "service_completed_successfully"


def test_compose_settings_are_real_civicflow_settings():
    from core.settings import Settings

    env = _compose()["services"]["app"]["environment"]
    for key in env:
        if not key.startswith("CIVICFLOW_") or key == "CIVICFLOW_WORKDIR":
            continue
        group, field = key.removeprefix("CIVICFLOW_").lower().split("__")
        model = Settings.model_fields[group].annotation
        assert field in model.model_fields, key


def test_prefect_yaml_declares_the_same_deployments_as_the_code():
    doc = _prefect_yaml()
    assert doc["pull"] == [{"prefect.deployments.steps.set_working_directory": {
        "directory": "{{ $CIVICFLOW_WORKDIR }}"}}]
    declared = {d["entrypoint"]: d for d in doc["deployments"]}
    assert set(declared) == {s.entrypoint for s in SPECS}
    for spec in SPECS:
        d = declared[spec.entrypoint]
        load_flow(spec.entrypoint)  # the module path imports
        assert d["name"] == DEPLOYMENT
        assert d["work_pool"]["name"] == WORK_POOL
        schedules = d.get("schedules") or []
        if spec.cron:
            assert [s["cron"] for s in schedules] == [spec.cron]
        elif spec.interval_seconds:
            assert [s["interval"] for s in schedules] == [spec.interval_seconds]
        else:
            assert schedules == []
        if spec.scheduled:
            assert d["concurrency_limit"] == {"limit": 1, "collision_strategy": "CANCEL_NEW"}


def test_dockerfile_installs_every_package_as_a_non_root_user():
    text = (INFRA / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(r"^FROM python:3\.11-slim$", text, flags=re.M)
    assert "RUN pip install ." in text
    users = re.findall(r"^USER (\S+)", text, flags=re.M)
    assert users
    assert users[-1] not in ("root", "0")
    copied = set(re.findall(r"^COPY (\S+) \./\1$", text, flags=re.M))
    for src in re.findall(r"^COPY (.+) \./?$", text, flags=re.M):
        copied.update(src.split())
    for path in copied:
        assert (ROOT / path).exists(), path
    packages = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "packages"]["find"]["include"]
    for pattern in packages:
        assert pattern.rstrip("*") in copied, pattern
