"""/docs works without internet: Swagger UI's files come from the installed package."""

from __future__ import annotations

import re

import httpx
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import modelyard
from _serving import cancer_frame, in_process
from modelyard.serve import create_app


def test_the_api_docs_load_everything_from_the_server_itself(yard: modelyard.Yard) -> None:
    X, y = cancer_frame()
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y)
    yard.models.register("cancer", model, input_example=X)
    app = create_app(yard, ["cancer/versions/1"], log_root=yard.settings.state_dir / "p")

    async def test(client: httpx.AsyncClient) -> None:
        page = await client.get("/docs")
        assert page.status_code == 200 and "swagger-ui" in page.text
        # every script and style the page loads is on this server: no CDN
        sources = re.findall(r"(?:src|href)=[\"']([^\"']+)[\"']", page.text)
        assert sources and all(s.startswith("/") for s in sources), sources
        for source in sources:
            assert (await client.get(source)).status_code == 200, source
        document = (await client.get("/docs/openapi-3.0.json")).json()
        assert document["openapi"].startswith("3.0")
        assert any("/v1/models/cancer" in path for path in document["paths"])

    in_process(app, test)
