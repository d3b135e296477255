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


def test_the_dedupe_claims_move_onto_their_messages(make_app):
    """Upgrading a database of the first schema keeps what was claimed: the claimed message
    of each (App, dedupe key) becomes the one ``claimed`` row the unique index allows."""
    import flask_migrate
    import pytest
    from sqlalchemy import text
    from sqlalchemy.exc import IntegrityError

    from orqo.extensions import MIGRATIONS_DIR

    app = make_app(create_tables=False)
    with app.app_context():
        flask_migrate.upgrade(directory=MIGRATIONS_DIR, revision="e530fe3dd128")
        now = "2026-11-29 10:00:00"
        statements = [
            "INSERT INTO apps (id, name, adapter, credentials, config, route_to_doorkeeper, "
            "created_at) VALUES ('app1', 'a', 'fake', '{}', '{}', true, :now)",
            "INSERT INTO deliveries (id, app_id, received_at, method, outcome, reason, "
            "status_code, duration_ms, meta) VALUES (1, 'app1', :now, 'POST', 'accepted', '', "
            "200, 1.0, '{}')",
        ]
        for message_id, outcome in ((1, "routed"), (2, "duplicate")):
            statements.append(
                "INSERT INTO messages (id, delivery_id, app_id, platform, kind, dedupe_key, "
                "platform_message_id, sender_id, chat_id, text, sent_at, attachments, extra, "
                "outcome, reason, created_at) VALUES "
                f"({message_id}, 1, 'app1', 'fake', 'message', 'k1', 'k1', 'ada', 'ada', 'hi', "
                f"1.0, '[]', '{{}}', '{outcome}', '', :now)")
        statements.append("INSERT INTO dedupe_claims (app_id, dedupe_key, message_id, claimed_at) "
                          "VALUES ('app1', 'k1', 1, :now)")
        for statement in statements:
            db.session.execute(text(statement), {"now": now})
        db.session.commit()
        database.upgrade()
        claimed = db.session.execute(text("SELECT id, claimed FROM messages ORDER BY id")).all()
        assert [(row[0], bool(row[1])) for row in claimed] == [(1, True), (2, False)]
        with pytest.raises(IntegrityError):
            db.session.execute(text("UPDATE messages SET claimed = true WHERE id = 2"))
        db.session.rollback()
