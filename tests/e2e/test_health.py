"""Health and readiness answer 200 JSON."""


def test_healthz(server):
    response = server.get("/healthz")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["status"] == "ok" and body["version"]


def test_readyz(server):
    response = server.get("/readyz")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["status"] == "ready"
