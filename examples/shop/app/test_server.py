"""Unit tests of the shop (standard library unittest; scripts/test.sh runs them).

A real server on a free 127.0.0.1 port in a thread, over a real migrated SQLite file.
"""

from __future__ import annotations

import json
import tempfile
import threading
import unittest
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, ClassVar

import server
import shopdb

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


class ShopTestCase(unittest.TestCase):
    environ: ClassVar[dict[str, str]] = {}

    def setUp(self) -> None:
        self.tmp = tempfile.TemporaryDirectory()
        self.db = Path(self.tmp.name) / "shop.db"
        shopdb.migrate(self.db, MIGRATIONS)
        env = {"DATABASE_PATH": str(self.db), "SHOP_VERSION": "7", "SHOP_QUIET": "1"}
        env.update(self.environ)
        self.server = server.make_server(server.Config(env), port=0)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def tearDown(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()
        self.tmp.cleanup()

    def get(self, path: str) -> tuple[int, Any]:
        url = f"http://127.0.0.1:{self.port}{path}"
        try:
            with urllib.request.urlopen(url, timeout=5) as reply:
                return reply.status, json.load(reply)
        except urllib.error.HTTPError as err:
            return err.code, json.load(err)


class EndpointTests(ShopTestCase):
    def test_health_reports_ok_and_version(self) -> None:
        self.assertEqual(self.get("/health"), (200, {"status": "ok", "version": "7"}))

    def test_version(self) -> None:
        self.assertEqual(self.get("/version"), (200, {"version": "7"}))

    def test_products_come_from_the_migrated_database(self) -> None:
        code, body = self.get("/api/products")
        self.assertEqual(code, 200)
        self.assertEqual([p["sku"] for p in body["products"]], ["MUG-001", "TEE-001", "BAG-001"])
        self.assertEqual(body["products"][0]["stock"], 10)

    def test_unconfigured_providers_are_degraded_not_unavailable(self) -> None:
        code, body = self.get("/api/health")
        self.assertEqual(code, 200)
        self.assertEqual(body["status"], "degraded")
        self.assertEqual(body["providers"]["database"], {"status": "healthy", "schema": "003"})
        self.assertEqual(body["providers"]["sentry"]["status"], "degraded")

    def test_unknown_path_is_404(self) -> None:
        self.assertEqual(self.get("/nope")[0], 404)


class ConfiguredTests(ShopTestCase):
    environ: ClassVar[dict[str, str]] = {
        name: f"planted-{name.lower()}" for names in server.PROVIDER_VARS.values() for name in names
    }

    def test_configured_providers_are_healthy_and_values_never_shown(self) -> None:
        code, body = self.get("/api/health")
        self.assertEqual((code, body["status"]), (200, "healthy"))
        self.assertNotIn("planted-", json.dumps(body))


class SimulatedOutageTests(ShopTestCase):
    environ: ClassVar[dict[str, str]] = {"SHOP_SIMULATE": "payments=unavailable"}

    def test_an_unavailable_provider_makes_api_health_503(self) -> None:
        code, body = self.get("/api/health")
        self.assertEqual(code, 503)
        self.assertEqual(body["status"], "unavailable")
        self.assertEqual(body["providers"]["payments"]["status"], "unavailable")


class MigrationTests(unittest.TestCase):
    def test_second_run_applies_nothing(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            db = Path(tmp) / "shop.db"
            first = shopdb.migrate(db, MIGRATIONS)
            second = shopdb.migrate(db, MIGRATIONS)
            self.assertEqual([m.version for m in first], ["001", "002", "003"])
            self.assertEqual(second, [])

    def test_a_failing_migration_leaves_no_trace(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp) / "migrations"
            folder.mkdir()
            (folder / "001_ok.sql").write_text("CREATE TABLE a (x INTEGER);")
            (folder / "002_bad.sql").write_text("CREATE TABLE b (x INTEGER); INSERT INTO nope;")
            db = Path(tmp) / "shop.db"
            with self.assertRaises(RuntimeError):
                shopdb.migrate(db, folder)
            conn = shopdb.connect(db)
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
            self.assertEqual(shopdb.applied_versions(conn), ["001"])
            conn.close()
            self.assertNotIn("b", tables)

    def test_misnamed_migration_is_refused(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / "1-init.sql").write_text("SELECT 1;")
            with self.assertRaises(ValueError):
                shopdb.discover(Path(tmp))


if __name__ == "__main__":
    unittest.main()
