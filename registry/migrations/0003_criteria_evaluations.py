"""Acceptance criteria history, stored evaluations, and the stage-revision index."""
from peewee import *


def up(migrator, db):
    class RegisteredModel(Model):
        class Meta:
            database = db
            table_name = 'registered_model'

    class ModelVersion(Model):
        class Meta:
            database = db
            table_name = 'model_version'

    class CriteriaRevision(Model):
        model = ForeignKeyField(RegisteredModel, on_delete='CASCADE')
        revision = IntegerField()
        stages = TextField()
        actor = CharField(max_length=256)
        created_at = BigIntegerField()
        class Meta:
            database = db
            table_name = 'criteria_revision'
            indexes = ((('model', 'revision'), True),)

    class Evaluation(Model):
        version = ForeignKeyField(ModelVersion, on_delete='CASCADE')
        stage = CharField(max_length=16)
        passed = BooleanField()
        results = TextField()
        baseline_version = IntegerField(null=True)
        criteria = TextField()
        criteria_revision = IntegerField(null=True)
        trigger = CharField(max_length=16)
        actor = CharField(max_length=256)
        evaluated_at = BigIntegerField()
        class Meta:
            database = db
            table_name = 'evaluation'
            indexes = ((('version', 'stage', 'id'), False),)
    db.create_tables([CriteriaRevision, Evaluation])
    # The newest move of a stage (its revision) is read on every production look-up.
    db.execute_sql('CREATE INDEX stage_move_model_id_stage_id ON stage_move (model_id, stage, id)')
