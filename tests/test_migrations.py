"""Migrations: ``orqo db upgrade`` / ``orqo init-db`` on fresh and existing databases, and
the migrations and the models describing the same schema."""
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from orqo import database
from orqo.extensions import db


def test_init_db_runs_the_migrations_on_a_fresh_database_and_again_safely(make_app):
    app = make_app(create_tables=False)
    runner = app.test_cli_runner()
    for _ in range(2):
        result = runner.invoke(args=["init-db"])
        assert result.exit_code == 0, result.output
    with app.app_context():
        assert database.current_revision() == database.head_revision()
    assert app.test_client().get("/readyz").json["status"] == "ready"


def test_db_upgrade_command_exists_and_is_idempotent(make_app):
    app = make_app(create_tables=False)
    runner = app.test_cli_runner()
    assert runner.invoke(args=["db", "upgrade"]).exit_code == 0
    assert runner.invoke(args=["db", "upgrade"]).exit_code == 0
    assert runner.invoke(args=["db", "current"]).exit_code == 0
    with app.app_context():
        assert database.current_revision() == database.head_revision()


def test_models_and_migrations_agree(make_app):
    app = make_app(create_tables=False)
    with app.app_context():
        database.upgrade()
        with db.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            diff = compare_metadata(context, db.metadata)
    assert diff == [], f"the models differ from the migrations: {diff}"


def test_readyz_is_503_when_migrations_are_not_current(make_app):
    app = make_app(create_tables=False)
    with app.app_context():
        db.create_all()  # tables, but no migration recorded
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.json["error"]["details"]["migrations"].startswith("at None")
