from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0003_outbox_order')]

    initial = False

    operations = [
        ops.CreateModel(
            name='CarbonCopy',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('application', fields.ForeignKeyField('models.Application', source_field='application_id', db_constraint=True, to_field='id', related_name='carbon_copies', on_delete=OnDelete.CASCADE)),
                ('user_id', fields.CharField(db_index=True, max_length=64)),
                ('point', fields.CharField(max_length=16)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'carbon_copies', 'app': 'models', 'unique_together': (('application', 'user_id', 'point'),), 'pk_attr': 'id', 'table_description': 'Someone told about an application (抄送), at submission or at the end.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Delegation',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('principal_id', fields.CharField(db_index=True, max_length=64)),
                ('delegate_id', fields.CharField(max_length=64)),
                ('starts_on', fields.DateField()),
                ('ends_on', fields.DateField()),
                ('reason', fields.TextField(default='', db_default='', unique=False)),
                ('source', fields.CharField(default='chat', max_length=16)),
                ('created_by', fields.CharField(max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('cancelled_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'delegations', 'app': 'models', 'pk_attr': 'id', 'table_description': 'An approver away for some days: new cards go to the delegate meanwhile.'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='ApprovalTask',
            name='delegated_from',
            field=fields.CharField(null=True, description='the approver this card was meant for, when it went to their delegate', max_length=64),
        ),
        ops.AddField(
            model_name='ApprovalTask',
            name='due_at',
            field=fields.DatetimeField(null=True, db_index=True, description='办结时限 of this task, counted in working days', auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='ApprovalTask',
            name='position',
            field=fields.IntField(default=0, db_default=0, description='order within the stage (依次): a slot acts once every earlier position is done'),
        ),
        ops.AddField(
            model_name='ApprovalTask',
            name='round',
            field=fields.IntField(default=0, db_default=0, description='tasks of earlier rounds (before a 退回修改) no longer count'),
        ),
        ops.AddField(
            model_name='ApprovalTask',
            name='slot',
            field=fields.IntField(default=0, db_default=0, description="one approver's part of a stage: a transfer or 加签 continues the same slot"),
        ),
        ops.AddField(
            model_name='AuditEntry',
            name='channel',
            field=fields.CharField(default='', db_default='', max_length=16),
        ),
        ops.AddField(
            model_name='AuditEntry',
            name='comment',
            field=fields.TextField(default='', db_default='', unique=False),
        ),
    ]
