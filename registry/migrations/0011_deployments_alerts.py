"""Deployments and alerts: targets reporting what they serve, convergence on each history row,
once-per-move lagging notices, alerts handled once, the per-model alert policy."""
from peewee import *


def up(migrator, db):
    class RegisteredModel(Model):
        class Meta:
            database = db
            table_name = 'registered_model'

    class StageMove(Model):
        class Meta:
            database = db
            table_name = 'stage_move'

    class DeploymentTarget(Model):
        model = ForeignKeyField(RegisteredModel, on_delete='CASCADE')
        target = CharField(max_length=128)
        stage = CharField(max_length=40)
        version = IntegerField(null=True)
        state = CharField(max_length=16)
        detail = TextField(null=True)
        since = BigIntegerField()
        last_seen = BigIntegerField()
        reported_by = CharField(max_length=256)
        class Meta:
            database = db
            table_name = 'deployment_target'
            indexes = ((('model', 'target'), True),)

    class DeploymentNotice(Model):
        move = ForeignKeyField(StageMove, on_delete='CASCADE')
        target = CharField(max_length=128)
        at = BigIntegerField()
        class Meta:
            database = db
            table_name = 'deployment_notice'
            indexes = ((('move', 'target'), True),)

    class AlertReceipt(Model):
        model = ForeignKeyField(RegisteredModel, on_delete='CASCADE')
        name = CharField(max_length=256)
        fingerprint = CharField(max_length=256)
        starts_at = CharField(max_length=64)
        status = CharField(max_length=16)
        at = BigIntegerField()
        class Meta:
            database = db
            table_name = 'alert_receipt'
            indexes = ((('model', 'fingerprint', 'starts_at', 'status'), True),)

    db.create_tables([DeploymentTarget, DeploymentNotice, AlertReceipt])
    migrator.migrate(  # nullable columns: SQLite adds them without rebuilding the tables
        migrator.add_column('stage_move', 'converged_at', BigIntegerField(null=True)),
        migrator.add_column('registered_model', 'on_alert', CharField(max_length=16, null=True)))
