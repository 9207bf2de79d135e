"""Property-based fuzzing of the whole OpenAPI document with schemathesis.

Every operation gets generated requests (valid and invalid data) sent over real HTTP to a
running Sauda; a response fails when it is a 5xx, a status the document does not declare, a
content type it does not declare, or a body that contradicts its schema. Failures are collected,
not raised, so one run reports every distinct cause.

Used by `tests/test_fuzz.py` (a bounded run in the suite) and, for a longer run by hand:
    uv run python -m tests.fuzz --help
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import hypothesis
import requests
import schemathesis
from hypothesis import HealthCheck, Phase
from hypothesis.errors import FlakyStrategyDefinition
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

CHECKS = [content_type_conformance, status_code_conformance, response_schema_conformance]


@dataclass
class FuzzReport:
    requests: int = 0
    generator_hiccups: int = 0
    failures: dict[str, list[str]] = field(default_factory=dict)

    def add(self, operation: str, problem: str) -> None:
        self.failures.setdefault(f"{operation}: {problem.splitlines()[0][:200]}", []).append(problem)

    def summary(self) -> str:
        lines = [f"{self.requests} requests, {len(self.failures)} distinct failures"]
        for key, seen in sorted(self.failures.items()):
            lines.append(f"  {len(seen)}× {key}")
        return "\n".join(lines)


def _send(case: Any, session: requests.Session, base_url: str, headers: dict[str, str]) -> Any:
    case.headers = {**(case.headers or {}), **headers}
    return case.call(base_url=base_url, session=session, timeout=30)


def _check(case: Any, response: Any, report: FuzzReport, operation: str) -> None:
    report.requests += 1
    # 502/503 are declared answers (Kaspi down, a dependency down); 500 is always a defect.
    if response.status_code == 500:
        report.add(operation, f"{response.status_code} for {case.method} {case.formatted_path}")
        return
    try:
        case.validate_response(response, checks=CHECKS)
    except FailureGroup as group:
        for failure in group.exceptions:
            report.add(
                operation,
                f"{response.status_code} {type(failure).__name__}: {failure.title} {response.text[:150]!r}",
            )
    except Failure as failure:
        report.add(
            operation,
            f"{response.status_code} {type(failure).__name__}: {failure.title} {response.text[:150]!r}",
        )


def fuzz(
    spec: dict[str, Any],
    base_url: str,
    headers: dict[str, str],
    *,
    max_examples: int,
    seed: int = 0,
    skip: Iterable[str] = (),
) -> FuzzReport:
    """Fuzz every operation of `spec` as the caller `headers` authenticate."""
    schema = schemathesis.openapi.from_dict(spec)
    report = FuzzReport()
    session = requests.Session()
    skipped = set(skip)
    for result in schema.get_all_operations():
        operation = result.ok()
        name = f"{operation.method.upper()} {operation.path}"
        if name in skipped:
            continue
        _fuzz_operation(operation, name, session, base_url, headers, report, max_examples, seed)
    return report


def _fuzz_operation(
    operation: Any,
    name: str,
    session: requests.Session,
    base_url: str,
    headers: dict[str, str],
    report: FuzzReport,
    max_examples: int,
    seed: int,
) -> None:
    @hypothesis.seed(seed)
    @hypothesis.settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @hypothesis.given(case=operation.as_strategy())
    def run(case: Any) -> None:
        _check(case, _send(case, session, base_url, headers), report, name)

    _tolerating_generator_hiccups(run, report)


def fuzz_links(
    spec: dict[str, Any],
    base_url: str,
    headers: dict[str, str],
    *,
    max_examples: int,
    seed: int = 0,
    report: FuzzReport | None = None,
) -> FuzzReport:
    """Stateful fuzzing: chains of calls that feed one response's ids into the next request
    (links schemathesis infers from the schemas and path parameters), so updates and deletes
    reach rows that exist instead of answering 404."""
    report = report if report is not None else FuzzReport()
    session = requests.Session()
    base = schemathesis.openapi.from_dict(spec).as_state_machine()

    class Workflow(base):  # type: ignore[misc, valid-type]
        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"base_url": base_url, "session": session, "headers": headers, "timeout": 30}

        def validate_response(self, response: Any, case: Any, **kwargs: Any) -> None:
            _check(case, response, report, f"{case.method.upper()} {case.path} (stateful)")

    settings = hypothesis.settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        stateful_step_count=6,
        # No replay or shrinking: a chain depends on what the server answered, so replaying it
        # against a changed database "generates differently", which Hypothesis calls flaky.
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    hypothesis.seed(seed)(Workflow.TestCase)
    _tolerating_generator_hiccups(lambda: Workflow.run(settings=settings), report)
    return report


def _tolerating_generator_hiccups(run: Callable[[], None], report: FuzzReport) -> None:
    """Hypothesis stops a run whose data generation it finds inconsistent (schemathesis'
    strategies sometimes are, over a live server); that says nothing about the API, and what
    was sent until then has been checked already."""
    try:
        run()
    except FlakyStrategyDefinition:
        report.generator_hiccups += 1


if __name__ == "__main__":
    import argparse
    import json

    parser = argparse.ArgumentParser(description="Fuzz a running Sauda's OpenAPI")
    parser.add_argument("base_url")
    parser.add_argument("--token", help="Bearer token (admin or employee)")
    parser.add_argument("--api-key", help="an integration client's secret")
    parser.add_argument("--examples", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    caller = {"Authorization": f"Bearer {args.token}"} if args.token else {}
    if args.api_key:
        caller["X-Api-Key"] = args.api_key
    document = requests.get(f"{args.base_url}/openapi.json", timeout=30).json()
    outcome = fuzz(document, args.base_url, caller, max_examples=args.examples, seed=args.seed)
    fuzz_links(document, args.base_url, caller, max_examples=args.examples, seed=args.seed, report=outcome)
    print(outcome.summary())
    print(json.dumps({"requests": outcome.requests, "failures": len(outcome.failures)}))
