"""The ASGI application: routes, lifespan (store, group-commit writer, keys) and errors.

Hot paths (``/v1/events``, ``/p.gif``) are plain ASGI callables found by one dict lookup.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import signal
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from convtrack import __version__
from convtrack.asgi import Handler, Receive, Scope, Send, only, send_error, send_json
from convtrack.collect.auth import KeyRing
from convtrack.collect.ecapi import PATH as ECAPI_PATH
from convtrack.collect.ecapi import EcapiEndpoint
from convtrack.collect.events_api import EventsEndpoint
from convtrack.collect.links import PREFIX as LINK_PREFIX
from convtrack.collect.links import LinkEndpoint
from convtrack.collect.pixel import PixelEndpoint
from convtrack.collect.segment import SegmentEndpoint
from convtrack.collect.skan import PATH as SKAN_PATH
from convtrack.collect.skan import SkanEndpoint
from convtrack.collect.snowplow import SnowplowEndpoint
from convtrack.config import Settings, load_settings
from convtrack.enrich.privacy import ConsentGate
from convtrack.errors import ConvtrackError
from convtrack.forward import enabled as forward_enabled
from convtrack.forward import service as forward_service
from convtrack.forward.enabled import Enabled
from convtrack.forward.policy import WorkerOptions
from convtrack.forward.routing import Router
from convtrack.forward.worker import Forwarder
from convtrack.identity.records import StitchPolicy
from convtrack.plan import PlanError
from convtrack.plan.active import ActivePlan, problem_lines
from convtrack.privacy import retention
from convtrack.qa import alerts as qa_alerts
from convtrack.store import EventStore
from convtrack.store.process import StoreProcess, die_with_parent
from convtrack.store.writer import Writer
from convtrack.web.admin import AdminApi
from convtrack.web.conversions_api import ConversionsEndpoint
from convtrack.web.dashboard import Dashboard, uses_session
from convtrack.web.debug_api import DebugEvents
from convtrack.web.links_api import PATH as LINKS_API_PATH
from convtrack.web.links_api import LinksApi
from convtrack.web.openapi import PATH as OPENAPI_PATH
from convtrack.web.openapi import OpenApiEndpoint, served_paths
from convtrack.web.outbox_api import OutboxApi
from convtrack.web.pages import demo_routes
from convtrack.web.privacy_api import PrivacyApi
from convtrack.web.qa_api import QaApi
from convtrack.web.quarantine_api import quarantine_api
from convtrack.web.reports_api import AttributionEndpoint
from convtrack.web.session import DashboardAuth
from convtrack.web.tag import TagScript

log = logging.getLogger("convtrack.server")
NOT_FOUND = ConvtrackError("not_found", "No such endpoint; see docs/api.md.", 404)


def admin_token(data_dir: Path) -> str:
    """The operator token in <data_dir>/admin.token (created with mode 0600 if missing)."""
    path = data_dir / "admin.token"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(32))
    return path.read_text().strip()


@dataclass
class Runtime:
    """Everything that lives from start-up to shutdown."""

    settings: Settings
    store: EventStore
    writer: Writer
    keys: KeyRing
    plan: ActivePlan
    routes: dict[str, Handler] = field(default_factory=dict)
    destinations: dict[str, Enabled] = field(default_factory=dict)  # forwarding, by name

    @classmethod
    def start(cls, settings: Settings) -> Runtime:
        plan = ActivePlan.load(settings.plan)  # first: a bad plan starts nothing
        log.info("tracking plan %s (%s)", plan.version, plan.file or "default plan")
        destinations = forward_enabled.configure(settings)  # so are missing credentials
        process = StoreProcess(
            settings.store_url,
            writer_options={
                "max_events": settings.commit_max_events,
                "interval": settings.commit_interval_ms / 1000,
                "queue_max_events": settings.queue_max_events,
            },
            queue_max_events=settings.queue_max_events,
        )
        store = process.store
        applied = store.migrate()
        if applied:
            log.info("applied migrations: %s", ", ".join(applied))
        store.configure_identity(StitchPolicy.from_settings(settings), settings.identity_stitching)
        # a shared store: keys made or revoked through another collector arrive within 5 s
        shared = not settings.store_url.startswith("duckdb:")
        keys = KeyRing(store, max_age=5.0 if shared else None)
        rt = cls(settings, store, process.writer, keys, plan, destinations=destinations)
        rt.routes = rt._build_routes()
        return rt

    def _build_routes(self) -> dict[str, Handler]:
        gate = ConsentGate(self.settings)  # one consent policy (and decision cache) per start
        router = Router({name: e.destination for name, e in self.destinations.items()})
        events = EventsEndpoint(self.settings, self.keys, self.writer, self.plan, gate, router)
        pixel = PixelEndpoint(self.settings, self.keys, self.writer, self.plan, gate, router)
        self.pixel = pixel
        token = admin_token(self.settings.data_dir)
        self.auth = DashboardAuth(self.settings.dashboard_secret or token, token, self.store)
        self.alerter = qa_alerts.Alerter.from_settings(self.settings, self.store)  # in the store
        attribution = self._attribution_endpoint()
        return {
            "/v1/events": events,
            "/p.gif": pixel,
            "/p": pixel,
            **SegmentEndpoint(events.pipeline, self.keys).routes(),
            **SnowplowEndpoint(events.pipeline, self.keys).routes(),
            ECAPI_PATH: EcapiEndpoint(events.pipeline, self.keys),
            SKAN_PATH: SkanEndpoint(self.store, self.writer, self.settings.trust_forwarded_for),
            LINK_PREFIX: LinkEndpoint(events.pipeline, self.store),  # GET /c/<link_id>
            LINKS_API_PATH: LinksApi(self.store, admin_token(self.settings.data_dir)),
            "/t.js": TagScript.load(),
            "/v1/reports/attribution": attribution,
            "/v1/reports/attribution/credits": attribution,
            "/v1/reports/conversions": ConversionsEndpoint(
                self.store,
                lambda: self.plan.compiled,
                self.settings.default_currency,
                self.auth.authorise,
            ),
            "/v1/debug/events": DebugEvents(self.store, self.auth.authorise),
            **QaApi(
                self.store, token, self.alerter, self._writer_stats, lambda: self.plan.compiled
            ).routes(),
            "/healthz": self._healthz,
            "/readyz": self._readyz,
            **PrivacyApi(self.store, self.keys, admin_token(self.settings.data_dir)).routes(),
            **OutboxApi(self.store, self.settings, admin_token(self.settings.data_dir)).routes(),
            **demo_routes(),
            **Dashboard(self.auth, self.settings.trust_forwarded_for).routes(),
            # built at its first request, from this table and the operator API's
            OPENAPI_PATH: OpenApiEndpoint(lambda: served_paths(self.routes, self.admin())),
        }

    def _attribution_endpoint(self) -> AttributionEndpoint:
        return AttributionEndpoint(
            self.store,
            lambda: self.plan.compiled,
            self.settings.default_currency,
            self.auth.authorise,  # the admin token, or a dashboard session
        )

    def admin(self) -> AdminApi:
        return AdminApi(
            self.store,
            admin_token(self.settings.data_dir),
            self.keys.reload,
            self.status,
            self.plan,
            quarantine=quarantine_api(self.store, lambda: self.plan.compiled, self.settings),
            purge=self.purge,
        )

    def purge(self, dry_run: bool) -> dict[str, Any]:
        """Apply the retention settings now (``convtrack privacy purge``)."""
        policy = retention.Retention.from_settings(self.settings)
        return retention.purge(self.store, policy, dry_run=dry_run)

    async def reload_plan(self, trigger: str) -> None:
        """Reload the tracking plan off the event loop; a bad plan is logged and refused."""
        with contextlib.suppress(PlanError):
            await asyncio.to_thread(self.plan.reload, trigger)

    def _writer_stats(self) -> dict[str, Any]:
        s = self.writer.stats
        return {"events_committed": s.events_committed, "events_new": s.events_new}

    def status(self) -> dict[str, Any]:
        s = self.writer.stats
        return {
            "store": _redact(self.store.url),
            "schema_version": self.store.schema_version(),
            "queue_pending": self.writer.pending,
            "commits": s.commits,
            "events_committed": s.events_committed,
            "events_new": s.events_new,
            "rejected": s.rejected,
            "commit_failures": s.failures,
            "last_commit_ms": round(s.last_commit_ms, 3),
            "events_by_source": dict(s.by_source),
            "pixel_dropped": dict(self.pixel.dropped),
            "forwarding": forward_service.status(self.store, self.settings),
        }

    async def _healthz(self, scope: Scope, receive: Receive, send: Send) -> None:
        only(scope, "GET, HEAD")
        await send_json(send, 200, {"status": "ok", "version": __version__})

    async def _readyz(self, scope: Scope, receive: Receive, send: Send) -> None:
        only(scope, "GET, HEAD")
        w = self.writer
        if not w.healthy:
            raise ConvtrackError("not_ready", "The store process is gone; see the log.", 503)
        if w.pending >= 0.9 * w.queue_max_events:
            raise ConvtrackError(
                "not_ready", "The write queue is nearly full.", 503, headers={"retry-after": "1"}
            )
        if w.stats.failures and w.stats.last_error and w.stats.commits == 0:
            raise ConvtrackError("not_ready", "The store is failing commits; see the log.", 503)
        await send_json(send, 200, {"status": "ready", "queue_pending": w.pending})

    def stop(self) -> None:
        self.writer.stop()
        self.store.close()


def _redact(url: str) -> str:
    """Never show a password embedded in a store URL."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.rsplit('@', 1)[1]}"
    return url


