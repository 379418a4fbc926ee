"""``civicflow up`` on other ports: links in messages follow the ports, unless set."""

from __future__ import annotations

from civicflow.up import link_urls
from core.settings import AppSettings


def test_default_links_follow_the_ports_up_listens_on():
    assert link_urls(AppSettings(), host="127.0.0.1", app_port=8600, hooks_port=8602) == {
        "CIVICFLOW_APP__BASE_URL": "http://localhost:8600",
        "CIVICFLOW_APP__HOOKS_BASE_URL": "http://localhost:8602",
    }


def test_default_ports_need_nothing():
    assert link_urls(AppSettings(), host="127.0.0.1", app_port=8501, hooks_port=8502) == {}


def test_links_the_operator_set_are_kept():
    app = AppSettings(base_url="https://civic.example.org", hooks_base_url="https://hooks.example.org")
    assert link_urls(app, host="0.0.0.0", app_port=8600, hooks_port=8602) == {}


def test_a_named_host_is_used_as_it_is():
    got = link_urls(AppSettings(), host="civic.lan", app_port=8600, hooks_port=8502)
    assert got == {"CIVICFLOW_APP__BASE_URL": "http://civic.lan:8600",
                   "CIVICFLOW_APP__HOOKS_BASE_URL": "http://civic.lan:8502"}
