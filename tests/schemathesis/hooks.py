"""Schemathesis hooks of tests/schemathesis/run: they steer part of the generated requests past
the first refusal, so the fuzzing reaches the handlers' logic and not only 404s and 400s."""

import json
import os
from datetime import datetime, timedelta, timezone

import schemathesis
from hypothesis import strategies as st

# {"event": id, "order": id, "ticket": id}: what the run seeded for this role.
SEEDS = json.loads(os.environ.get("TICKETD_SEEDS", "{}"))
# Which seeded id a path's `{id}` names.
KINDS = {"/events/": "event", "/orders/": "order", "/tickets/": "ticket"}


def operation_path(context):
    return context.operation.path if context.operation else ""


@schemathesis.hook
def flatmap_path_parameters(context, path_parameters):
    """Half the `{id}`s are the seeded event, order or ticket."""
    path = operation_path(context)
    kind = next((kind for prefix, kind in KINDS.items() if path.startswith(prefix)), None)
    if kind not in SEEDS or not isinstance(path_parameters, dict) or "id" not in path_parameters:
        return st.just(path_parameters)
    return st.sampled_from([path_parameters, {**path_parameters, "id": SEEDS[kind]}])


def is_date_time(value):
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (AttributeError, TypeError, ValueError):
        return False
    return True


@schemathesis.hook
def flatmap_body(context, body):
    """Half the new events start in the API's window (the future, at most 10 years ahead: a
    JSON Schema cannot say so). Only valid values are replaced, so a case made to break the
    schema stays broken."""
    if operation_path(context) != "/events" or not isinstance(body, dict):
        return st.just(body)
    if not is_date_time(body.get("startsAt")):
        return st.just(body)
    # Inside the API's window: after now, at most 10 years ahead (a day's margin each way).
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    future = st.datetimes(
        min_value=now + timedelta(days=1), max_value=now + timedelta(days=365 * 10 - 1)
    )
    return st.one_of(
        st.just(body),
        future.map(lambda moment: {**body, "startsAt": moment.isoformat() + "Z"}),
    )
