"""Flow definitions by content digest, so an application continues with the definition it
started with — after an edit, a restart, or in another process."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from storage.models import FlowDefinitionRecord


async def keep(*, digest: str, flow_id: str, source: str, document_json: str) -> None:
    """Store the definition's document once (every process may try; the first one wins)."""
    if await FlowDefinitionRecord.exists(digest=digest):
        return
    try:
        async with in_transaction():  # a savepoint inside the caller's transaction
            await FlowDefinitionRecord.create(digest=digest, flow_id=flow_id, source=source,
                                              document=json.loads(document_json),
                                              created_at=datetime.now(UTC))
    except IntegrityError:
        pass  # stored by another process meanwhile: the same content by definition


async def find(digest: str) -> FlowDefinitionRecord | None:
    return await FlowDefinitionRecord.get_or_none(digest=digest)
