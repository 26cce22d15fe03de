"""A PATCH may send null for the optional text fields: it clears them, never a 500."""

from __future__ import annotations

import json

import pytest

from accounts.models import ApiToken
from tests.conftest import post_entry

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("field", ["attribution", "source_url", "body", "kind", "speaker"])
def test_null_in_a_patch_is_answered_as_input_not_as_a_server_error(
    client, session, blogger, field
):
    entry = post_entry(session, blogger, "Quoted", kind="quote", attribution_name="Alan Patrick")
    _, secret = ApiToken.issue(blogger, "phone")
    response = client.patch(
        f"/api/entries/{entry.pk}",
        json.dumps({"kind": "quote", field: None}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )
    assert response.status_code in {200, 400, 422}, response.content
