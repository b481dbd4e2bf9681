"""Version files: each version's manifest of paths pointing at content-addressed blobs."""
from peewee import *


def up(migrator, db):
    class ModelVersion(Model):
        class Meta:
            database = db
            table_name = 'model_version'

    class VersionFile(Model):
        version = ForeignKeyField(ModelVersion, on_delete='CASCADE')
        path = CharField(max_length=1024)
        size = BigIntegerField()
        sha256 = CharField(index=True, max_length=64)
        created_at = BigIntegerField()
        class Meta:
            database = db
            table_name = 'version_file'
            indexes = ((('version', 'path'), True),)
    db.create_tables([VersionFile])
