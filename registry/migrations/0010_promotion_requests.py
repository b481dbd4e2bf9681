"""Promotion requests and approvals: per-model approval policies, token subjects, the requests
with the evidence they were made with, and one approval per subject."""
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

    class PromotionRequest(Model):
        model = ForeignKeyField(RegisteredModel, on_delete='CASCADE')
        version = ForeignKeyField(ModelVersion, on_delete='CASCADE')
        stage = CharField(max_length=40)
        status = CharField(max_length=16)
        requested_by = CharField(max_length=256)
        requester_subject = CharField(max_length=256)
        reason = TextField()
        evaluation = TextField()
        required = IntegerField()
        expected_current_version = IntegerField(null=True)
        created_at = BigIntegerField()
        expires_at = BigIntegerField()
        decided_at = BigIntegerField(null=True)
        decided_by = CharField(max_length=256, null=True)
        comment = TextField(null=True)
        class Meta:
            database = db
            table_name = 'promotion_request'
            indexes = ((('model', 'status', 'id'), False), (('status', 'expires_at'), False))

    class Approval(Model):
        request = ForeignKeyField(PromotionRequest, on_delete='CASCADE')
        subject = CharField(max_length=256)
        actor = CharField(max_length=256)
        comment = TextField(null=True)
        at = BigIntegerField()
        class Meta:
            database = db
            table_name = 'approval'
            indexes = ((('request', 'subject'), True),)

    db.create_tables([PromotionRequest, Approval])
    migrator.migrate(
        # nullable: a NOT NULL column makes SQLite's migrator rebuild the table, and dropping
        # the old registered_model would cascade to every row that refers to it
        migrator.add_column('registered_model', 'approvals', TextField(null=True)),
        migrator.add_column('api_token', 'subject', CharField(max_length=256, null=True)))
