from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0002_directory')]

    initial = False

    operations = [
        ops.AddField(
            model_name='InboundEvent',
            name='next_try_at',
            field=fields.DatetimeField(null=True, description="after a failed turn: not retried before this time (the user's later events wait)", auto_now=False, auto_now_add=False),
        ),
        ops.AddIndex(
            model_name='InboundEvent',
            index=Index(fields=['user_id', 'status']),
        ),
        ops.AddField(
            model_name='OutboxMessage',
            name='claimed_by',
            field=fields.CharField(null=True, description='the sender process holding the claim (it renews claimed_at while it delivers)', max_length=64),
        ),
        ops.AddField(
            model_name='OutboxMessage',
            name='failed_at',
            field=fields.DatetimeField(null=True, description="when the message was given up (status 'failed': a dead letter)", auto_now=False, auto_now_add=False),
        ),
        ops.AddIndex(
            model_name='OutboxMessage',
            index=Index(fields=['user_id', 'status']),
        ),
    ]
