"""Tsela: the application factory. It only wires things up: no queries, migrations or network calls."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from flask import Flask

from config import CONFIGS, role_problems

ROOT = Path(__file__).resolve().parent.parent

# Every blueprint, one per feature; each module exposes `bp`.
BLUEPRINTS = [
    "tip_cases.main",
    "tip_cases.auth",
    "tip_cases.admin",
    "tip_cases.cases.views",
    "tip_cases.reports.views",
    "screening.views",
    "screening.api",
    "screening.tracing_views",
    "screening.search_views",
    "screening.postsync_views",
    "notifications.views",
    "notifications.api",
]


def create_app(config_name: str | None = None, overrides: dict | None = None) -> Flask:
    config_name = config_name or os.environ.get("TSELA_CONFIG", "development")
    app = Flask(__name__, instance_relative_config=True, template_folder=str(ROOT / "templates"),
                static_folder=str(ROOT / "tip_cases" / "static"))
    config_class = CONFIGS[config_name]
    app.config.from_object(config_class)
    if overrides:
        app.config.update(overrides)
    _default_database(app)
    _instance_secret_key(app, config_name)
    config_class.validate(app.config)
    _check_role(app)

    register_extensions(app)
    register_models()
    register_blueprints(app)
    register_errors(app)
    register_cli(app)
    register_handlers(app)
    register_hooks(app)
    return app


def _check_role(app: Flask) -> None:
    problems = role_problems(app.config)
    if problems:
        raise RuntimeError("Refusing to start: " + "; ".join(problems))


def _default_database(app: Flask) -> None:
    if not app.config.get("SQLALCHEMY_DATABASE_URI"):
        Path(app.instance_path).mkdir(parents=True, exist_ok=True)
        app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite:///" + str(Path(app.instance_path) / "tsela.db")
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {
            k: v for k, v in app.config["SQLALCHEMY_ENGINE_OPTIONS"].items() if k != "pool_pre_ping"}
    elif app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql") and not app.config.get("POSTGRES_JIT"):
        # PostgreSQL's JIT compiles a plan whose estimated cost is high, and a plan over a decade's month
        # partitions is: a neighbour lookup that runs in 2 ms spent 16 s compiling 127 partition plans at
        # 20M crossings (docs/performance.md, session 10). Tsela's queries are short; statistics read rollups.
        options = dict(app.config["SQLALCHEMY_ENGINE_OPTIONS"])
        connect_args = dict(options.get("connect_args", {}))
        connect_args["options"] = (connect_args.get("options", "") + " -c jit=off").strip()
        options["connect_args"] = connect_args
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options


def _instance_secret_key(app: Flask, config_name: str) -> None:
    """Development without SECRET_KEY: a random key kept in the instance folder, so it is never the
    published default and survives restarts. Production must set SECRET_KEY (validate() checks)."""
    if config_name != "development" or os.environ.get("SECRET_KEY"):
        return
    import secrets

    path = Path(app.instance_path) / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    app.config["SECRET_KEY"] = path.read_text().strip()


def register_extensions(app: Flask) -> None:
    from tip_cases.extensions import bootstrap, csrf, db, keep_plans_across_requests, login_manager, migrate

    db.init_app(app)
    keep_plans_across_requests(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"))
    login_manager.init_app(app)
    csrf.init_app(app)
    bootstrap.init_app(app)
    from tip_cases.i18n import register as register_i18n

    register_i18n(app)


def register_models() -> None:
    """Import every models module so metadata is complete for Alembic and relationships resolve."""
    import notifications.models  # noqa: F401
    import screening.models  # noqa: F401
    import screening.postsync_models  # noqa: F401
    import screening.watchlist_models  # noqa: F401
    import tip_cases.cases.models  # noqa: F401
    import tip_cases.models  # noqa: F401
    import tip_cases.reports.models  # noqa: F401


def register_blueprints(app: Flask) -> None:
    import importlib

    from tip_cases.extensions import BoundedIntegerConverter

    app.url_map.converters["int"] = BoundedIntegerConverter  # before any rule is bound
    for name in BLUEPRINTS:
        app.register_blueprint(importlib.import_module(name).bp)


def register_errors(app: Flask) -> None:
    from tip_cases import errors

    errors.register(app)


def register_cli(app: Flask) -> None:
    from notifications.cli import register as register_notifications_cli
    from screening.cli import register as register_screening_cli
    from screening.postsync_cli import register as register_post_cli
    from screening.watchlist_cli import register as register_watchlist_cli
    from tip_cases.cases.retention import register_cli as register_retention_cli
    from tip_cases.cli import register as register_core_cli
    from tip_cases.reports.cli import register as register_reports_cli

    register_core_cli(app)
    register_screening_cli(app)
    register_watchlist_cli(app)
    register_post_cli(app)
    register_notifications_cli(app)
    register_reports_cli(app)
    register_retention_cli(app)


def register_handlers(app: Flask) -> None:
    """Packages answer the signals of the packages they build on and add their scheduler jobs, so that
    the shell imports no package, notifications never imports cases or screening, and screening never
    imports cases."""
    from notifications.handlers import register as register_notification_handlers
    from screening.handlers import register as register_screening_handlers
    from tip_cases.cases.handlers import register as register_case_handlers
    from tip_cases.cases.retention import register_jobs as register_retention_jobs

    register_notification_handlers(app)
    register_screening_handlers(app)
    register_case_handlers(app)
    register_retention_jobs(app)


def register_hooks(app: Flask) -> None:
    from tip_cases.limits import register as register_limits
    from tip_cases.ratelimits import register as register_rate_limits
    from tip_cases.security import register_security_headers

    register_limits(app)
    register_rate_limits(app)  # after register_blueprints: it wraps views by endpoint name

    register_security_headers(app)
    from tip_cases.assets import register as register_assets

    register_assets(app)
    from tip_cases.templating import register as register_templating

    register_templating(app)
    logging.getLogger("tsela").setLevel(app.config.get("LOG_LEVEL", "INFO"))