class App:
    """The ASGI callable. ``App(settings)`` starts everything in its lifespan."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.runtime: Runtime | None = None
        self._admin: AdminApi | None = None
        self._reloads: set[asyncio.Task[None]] = set()
        self._retention: asyncio.Task[None] | None = None
        self._forwarder: Forwarder | None = None
        self._alerts: asyncio.Task[None] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        rt = self.runtime
        if rt is None:
            await send_error(
                send,
                ConvtrackError(
                    "starting", "Starting up; retry.", 503, headers={"retry-after": "1"}
                ),
            )
            return
        path = scope["path"]
        handler = rt.routes.get(path)
        if handler is None and path.startswith(LINK_PREFIX):  # click links: /c/<link_id>
            handler = rt.routes[LINK_PREFIX]
        if handler is None and path.startswith("/v1/admin/") and self._admin is not None:
            handler = self._admin
        try:
            if handler is None:
                raise NOT_FOUND
            if uses_session(path):  # its session cookie, looked up off the event loop
                scope = await rt.auth.resolve(scope)
            if path.startswith("/v1/qa/"):  # the QA APIs take the admin token; so does a session
                scope = rt.auth.bridge(scope)
            await handler(scope, receive, send)
        except ConvtrackError as err:
            await send_error(send, err)
        except Exception:
            log.exception("unhandled error on %s %s", scope["method"], path)
            await send_error(
                send,
                ConvtrackError(
                    "internal_error", "Something went wrong on our side; nothing was stored.", 500
                ),
            )

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    self.runtime = Runtime.start(self.settings)
                    self._admin = self.runtime.admin()
                except PlanError as exc:
                    lines = "\n".join(problem_lines(exc))
                    log.error("start-up failed: the tracking plan has problems:\n%s", lines)
                    await send({"type": "lifespan.startup.failed", "message": lines})
                    return
                except Exception as exc:
                    log.exception("start-up failed")
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                self._watch_sighup(True)
                self._start_retention()
                self._start_forwarding()
                self._start_alerts()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self._watch_sighup(False)
                if self._retention is not None:
                    self._retention.cancel()
                if self._alerts is not None:
                    self._alerts.cancel()
                if self._forwarder is not None:
                    await self._forwarder.stop()
                if self.runtime is not None:
                    self.runtime.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return

    def _start_retention(self) -> None:
        """Purge and expire raw IPs in the background when a retention setting asks for it."""
        policy = retention.Retention.from_settings(self.settings)
        if self.runtime is not None and policy.active:
            self._retention = asyncio.ensure_future(
                retention.run_forever(self.runtime.store, policy)
            )

    def _start_alerts(self) -> None:
        """Check the alert conditions every ``alert_interval_minutes`` (docs/qa.md)."""
        rt = self.runtime
        if rt is not None and self.settings.alert_interval_minutes > 0:
            self._alerts = asyncio.ensure_future(qa_alerts.run_forever(rt.alerter, self.settings))

    def _start_forwarding(self) -> None:
        """The delivery workers of the enabled destinations (unless ``forward_in_serve`` is
        off: then ``convtrack forward`` runs them)."""
        rt = self.runtime
        if rt is not None and rt.destinations and self.settings.forward_in_serve:
            options = WorkerOptions.from_settings(self.settings)
            self._forwarder = Forwarder(rt.store, rt.destinations, options)
            self._forwarder.start()

    def _watch_sighup(self, on: bool) -> None:
        """SIGHUP reloads the tracking plan (``convtrack serve`` forwards it to its worker)."""
        loop = asyncio.get_running_loop()
        try:
            if on:
                loop.add_signal_handler(signal.SIGHUP, self._on_sighup)
            else:
                loop.remove_signal_handler(signal.SIGHUP)
        except (NotImplementedError, RuntimeError, ValueError):  # no signals off the main thread
            log.debug("SIGHUP cannot reload the plan in this process")

    def _on_sighup(self) -> None:
        if self.runtime is None:
            return
        task = asyncio.ensure_future(self.runtime.reload_plan("SIGHUP"))
        self._reloads.add(task)  # keep a reference until it is done
        task.add_done_callback(self._reloads.discard)


def app_from_env() -> App:
    """Factory for the server's worker process: settings come from CONVTRACK_* variables."""
    die_with_parent()
    settings = load_settings()
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    return App(settings)
