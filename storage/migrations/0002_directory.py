from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0001_initial')]

    initial = False

    operations = [
        ops.CreateModel(
            name='AssignmentIssue',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('application', fields.ForeignKeyField('models.Application', source_field='application_id', db_constraint=True, to_field='id', related_name='assignment_issues', on_delete=OnDelete.CASCADE)),
                ('flow_id', fields.CharField(max_length=64)),
                ('stage_id', fields.CharField(max_length=64)),
                ('gap', fields.CharField(max_length=255)),
                ('state', fields.CharField(db_index=True, description='fallback (someone stands in), waiting (nobody yet), assigned (found later)', max_length=16)),
                ('fallback_ids', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('resolved_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'assignment_issues', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A stage whose approver the directory could not give: handled by a fallback, or waiting'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='DirectoryEntry',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('kind', fields.CharField(max_length=16)),
                ('position', fields.IntField()),
                ('location', fields.CharField(description='file and entry, for messages, e.g. school.toml: departments[3]', max_length=255)),
                ('entry_id', fields.CharField(null=True, max_length=64)),
                ('name', fields.CharField(null=True, max_length=128)),
                ('data', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('source', fields.CharField(max_length=255)),
            ],
            options={'table': 'directory_entries', 'app': 'models', 'pk_attr': 'id', 'table_description': "One entry of the school's directory file, composed over the synced directory on read."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='DirectoryState',
            fields=[
                ('key', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=32)),
                ('generation', fields.IntField(default=0)),
                ('file_digest', fields.CharField(default='', max_length=64)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'directory_state', 'app': 'models', 'pk_attr': 'key', 'table_description': "The directory's generation, bumped by every sync and file change, so every process"},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='FlowDefinitionRecord',
            fields=[
                ('digest', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=64)),
                ('flow_id', fields.CharField(db_index=True, max_length=64)),
                ('source', fields.CharField(max_length=255)),
                ('document', fields.JSONField(encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'flow_definitions', 'app': 'models', 'pk_attr': 'digest', 'table_description': 'A flow definition as applications started with it, keyed by the digest of its content,'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Application',
            name='flow_digest',
            field=fields.CharField(null=True, description='digest of the definition the application started with (flow_definitions)', max_length=64),
        ),
    ]
