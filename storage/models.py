"""Tortoise models: the database is the source of truth for every dialog and application."""

# Model docstrings become SQL table comments, and the migration runner splits statements on ";",
# so docstrings here must not contain semicolons.

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class Department(Model):
    id = fields.CharField(max_length=64, primary_key=True)
    name = fields.CharField(max_length=128)
    kind = fields.CharField(max_length=32, default="office")
    head_id = fields.CharField(max_length=64, null=True)
    leader_id = fields.CharField(max_length=64, null=True)
    parent_id = fields.CharField(max_length=64, null=True)
    source = fields.CharField(max_length=16, default="file")
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "departments"


class Person(Model):
    """A directory user, id is the user id on the messaging platform."""

    id = fields.CharField(max_length=64, primary_key=True)
    name = fields.CharField(max_length=64)
    department_id = fields.CharField(max_length=64, null=True)
    roles: list[str] = fields.JSONField(default=list)  # type: ignore[assignment]
    # ",teacher,cadre," so that "who has role X" is one indexed LIKE on SQLite and PostgreSQL alike
    roles_text = fields.CharField(max_length=512, default=",", db_index=True)
    counselor_id = fields.CharField(max_length=64, null=True)
    title = fields.CharField(max_length=64, default="")
    active = fields.BooleanField(default=True)
    source = fields.CharField(max_length=16, default="file")
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "users"


class Application(Model):
    """One application of one flow, the state is a state of that flow's machine."""

    id = fields.IntField(primary_key=True)
    flow_id = fields.CharField(max_length=64, db_index=True)
    flow_version = fields.IntField()
    #: digest of the definition the application started with (flow_definitions)
    flow_digest = fields.CharField(max_length=64, null=True)
    applicant_id = fields.CharField(max_length=64, db_index=True)
    state = fields.CharField(max_length=96)
    status = fields.CharField(max_length=16, db_index=True)
    form: dict = fields.JSONField(default=dict)  # type: ignore[assignment]
    meta: dict = fields.JSONField(default=dict)  # type: ignore[assignment]
    channel = fields.CharField(max_length=16, default="sim")
    created_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()
    submitted_at = fields.DatetimeField(null=True)
    finished_at = fields.DatetimeField(null=True)
    expires_at = fields.DatetimeField(null=True, db_index=True)
    version = fields.IntField(default=0)

    class Meta:
        table = "applications"


class ApprovalTask(Model):
    """One approver's part of one stage, the card key identifies the card sent for it."""

    id = fields.IntField(primary_key=True)
    application: fields.ForeignKeyRelation[Application] = fields.ForeignKeyField(
        "models.Application", related_name="tasks")
    stage_id = fields.CharField(max_length=64)
    approver_id = fields.CharField(max_length=64, db_index=True)
    status = fields.CharField(max_length=16, default="pending", db_index=True)
    card_key = fields.CharField(max_length=128, unique=True)
    comment = fields.TextField(default="")
    decided_by = fields.CharField(max_length=64, null=True)
    created_at = fields.DatetimeField()
    decided_at = fields.DatetimeField(null=True)
    #: one approver's part of a stage: a transfer or 加签 continues the same slot
    slot = fields.IntField(default=0, db_default=0)
    #: order within the stage (依次): a slot acts once every earlier position is done
    position = fields.IntField(default=0, db_default=0)
    #: tasks of earlier rounds (before a 退回修改) no longer count
    round = fields.IntField(default=0, db_default=0)
    #: the approver this card was meant for, when it went to their delegate
    delegated_from = fields.CharField(max_length=64, null=True)
    #: 办结时限 of this task, counted in working days
    due_at = fields.DatetimeField(null=True, db_index=True)

    class Meta:
        table = "approval_tasks"


class Identity(Model):
    """One account on one channel, linked to one person of the directory."""

    id = fields.IntField(primary_key=True)
    channel = fields.CharField(max_length=16)
    external_id = fields.CharField(max_length=64)
    person_id = fields.CharField(max_length=64, db_index=True)
    # how the link was made: sync (a directory sync), file (the directory file), contact
    # (looked up on the person's first message)
    source = fields.CharField(max_length=16, default="sync")
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "identities"
        unique_together = (("channel", "external_id"),)


class PersonContact(Model):
    """How one person is recognised and reached across channels: the keys that link their
    accounts (mobile, job number) and the channel set for them."""

    person_id = fields.CharField(max_length=64, primary_key=True)
    mobile = fields.CharField(max_length=32, null=True, db_index=True)
    job_number = fields.CharField(max_length=64, null=True, db_index=True)
    # where cards and reminders go when set, whatever channel the person used last
    preferred_channel = fields.CharField(max_length=16, null=True)
    # file (the directory file) or sync (a channel's directory sync); the file's win
    source = fields.CharField(max_length=16, default="sync")
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "person_contacts"


