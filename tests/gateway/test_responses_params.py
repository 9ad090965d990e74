"""A /v1/responses body is checked as OpenAI checks it: each refusal is 400 with OpenAI's code
and the parameter named; what this server does not serve (built-in tools, background mode,
file inputs, item references) is refused by name; valid bodies pass untouched. End to end, a
refused body gets OpenAI's error shape and reaches no upstream."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from modelyard.errors import BadRequest
from modelyard.gateway.params_responses import check_responses
from modelyard.registry.actors import Actor
from modelyard.services import Registry
from modelyard.settings import Settings
from tests.gateway.responses_params_cases import BASE, REFUSED, VALID
from tests.gateway.responses_rig import COMPAT, Rig, responses_rig


@pytest.mark.parametrize(("change", "param", "code"), REFUSED, ids=[c[1] for c in REFUSED])
def test_a_body_openai_refuses_is_refused_naming_the_parameter(
    change: dict[str, Any], param: str, code: str
) -> None:
    with pytest.raises(BadRequest) as refused:
        check_responses(BASE | change)
    assert refused.value.details["param"] == param
    assert refused.value.code == code.upper()
    assert param.split("[", maxsplit=1)[0].split(".", maxsplit=1)[0] in refused.value.message


@pytest.mark.parametrize("change", VALID)
def test_a_valid_body_passes(change: dict[str, Any]) -> None:
    body = BASE | change
    check_responses(body)
    assert body.keys() == (BASE | change).keys()


@pytest.fixture
async def rig(
    settings: Settings, registry: Registry, admin: Actor, tmp_path: Any
) -> AsyncIterator[Rig]:
    async with responses_rig(settings, registry, admin, tmp_path) as running:
        yield running


async def test_refusals_take_openais_error_shape_and_reach_no_upstream(rig: Rig) -> None:
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {rig.key}"}) as http:
        for change, param, code in [
            ({"temperature": 7}, "temperature", "decimal_above_max_value"),
            ({"tools": [{"type": "web_search_preview"}]}, "tools[0].type", "unsupported_value"),
            ({"input": [{"type": "computer_call"}]}, "input[0].type", "unsupported_value"),
            ({"input": []}, "input", "invalid_request"),
        ]:
            body = {"model": COMPAT, "input": "hi"} | change
            response = await http.post(f"{rig.url}/v1/responses", json=body)
            assert response.status_code == 400, response.text
            error = response.json()["error"]
            assert (error["param"], error["code"], error["type"]) == (
                param,
                code,
                "invalid_request_error",
            )
        missing = await http.post(
            f"{rig.url}/v1/responses",
            json={"model": COMPAT, "input": "hi", "previous_response_id": "resp_nope"},
        )
        assert missing.status_code == 404
        assert "resp_nope" in missing.json()["error"]["message"]
        wrong = await http.put(f"{rig.url}/v1/responses/resp_x", json={})
        assert wrong.status_code == 405
        assert wrong.headers["allow"] == "GET, DELETE"
    assert rig.upstream.received == []
    assert await rig.usage() == []
