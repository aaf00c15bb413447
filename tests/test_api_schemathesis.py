"""Issue 11: schemathesis generates requests from the API's own OpenAPI document and checks every
answer: never a 5xx, status codes, content types and bodies as documented.

Bounded: a few examples per operation (GOVFLOW_SCHEMATHESIS_EXAMPLES, default 12) so the suite
stays quick. The operations are driven from one test with hypothesis directly (schemathesis's
own pytest plugin does not run under pytest 9); a failure names the operation.
"""

from __future__ import annotations

import os

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.helpers import grant, submit
from tests.test_api import token_for

EXAMPLES = int(os.environ.get("GOVFLOW_SCHEMATHESIS_EXAMPLES", "12"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def test_the_api_answers_every_generated_request_as_documented(app, sqlite_rt, sqlite_users):
    app.config["GOVFLOW_API_AUTH_FAILURES"] = 10_000  # generated requests are not an attacker
    # One person in every role the routes ask for, so requests get past the scope checks into the
    # engine: editor, reviewer and signer of 区教育局, auditor of the district, top administrator.
    # (An auditor changes nothing, so the audit search is asked with 陈静's auditor token instead.)
    for role, unit in (("editor", "区教育局"), ("admin", "某省")):
        grant(sqlite_rt, "lisi", role, unit)
    for n in range(3):  # instances and tasks with small ids for the generated ids to find
        submit(sqlite_rt, sqlite_users["zhangsan"], title=f"示例稿件{n}")
    headers = {"Authorization": f"Bearer {token_for(sqlite_rt, 'lisi')}"}
    auditor = {"Authorization": f"Bearer {token_for(sqlite_rt, 'chenjing')}"}
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 16

    for operation in operations:
        sent = auditor if "/audit/" in operation.path else headers

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def exercise(case):
            case.call_and_validate(headers=sent, checks=CHECKS)  # noqa: B023  (run before the loop moves on)

        try:
            exercise()
        except Exception as err:
            raise AssertionError(f"{operation.label}: {err}") from err
