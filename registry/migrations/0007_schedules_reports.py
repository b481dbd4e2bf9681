"""Scheduled job runs (each fire claimed once), stored reports, the per-model degraded policy."""
from peewee import *


def up(migrator, db):
    class JobRun(Model):
        job = CharField(max_length=64)
        scheduled_for = BigIntegerField()
        worker = CharField(max_length=128)
        started_at = BigIntegerField()
        finished_at = BigIntegerField(null=True)
        outcome = CharField(max_length=16)
        error = TextField(null=True)
        summary = TextField()
        class Meta:
            database = db
            table_name = 'job_run'
            indexes = ((('job', 'scheduled_for'), True),)

    class Report(Model):
        created_at = BigIntegerField(index=True)
        period_start = BigIntegerField()
        period_end = BigIntegerField()
        trigger = CharField(max_length=16)
        actor = CharField(max_length=256)
        models = TextField(null=True)
        summary = TextField()
        body = TextField()
        class Meta:
            database = db
            table_name = 'report'
    db.create_tables([JobRun, Report])
    migrator.migrate(
        migrator.add_column('registered_model', 'on_degraded',
                            CharField(max_length=16, default='notify')))
