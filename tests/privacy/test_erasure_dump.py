"""The erasure acceptance test: after a completed deletion request, a full dump of the database
(every table, history included) holds none of the person's data, in plain or base64 form, and
the ledger still verifies while the complaint and its decisions still read.

The data is committed (a transactional test), since the dump is taken the way an operator
would take it: `pg_dump` from outside on PostgreSQL, `.dump` (sqlite3's iterdump) on SQLite.
"""

from __future__ import annotations

import base64
import subprocess
from typing import Any

import pytest
from django.db import connection
from rest_framework.test import APIClient

from audits.verification import verify_ledger
from governance import services
from governance.choices import ComplaintStatus, Role
from governance.models import Complaint
from tests import factories
from tests.factories import Flow

NAME_FIRST, NAME_LAST = "Xiaoqing", "Duanmu-Erasable"
EMAIL = "duanmu.xiaoqing.erasable@example.test"
PHONE = "+86 139 7788 4411"
DESCRIPTION = "Duanmu Xiaoqing's neighbour posts her home address under every video 4411."
APPEAL = "Duanmu Xiaoqing asks again: the address is still up, see post 4411."
RATING = "Duanmu Xiaoqing found this slow."


def _forms(text: str) -> list[bytes]:
    """The text, and its base64 forms, as bytes to look for in a dump."""
    raw = text.encode()
    return [
        raw,
        base64.b64encode(raw),
        base64.urlsafe_b64encode(raw),
        base64.b64encode(raw).rstrip(b"="),
    ]


def _dump() -> bytes:
    """Dump every table of the test database, history and ledger included."""
    if connection.vendor == "postgresql":
        settings = connection.settings_dict
        command = ["pg_dump", "--no-owner", "--data-only", "--dbname", settings["NAME"]]
        for flag, key in (("--host", "HOST"), ("--port", "PORT"), ("--username", "USER")):
            if settings.get(key):
                command += [flag, str(settings[key])]
        return subprocess.run(command, check=True, capture_output=True, timeout=120).stdout  # noqa: S603
    connection.ensure_connection()
    return "\n".join(connection.connection.iterdump()).encode()


def _client(user: Any) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_completed_deletion_leaves_nothing_of_the_person_in_a_full_dump():
    # given: a complainant with a unique name, email and phone files a complaint, which is
    # handled, decided, appealed, decided on appeal, closed and rated
    person = factories.UserFactory(
        username="complainant-erasure", first_name=NAME_FIRST, last_name=NAME_LAST, email=EMAIL
    )
    services.role_grant(actor=factories.superuser(), user=person, role=Role.COMPLAINANT)
    filed = _client(person).post(
        "/api/v1/complaints/",
        {
            "channel": "web_form",
            "category": "harassment",
            "description": DESCRIPTION,
            "complainant_phone": PHONE,
        },
        format="json",
    )
    assert filed.status_code == 201, filed.content
    complaint = Complaint.objects.get(reference=filed.json()["reference"])
    f = Flow(
        complaint,
        person,
        factories.user_with_role(Role.HANDLER, "moderation"),
        factories.user_with_role(Role.DEPARTMENT_LEAD, "moderation"),
    )
    f.walk("acknowledged", "triaged", "assigned", "investigating", "decided")
    appealed = _client(person).post(
        "/api/v1/appeals/", {"decision": f.decision.pk, "statement": APPEAL}, format="json"
    )
    assert appealed.status_code == 201, appealed.content
    f.step(ComplaintStatus.APPEAL_DECIDED)
    f.step(ComplaintStatus.CLOSED)
    rated = _client(person).post(
        f"/api/v1/complaints/{complaint.reference}/rate/",
        {"score": 2, "comment": RATING},
        format="json",
    )
    assert rated.status_code in {200, 201}, rated.content
    # staff read it all (each read logged), so the access log has entries about the person
    detail = _client(f.handler).get(f"/api/v1/complaints/{complaint.reference}/").json()
    assert detail["description"] == DESCRIPTION
    before = _dump()
    # What the vault holds is encrypted at rest: no prose, phone or address in any table...
    assert all(
        form not in before for s in [PHONE, DESCRIPTION, APPEAL, RATING] for form in _forms(s)
    )
    # ...while the sign-in account (Django's auth_user) keeps its name and email in the clear
    # until the account is closed by the deletion: the one plaintext copy, and it goes below.
    assert EMAIL.encode() in before
    secrets = [NAME_FIRST, NAME_LAST, EMAIL, PHONE, DESCRIPTION, APPEAL, RATING]

    # when: the person asks for deletion; a privacy officer verifies and completes it
    officer = factories.user_with_role(Role.PRIVACY_OFFICER)
    asked = _client(person).post("/api/v1/privacy/requests/", {"kind": "deletion"}, format="json")
    assert asked.status_code == 201, asked.content
    reference = asked.json()["reference"]
    base = f"/api/v1/privacy/requests/{reference}/"
    assert _client(officer).post(base + "verify/").status_code == 200
    done = _client(officer).post(base + "complete/")
    assert done.status_code == 200, done.content
    assert done.json()["status"] == "completed"

    # then: the dump holds none of it, nor any key that could open what remains
    after = _dump()
    for secret in secrets:
        for form in _forms(secret):
            assert form not in after, (secret, form)
    assert b"duanmu" not in after.lower()
    assert b"xiaoqing" not in after.lower()

    # the ledger still verifies, with the erasure recorded in it
    report = verify_ledger()
    assert report.entries > 0

    # the complaint, its decisions and appeal still read, with the person shown as erased
    compliance = factories.user_with_role(Role.COMPLIANCE_OFFICER)
    body = _client(compliance).get(f"/api/v1/complaints/{complaint.reference}/").json()
    assert (body["status"], body["personal_data"], body["description"]) == (
        "closed",
        "erased",
        None,
    )
    decisions = _client(compliance).get("/api/v1/decisions/", {"complaint": complaint.reference})
    assert decisions.status_code == 200
    assert len(decisions.json()["results"]) == 2
    appeal = _client(compliance).get(f"/api/v1/appeals/{complaint.appeals.get().pk}/")
    assert (appeal.status_code, appeal.json()["statement"]) == (200, None)