class ChannelCard(Model):
    """A card as one channel delivered it: the platform's id for it and its state there."""

    id = fields.IntField(primary_key=True)
    channel = fields.CharField(max_length=16)
    # the platform's id of the card (WeCom task_id, DingTalk outTrackId)
    external_id = fields.CharField(max_length=128)
    # the neutral key: an approval task's card key, or the key of a question with choices
    card_key = fields.CharField(max_length=128, db_index=True)
    kind = fields.CharField(max_length=16, default="card")
    # the person it went to, and their account on the channel
    user_id = fields.CharField(max_length=64)
    external_user = fields.CharField(max_length=64)
    # what a tap needs to be read (the options of a question)
    data: dict = fields.JSONField(default=dict)  # type: ignore[assignment]
    # what changes after sending (WeCom's unused response codes)
    state = fields.CharField(max_length=256, null=True)
    created_at = fields.DatetimeField()
    sent_at = fields.DatetimeField(null=True)

    class Meta:
        table = "channel_cards"
        unique_together = (("channel", "external_id"),)


class Conversation(Model):
    """Per-user chat state: the application being filled in and any pending question."""

    user_id = fields.CharField(max_length=64, primary_key=True)
    active_application_id = fields.IntField(null=True)
    pending: dict = fields.JSONField(default=dict)  # type: ignore[assignment]
    context: dict = fields.JSONField(default=dict)  # type: ignore[assignment]
    last_channel = fields.CharField(max_length=16, null=True)
    greeted_on = fields.CharField(max_length=10, null=True)
    updated_at = fields.DatetimeField()
    version = fields.IntField(default=0)

    class Meta:
        table = "conversations"


class InboundEvent(Model):
    """Every inbound message or tap, stored before it is acknowledged, unique per channel key."""

    id = fields.IntField(primary_key=True)
    channel = fields.CharField(max_length=16)
    dedupe_key = fields.CharField(max_length=255)
    user_id = fields.CharField(max_length=64)
    payload: dict = fields.JSONField()  # type: ignore[assignment]
    status = fields.CharField(max_length=16, default="received", db_index=True)
    attempts = fields.IntField(default=0)
    received_at = fields.DatetimeField()
    processed_at = fields.DatetimeField(null=True)
    #: after a failed turn: not retried before this time (the user's later events wait)
    next_try_at = fields.DatetimeField(null=True)

    class Meta:
        table = "inbound_events"
        unique_together = (("channel", "dedupe_key"),)
        indexes = (("user_id", "status"),)


class OutboxMessage(Model):
    """A message to deliver, written in the same transaction as the turn that caused it."""

    id = fields.IntField(primary_key=True)
    channel = fields.CharField(max_length=16, db_index=True)
    user_id = fields.CharField(max_length=64, db_index=True)
    payload: dict = fields.JSONField()  # type: ignore[assignment]
    status = fields.CharField(max_length=16, default="pending", db_index=True)
    attempts = fields.IntField(default=0)
    next_try_at = fields.DatetimeField(db_index=True)
    turn_id = fields.CharField(max_length=64, null=True, db_index=True)
    dedupe_key = fields.CharField(max_length=255, null=True, unique=True)
    last_error = fields.TextField(default="")
    claimed_at = fields.DatetimeField(null=True)
    #: the sender process holding the claim (it renews claimed_at while it delivers)
    claimed_by = fields.CharField(max_length=64, null=True)
    created_at = fields.DatetimeField()
    sent_at = fields.DatetimeField(null=True, db_index=True)
    #: when the message was given up (status 'failed': a dead letter)
    failed_at = fields.DatetimeField(null=True)

    class Meta:
        table = "outbox"
        indexes = (("user_id", "status"),)


class AuditEntry(Model):
    """Append-only history of one application."""

    id = fields.IntField(primary_key=True)
    application: fields.ForeignKeyRelation[Application] = fields.ForeignKeyField(
        "models.Application", related_name="audit")
    at = fields.DatetimeField()
    actor_id = fields.CharField(max_length=64)
    action = fields.CharField(max_length=32)
    from_state = fields.CharField(max_length=96, default="")
    to_state = fields.CharField(max_length=96, default="")
    detail: dict = fields.JSONField(default=dict)  # type: ignore[assignment]
    channel = fields.CharField(max_length=16, default="", db_default="")
    comment = fields.TextField(default="", db_default="")

    class Meta:
        table = "audit_log"


