from __future__ import annotations

import pytest
from django.db import connection


@pytest.mark.django_db
def test_healthz_checks_the_database(client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db(transaction=True)
def test_healthz_reports_an_unreachable_database(client, monkeypatch) -> None:
    # Point the connection at a database that cannot be opened, for real.
    if connection.vendor == "sqlite":
        monkeypatch.setitem(connection.settings_dict, "NAME", "/nonexistent/dir/x.db")
    else:
        monkeypatch.setitem(connection.settings_dict, "PORT", "1")
    connection.close()
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "error", "error": "database unavailable"}
    connection.close()


def test_healthz_only_answers_get(client) -> None:
    assert client.post("/healthz").status_code == 405


@pytest.mark.django_db
def test_admin_login_page_is_served(client) -> None:
    response = client.get("/admin/login/")
    assert response.status_code == 200
    assert b"Oris console" in response.content


def test_html_pages_carry_the_content_security_policy(client, db) -> None:
    page = client.get("/admin/login/")
    assert page["Content-Security-Policy"].startswith("default-src 'self'")
    assert "Content-Security-Policy" not in client.get("/healthz")
