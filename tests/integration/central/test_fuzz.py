"""Property-based fuzz of the station API from its own OpenAPI spec (schemathesis): no input gives a 5xx."""
from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from server_bridge.central.runner import CentralProcess

EXAMPLES_PER_OPERATION = 50  # positive + negative per operation: a few hundred requests in all


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_api_fuzz_finds_no_server_error(central: CentralProcess, mode: GenerationMode) -> None:
    token = central.add_station("K01")
    central.cli("seed-demo")
    schema = schemathesis.openapi.from_url(f"{central.url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.label for op in operations} >= {"POST /api/v1/stations/{station_id}/events",
                                               "POST /api/v1/stations/{station_id}/heartbeat",
                                               "GET /api/v1/members/{member_id}"}
    statuses: dict[int, int] = {}
    for op in operations:
        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        @given(case=op.as_strategy(generation_mode=mode), own_station=st.booleans(), signed=st.booleans())
        def fuzz(case: schemathesis.Case, own_station: bool, signed: bool) -> None:
            # Half the cases reach past authentication, so the body validation is what gets fuzzed.
            if own_station and case.path_parameters and "station_id" in case.path_parameters:
                case.path_parameters["station_id"] = "K01"
            headers = {"Authorization": f"Bearer {token}"} if signed or own_station else {}
            response = case.call(base_url=central.url, headers=headers, timeout=10)
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
            assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.text[:300]}"

        fuzz()
    assert sum(statuses.values()) >= 100
    if mode == GenerationMode.POSITIVE:
        assert statuses.get(200, 0) + statuses.get(204, 0) > 0, statuses  # the fuzz got past the gate
    assert all(code < 500 for code in statuses)
