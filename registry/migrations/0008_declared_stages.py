"""Declared stages: per-model stage declarations, the holder relation (one row per held stage,
unique per model and stage), stage names up to 40 characters, events and webhook subscriptions
that know their stage. Today's staging and production holders become holder rows."""
from peewee import *

STAGE_EVENTS = ("model.promoted", "model.rolled_back", "production.degraded")


def up(migrator, db):
    class RegisteredModel(Model):
        class Meta:
            database = db
            table_name = 'registered_model'

    class ModelVersion(Model):
        class Meta:
            database = db
            table_name = 'model_version'

    class ModelStage(Model):
        model = ForeignKeyField(RegisteredModel, on_delete='CASCADE')
        name = CharField(max_length=40)
        description = TextField(default='')
        requires_admin = BooleanField(default=False)
        on_degraded = CharField(max_length=16, null=True)
        created_at = BigIntegerField()
        class Meta:
            database = db
            table_name = 'model_stage'
            indexes = ((('model', 'name'), True),)

    class StageHolder(Model):
        model = ForeignKeyField(RegisteredModel, on_delete='CASCADE')
        stage = CharField(max_length=40)
        version = ForeignKeyField(ModelVersion)
        since = BigIntegerField()
        class Meta:
            database = db
            table_name = 'stage_holder'
            indexes = ((('model', 'stage'), True),)

    db.create_tables([ModelStage, StageHolder])
    db.execute_sql(
        "INSERT INTO stage_holder (model_id, stage, version_id, since) "
        "SELECT model_id, stage, id, COALESCE(stage_since, updated_at) FROM model_version "
        "WHERE stage IN ('staging', 'production') ORDER BY id")
    postgres = isinstance(db, PostgresqlDatabase)
    if postgres:  # SQLite does not enforce a VARCHAR's length
        for table in ('stage_move', 'evaluation'):
            db.execute_sql(f'ALTER TABLE {table} ALTER COLUMN stage TYPE VARCHAR(40)')
    migrator.migrate(
        migrator.add_column('event', 'stage', CharField(max_length=40, null=True)),
        migrator.add_index('event', ('stage', 'seq'), False),
        migrator.add_column('webhook_subscription', 'stages', TextField(null=True)))
    stage_of = "(data::json)->>'stage'" if postgres else "json_extract(data, '$.stage')"
    types = ", ".join(f"'{name}'" for name in STAGE_EVENTS)
    db.execute_sql(f"UPDATE event SET stage = {stage_of} WHERE type IN ({types})")