class Reminder(Model):
    """A message due later (leave ended, dialog idle), claimed atomically when due."""

    id = fields.IntField(primary_key=True)
    kind = fields.CharField(max_length=32)
    application: fields.ForeignKeyRelation[Application] = fields.ForeignKeyField(
        "models.Application", related_name="reminders")
    user_id = fields.CharField(max_length=64)
    due_at = fields.DatetimeField(db_index=True)
    status = fields.CharField(max_length=16, default="pending", db_index=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "reminders"
        unique_together = (("application", "kind"),)


class Delegation(Model):
    """An approver away for some days: new cards go to the delegate meanwhile."""

    id = fields.IntField(primary_key=True)
    principal_id = fields.CharField(max_length=64, db_index=True)
    delegate_id = fields.CharField(max_length=64)
    starts_on = fields.DateField()
    ends_on = fields.DateField()
    reason = fields.TextField(default="")
    source = fields.CharField(max_length=16, default="chat")
    created_by = fields.CharField(max_length=64)
    created_at = fields.DatetimeField()
    cancelled_at = fields.DatetimeField(null=True)

    class Meta:
        table = "delegations"


class CarbonCopy(Model):
    """Someone told about an application (抄送), at submission or at the end."""

    id = fields.IntField(primary_key=True)
    application: fields.ForeignKeyRelation[Application] = fields.ForeignKeyField(
        "models.Application", related_name="carbon_copies")
    user_id = fields.CharField(max_length=64, db_index=True)
    point = fields.CharField(max_length=16)
    created_at = fields.DatetimeField()

    class Meta:
        table = "carbon_copies"
        unique_together = (("application", "user_id", "point"),)


class Booking(Model):
    """A room or resource held by an application, for conflict checks."""

    id = fields.IntField(primary_key=True)
    application: fields.ForeignKeyRelation[Application] = fields.ForeignKeyField(
        "models.Application", related_name="bookings")
    flow_id = fields.CharField(max_length=64)
    resource = fields.CharField(max_length=128)
    day = fields.DateField()
    slot = fields.CharField(max_length=64)
    status = fields.CharField(max_length=16, default="pending", db_index=True)

    class Meta:
        table = "bookings"


class ApiToken(Model):
    """Platform access tokens shared by every replica."""

    key = fields.CharField(max_length=128, primary_key=True)
    token = fields.CharField(max_length=1024)
    expires_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()

    class Meta:
        table = "api_tokens"


class DirectoryEntry(Model):
    """One entry of the school's directory file, composed over the synced directory on read."""

    id = fields.IntField(primary_key=True)
    kind = fields.CharField(max_length=16)
    position = fields.IntField()
    #: file and entry, for messages, e.g. school.toml: departments[3]
    location = fields.CharField(max_length=255)
    entry_id = fields.CharField(max_length=64, null=True)
    name = fields.CharField(max_length=128, null=True)
    data: dict = fields.JSONField(default=dict)  # type: ignore[assignment]
    source = fields.CharField(max_length=255)

    class Meta:
        table = "directory_entries"


class DirectoryState(Model):
    """The directory's generation, bumped by every sync and file change, so every process
    notices a change with one small query."""

    key = fields.CharField(max_length=32, primary_key=True)
    generation = fields.IntField(default=0)
    file_digest = fields.CharField(max_length=64, default="")
    updated_at = fields.DatetimeField()

    class Meta:
        table = "directory_state"


class FlowDefinitionRecord(Model):
    """A flow definition as applications started with it, keyed by the digest of its content,
    so an application continues with its own definition after the file changes."""

    digest = fields.CharField(max_length=64, primary_key=True)
    flow_id = fields.CharField(max_length=64, db_index=True)
    source = fields.CharField(max_length=255)
    document: dict = fields.JSONField()  # type: ignore[assignment]
    created_at = fields.DatetimeField()

    class Meta:
        table = "flow_definitions"


class AssignmentIssue(Model):
    """A stage whose approver the directory could not give: handled by a fallback, or waiting
    for the directory to be fixed."""

    id = fields.IntField(primary_key=True)
    application: fields.ForeignKeyRelation[Application] = fields.ForeignKeyField(
        "models.Application", related_name="assignment_issues")
    flow_id = fields.CharField(max_length=64)
    stage_id = fields.CharField(max_length=64)
    gap = fields.CharField(max_length=255)
    #: fallback (someone stands in), waiting (nobody yet), assigned (found later)
    state = fields.CharField(max_length=16, db_index=True)
    fallback_ids: list[str] = fields.JSONField(default=list)  # type: ignore[assignment]
    created_at = fields.DatetimeField()
    resolved_at = fields.DatetimeField(null=True)

    class Meta:
        table = "assignment_issues"
