from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise import fields

# Channels as adapters (issue 12): per-channel card state moves out of approval_tasks into
# channel_cards, accounts on several channels link to one person (identities), and each person
# may have the keys that link them (mobile, job number) and a preferred channel
# (person_contacts).

# Until now a WeCom card's task_id was the task's card key, and its unused response codes sat
# in approval_tasks.response_code: both move to a channel_cards row per card.
COPY_CODES = (
    "INSERT INTO channel_cards (channel, external_id, card_key, kind, user_id, external_user, "
    "data, state, created_at, sent_at) "
    "SELECT 'wecom', card_key, card_key, 'card', approver_id, approver_id, {empty}, "
    "response_code, created_at, created_at FROM approval_tasks WHERE response_code IS NOT NULL")
COPY_CODES_BACK = (
    "UPDATE approval_tasks SET response_code = (SELECT c.state FROM channel_cards c "
    "WHERE c.channel = 'wecom' AND c.card_key = approval_tasks.card_key "
    "AND c.user_id = approval_tasks.approver_id ORDER BY c.id DESC LIMIT 1)")
# people synced from WeCom were stored under their WeCom userid
LINK_WECOM_PEOPLE = (
    "INSERT INTO identities (channel, external_id, person_id, source, updated_at) "
    "SELECT 'wecom', id, id, 'sync', updated_at FROM users WHERE source = 'wecom'")


def _is_postgres(schema_editor) -> bool:
    return schema_editor.client.capabilities.dialect == "postgres"


async def move_codes(apps, schema_editor) -> None:
    empty = "'{}'::jsonb" if _is_postgres(schema_editor) else "'{}'"
    await schema_editor.client.execute_script(COPY_CODES.format(empty=empty))
    await schema_editor.client.execute_script(LINK_WECOM_PEOPLE)


async def move_codes_back(apps, schema_editor) -> None:
    await schema_editor.client.execute_script(COPY_CODES_BACK)


class Migration(migrations.Migration):
    dependencies = [('models', '0004_approvals')]

    initial = False

    operations = [
        ops.CreateModel(
            name='ChannelCard',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('channel', fields.CharField(max_length=16)),
                ('external_id', fields.CharField(max_length=128)),
                ('card_key', fields.CharField(db_index=True, max_length=128)),
                ('kind', fields.CharField(default='card', max_length=16)),
                ('user_id', fields.CharField(max_length=64)),
                ('external_user', fields.CharField(max_length=64)),
                ('data', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('state', fields.CharField(null=True, max_length=256)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('sent_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'channel_cards', 'app': 'models', 'unique_together': (('channel', 'external_id'),), 'pk_attr': 'id', 'table_description': "A card as one channel delivered it: the platform's id for it and its state there."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Identity',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('channel', fields.CharField(max_length=16)),
                ('external_id', fields.CharField(max_length=64)),
                ('person_id', fields.CharField(db_index=True, max_length=64)),
                ('source', fields.CharField(default='sync', max_length=16)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'identities', 'app': 'models', 'unique_together': (('channel', 'external_id'),), 'pk_attr': 'id', 'table_description': 'One account on one channel, linked to one person of the directory.'},
            bases=['Model'],
        ),
        ops.RunPython(move_codes, move_codes_back),
        ops.RemoveField(model_name='ApprovalTask', name='response_code'),
        ops.CreateModel(
            name='PersonContact',
            fields=[
                ('person_id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=64)),
                ('mobile', fields.CharField(null=True, db_index=True, max_length=32)),
                ('job_number', fields.CharField(null=True, db_index=True, max_length=64)),
                ('preferred_channel', fields.CharField(null=True, max_length=16)),
                ('source', fields.CharField(default='sync', max_length=16)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'person_contacts', 'app': 'models', 'pk_attr': 'person_id', 'table_description': 'How one person is recognised and reached across channels: the keys that link their accounts (mobile, job number) and the channel set for them.'},
            bases=['Model'],
        ),
    ]
