"""create_app(): configuration order, instance folder, database URLs."""
from orqo import create_app
from orqo.config import as_name_list
from orqo.extensions import normalise_database_url


def test_defaults_then_instance_file_then_environment_then_test_config(tmp_path, monkeypatch):
    monkeypatch.setenv("ORQO_INSTANCE_PATH", str(tmp_path))
    (tmp_path / "config.py").write_text("RETRY_AFTER_SECONDS = 7\nMAX_CONTENT_LENGTH = 1000\n"
                                        "DATABASE_CONNECT_TIMEOUT = 9\n")
    monkeypatch.setenv("ORQO_MAX_CONTENT_LENGTH", "2000")
    monkeypatch.setenv("ORQO_DATABASE_CONNECT_TIMEOUT", "8")
    app = create_app({"LOAD_ENTRYPOINTS": False, "DATABASE_CONNECT_TIMEOUT": 4})
    assert app.config["RETRY_AFTER_SECONDS"] == 7      # instance/config.py over the default
    assert app.config["MAX_CONTENT_LENGTH"] == 2000    # environment over instance/config.py
    assert app.config["DATABASE_CONNECT_TIMEOUT"] == 4  # test_config over everything


def test_sqlite_database_lives_in_the_instance_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("ORQO_INSTANCE_PATH", str(tmp_path / "inst"))
    monkeypatch.delenv("ORQO_DATABASE_URL", raising=False)
    app = create_app({"LOAD_ENTRYPOINTS": False})
    assert app.instance_path == str(tmp_path / "inst")
    assert (tmp_path / "inst").is_dir()
    with app.app_context():
        from orqo.extensions import db

        assert db.engine.url.database == str(tmp_path / "inst" / "orqo.sqlite3")


def test_database_url_from_environment_overrides_and_uses_psycopg(tmp_path, monkeypatch):
    monkeypatch.setenv("ORQO_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("ORQO_DATABASE_URL", "postgresql://orqo@db.example:5432/orqo")
    app = create_app({"LOAD_ENTRYPOINTS": False})
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://orqo@db.example:5432/orqo"
    assert app.config["SQLALCHEMY_ENGINE_OPTIONS"]["pool_pre_ping"] is True


def test_normalise_database_url_keeps_explicit_drivers_and_sqlite():
    assert normalise_database_url("sqlite:///x.db") == "sqlite:///x.db"
    assert normalise_database_url("postgresql+psycopg://u:p@h/d") == "postgresql+psycopg://u:p@h/d"
    assert normalise_database_url("postgres://u:p@h/d") == "postgresql+psycopg://u:p@h/d"


def test_disabled_plugins_accepts_lists_and_comma_strings():
    assert as_name_list("slack, telegram,,") == ["slack", "telegram"]
    assert as_name_list(["custom"]) == ["custom"]
    assert as_name_list(None) == []


def test_health_endpoints(app):
    client = app.test_client()
    assert client.get("/healthz").json == {"status": "ok"}
    ready = client.get("/readyz").json
    assert ready["status"] == "ready"
    assert ready["checks"] == {"database": "ok", "migrations": "ok", "plugins": "ok"}


def test_readyz_is_503_when_the_database_is_down(make_app):
    down = make_app(create_tables=False, DATABASE_URL="postgresql://x@127.0.0.1:1/none",
                    DATABASE_CONNECT_TIMEOUT=1)
    response = down.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.headers["Retry-After"]


def test_unknown_paths_get_the_json_error_shape(app):
    response = app.test_client().get("/no/such/page")
    assert response.status_code == 404
    assert set(response.json["error"]) == {"code", "message", "details"}
