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


def test_upgrading_keeps_every_row_that_refers_to_a_rebuilt_table(make_app):
    """SQLite rebuilds a table to alter it (copy, drop, rename): with foreign keys on, the DROP
    would delete the conversation entries of the messages table it rebuilds and clear the
    waitboxes' answers. Upgraded from the first schema, every row and reference is kept."""
    import flask_migrate
    from sqlalchemy import text

    from orqo.extensions import MIGRATIONS_DIR

    app = make_app(create_tables=False)
    now = "2026-11-29 10:00:00"
    rows = {
        "apps": "('app1', 'a', 'fake', '{}', '{}', true, NULL, NULL, :now)",
        "contacts": "(1, 'ada', :now)",
        "contact_channels": "(1, 1, 'app1', 'ada')",
        "deliveries": "(id, app_id, received_at, method, outcome, reason, status_code, "
                      "duration_ms, meta) VALUES "
                      "(1, 'app1', :now, 'POST', 'accepted', '', 200, 1.0, '{}')",
        "messages": "(id, delivery_id, app_id, platform, kind, dedupe_key, platform_message_id, "
                    "sender_id, chat_id, text, sent_at, attachments, extra, outcome, reason, "
                    "created_at) VALUES (1, 1, 'app1', 'fake', 'message', 'k1', 'k1', 'ada', "
                    "'ada', 'hi', 1.0, '[]', '{}', 'routed', '', :now)",
        "conversations": "(1, 'app1', 1, 'ada', '', :now)",
        "conversation_sessions": "(1, 1, :now, NULL)",
        "conversation_entries": "(1, 1, 1, 1, 'queued', NULL, NULL, NULL, 0, NULL, :now)",
        "waitboxes": "(1, 'app1', 1, NULL, 'r', 'answered', :now, :now, :now, 1)",
        "push_deliveries": "(1, 1, '{}', 'pending', 0, :now, NULL, '', :now, NULL)",
    }
    with app.app_context():
        flask_migrate.upgrade(directory=MIGRATIONS_DIR, revision="e530fe3dd128")
        for table, values in rows.items():
            values = values if "VALUES" in values else f"VALUES {values}"
            db.session.execute(text(f"INSERT INTO {table} {values}"), {"now": now})
        db.session.commit()
        database.upgrade()
        for table in rows:
            assert db.session.execute(text(f"SELECT count(*) FROM {table}")).scalar() == 1, table
        assert db.session.execute(text("SELECT message_id FROM waitboxes")).scalar() == 1
        assert db.session.execute(
            text("SELECT message_id FROM conversation_entries")).scalar() == 1
        if db.engine.dialect.name == "sqlite":
            tables = dict(db.session.execute(text(
                "SELECT name, sql FROM sqlite_master WHERE type = 'table'")).all())
            assert "AUTOINCREMENT" in tables["deliveries"]
            assert "AUTOINCREMENT" in tables["push_deliveries"]
            claim = db.session.execute(text(
                "SELECT sql FROM sqlite_master WHERE name = 'uq_messages_claim'")).scalar()
            assert "WHERE claimed" in claim
            assert db.session.execute(text("PRAGMA foreign_keys")).scalar() == 1


def test_an_id_is_never_handed_out_twice(make_app):
    """Deleting the newest rows does not free their ids (SQLite without AUTOINCREMENT reused
    them: two deliveries #17, two pushes ``push_4``)."""
    from sqlalchemy import text

    app = make_app(create_tables=False)
    now = "2026-11-29 10:00:00"
    with app.app_context():
        database.upgrade()
        db.session.execute(text("INSERT INTO apps (id, name, adapter, credentials, config, "
                                "route_to_doorkeeper, created_at) VALUES ('app1', 'a', 'fake', "
                                "'{}', '{}', true, :now)"), {"now": now})
        insert = text("INSERT INTO deliveries (app_id, received_at, method, outcome, reason, "
                      "status_code, duration_ms, meta) VALUES "
                      "('app1', :now, 'POST', 'accepted', '', 200, 1.0, '{}') RETURNING id")
        first = db.session.execute(insert, {"now": now}).scalar()
        second = db.session.execute(insert, {"now": now}).scalar()
        db.session.execute(text("DELETE FROM deliveries WHERE id = :id"), {"id": second})
        db.session.commit()
        third = db.session.execute(insert, {"now": now}).scalar()
        db.session.commit()
    assert first < second < third
