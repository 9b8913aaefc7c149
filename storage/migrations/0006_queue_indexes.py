from tortoise import migrations
from tortoise.migrations import operations as ops

# Indexes over the few rows still to work on. The outbox and the inbound events are queues:
# every row is written once and updated two or three times, and until VACUUM runs every old
# version stays in the plain status index. A claim that read "status IN ('pending',
# 'sending')" through it visited ~100,000 dead entries after a few minutes of load (23 ms per
# claim, most of PostgreSQL's CPU; docs/benchmarks.md). A partial index holds only versions
# that were unfinished, stays small, and its entries found dead are marked and skipped by
# later index scans, autovacuum or not. SQLite (3.8+) and PostgreSQL both take this syntax.
UNFINISHED = (
    "CREATE INDEX IF NOT EXISTS outbox_unfinished ON outbox (channel, user_id, id) "
    "WHERE status IN ('pending', 'sending')")
WAITING = (
    "CREATE INDEX IF NOT EXISTS inbound_waiting ON inbound_events (user_id, id) "
    "WHERE status = 'received'")


class Migration(migrations.Migration):
    dependencies = [('models', '0005_channels')]

    initial = False

    operations = [
        ops.RunSQL([UNFINISHED, WAITING],
                   reverse_sql=["DROP INDEX IF EXISTS outbox_unfinished",
                                "DROP INDEX IF EXISTS inbound_waiting"]),
    ]
