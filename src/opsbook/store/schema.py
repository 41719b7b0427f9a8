"""Every table of opsbook's own store, in one place (SQLAlchemy Core).

Names carry an ``opsbook_`` prefix so the store can share a PostgreSQL database with the app.
Times are UNIX seconds (float): lease arithmetic is the same on both backends.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

schema_version = Table(
    "opsbook_schema",
    metadata,
    Column("version", Integer, primary_key=True),
    Column("applied_at", Float, nullable=False),
    Column("description", String(200), nullable=False),
)

runs = Table(
    "opsbook_runs",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("project", String(200), nullable=False),
    Column("runbook", String(200), nullable=False),
    Column("environment", String(200), nullable=False),
    Column("params", JSON, nullable=False),
    Column("status", String(30), nullable=False),
    Column("operator", String(200), nullable=False),
    Column("git_sha", String(64)),
    Column("spec_path", Text, nullable=False),
    Column("spec_text", Text, nullable=False),
    Column("spec_sha256", String(64), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("started_at", Float),
    Column("finished_at", Float),
    Column("updated_at", Float, nullable=False),
    Column("lease_owner", String(100)),
    Column("lease_expires_at", Float),
    Column("lock_key", String(200)),
    Column("leased_at", Float),  # when the current holder took the lease (database clock)
    Column("error", Text),
    Column("summary", JSON),
    # One active run per environment: lock_key holds the environment while a run that changes
    # things is active and is NULL otherwise; NULLs never collide in a unique index.
    UniqueConstraint("project", "lock_key", name="opsbook_one_active_run_per_environment"),
)
Index("opsbook_runs_status", runs.c.status)
Index("opsbook_runs_env", runs.c.project, runs.c.environment, runs.c.created_at)

steps = Table(
    "opsbook_steps",
    metadata,
    Column("run_id", String(40), ForeignKey("opsbook_runs.id"), primary_key=True),
    Column("step_id", String(200), primary_key=True),
    Column("status", String(30), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("started_at", Float),
    Column("finished_at", Float),
    Column("wake_at", Float),
    Column("outputs", JSON),
    Column("result", JSON),
    Column("owner", String(100)),
)

attempts = Table(
    "opsbook_attempts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(40), ForeignKey("opsbook_runs.id"), nullable=False),
    Column("step_id", String(200), nullable=False),
    Column("phase", String(20), nullable=False),  # execute | rollback
    Column("attempt", Integer, nullable=False),
    Column("status", String(30), nullable=False),
    Column("started_at", Float, nullable=False),
    Column("finished_at", Float),
    Column("exit_code", Integer),
    Column("output", Text),
    Column("message", Text),
    Column("owner", String(100), nullable=False),
    Column("pgid", Integer),  # migration 2: the step's process group, its host and boot id
    Column("host", String(200)),
    Column("boot_id", String(64)),
    UniqueConstraint("run_id", "step_id", "phase", "attempt", name="opsbook_attempt_once"),
)

approvals = Table(
    "opsbook_approvals",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(40), ForeignKey("opsbook_runs.id"), nullable=False),
    Column("step_id", String(200), nullable=False),
    Column("decision", String(20), nullable=False),  # approved | rejected
    Column("operator", String(200), nullable=False),
    Column("note", Text),
    Column("evidence", JSON),
    Column("created_at", Float, nullable=False),
    Column("via", String(20)),  # migration 2: human | yes (auto-approved) | ssh (signed)
    Column("signature", Text),  # migration 2: ssh-keygen -Y sign of the approval statement
    UniqueConstraint("run_id", "step_id", name="opsbook_one_decision_per_gate"),
)

events = Table(
    "opsbook_events",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("run_id", String(40)),
    Column("step_id", String(200)),
    Column("type", String(60), nullable=False),
    Column("at", Float, nullable=False),
    Column("actor", String(200), nullable=False),
    Column("data", Text, nullable=False),  # canonical JSON; hashed as stored
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Column("mac", String(64)),  # HMAC of hash with OPSBOOK_AUDIT_KEY (migration 2)
)
Index("opsbook_events_run", events.c.run_id, events.c.seq)

chain = Table(
    "opsbook_chain",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("head_seq", Integer, nullable=False),
    Column("head_hash", String(64), nullable=False),
)

# --- serve: API tokens, dashboard users and sessions, single-use approval links (migration 8)

tokens = Table(
    "opsbook_tokens",
    metadata,
    Column("id", String(40), primary_key=True),  # the public part of the token
    Column("name", String(200), nullable=False, unique=True),
    Column("role", String(20), nullable=False),
    Column("secret_sha256", String(64), nullable=False),  # the token itself is never stored
    Column("created_at", Float, nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("revoked_at", Float),
    Column("last_used_at", Float),
)

users = Table(
    "opsbook_users",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("role", String(20), nullable=False),
    Column("password_hash", String(300), nullable=False),  # scrypt$n$r$p$salt$hash
    Column("created_at", Float, nullable=False),
    Column("failed_logins", Integer, nullable=False, default=0),
    Column("locked_until", Float),
)

sessions = Table(
    "opsbook_sessions",
    metadata,
    Column("id_sha256", String(64), primary_key=True),  # the cookie is never stored
    Column("user_name", String(200), ForeignKey("opsbook_users.name"), nullable=False),
    Column("csrf", String(64), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
)

link_uses = Table(
    "opsbook_link_uses",
    metadata,
    Column("nonce", String(64), primary_key=True),  # a signed approval link, once used
    Column("used_at", Float, nullable=False),
)

keys = Table(
    "opsbook_keys",
    metadata,
    Column("name", String(60), primary_key=True),
    Column("value", String(200), nullable=False),  # random; signs approval links
)

# Monitoring (migration 5): alert instances, the notification outbox and its groups, silences,
# leases of periodic work (watch ticks) and stored samples (anomaly baselines, check SLIs).
alert_instances = Table(
    "opsbook_alerts",
    metadata,
    Column("project", String(200), primary_key=True),
    Column("alert", String(200), primary_key=True),
    Column("fingerprint", String(64), primary_key=True),
    Column("labels", JSON, nullable=False),
    Column("annotations", JSON, nullable=False),
    Column("origin", String(20), nullable=False),  # rule | slo | intake
    Column("state", String(20), nullable=False),  # inactive | pending | firing
    Column("value", Float),
    Column("nodata", Integer, nullable=False, default=0),
    Column("active_at", Float),
    Column("firing_since", Float),
    Column("resolved_at", Float),
    Column("last_true_at", Float),
    Column("evaluated_at", Float),
    Column("ends_at", Float),
    # An anomaly alert's band at its last evaluation (migration 9); null for other alerts.
    Column("band_low", Float),
    Column("band_high", Float),
)

outbox = Table(
    "opsbook_outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("project", String(200), nullable=False),
    Column("receiver", String(200), nullable=False),
    Column("group_key", Text, nullable=False),
    Column("dedup_key", String(64), nullable=False),
    Column("payload", Text, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("sent_at", Float),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_try_at", Float, nullable=False),
    Column("lease_owner", String(100)),
    Column("lease_expires_at", Float),
    Column("last_error", Text),
    UniqueConstraint("project", "receiver", "dedup_key", name="opsbook_outbox_once"),
)
Index("opsbook_outbox_pending", outbox.c.project, outbox.c.receiver, outbox.c.sent_at, outbox.c.id)

notify_groups = Table(
    "opsbook_notify_groups",
    metadata,
    Column("project", String(200), primary_key=True),
    Column("receiver", String(200), primary_key=True),
    Column("group_key", String(500), primary_key=True),
    Column("first_at", Float, nullable=False),
    Column("last_sent_at", Float),
    Column("digest", String(64)),
    Column("seq", Integer, nullable=False, default=0),
)

silences = Table(
    "opsbook_silences",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("project", String(200), nullable=False),
    Column("matchers", JSON, nullable=False),
    Column("starts_at", Float, nullable=False),
    Column("ends_at", Float, nullable=False),
    Column("author", String(200), nullable=False),
    Column("comment", Text, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expired_at", Float),
)

leases = Table(
    "opsbook_leases",
    metadata,
    Column("name", String(300), primary_key=True),
    Column("owner", String(100)),
    Column("expires_at", Float),
    Column("last_done", Float),
)

samples = Table(
    "opsbook_samples",
    metadata,
    Column("project", String(200), primary_key=True),
    Column("series", String(500), primary_key=True),
    Column("at", Float, primary_key=True),
    Column("value", Float, nullable=False),
)
# Feature flags (migration 7): the live state of each flag of a project, and every change to it.
# The change rows repeat what the flag_changed event in the chain holds, keyed for `flag history`.
flag_states = Table(
    "opsbook_flag_states",
    metadata,
    Column("project", String(200), primary_key=True),
    Column("key", String(100), primary_key=True),
    Column("enabled", Integer, nullable=False),  # 0/1: one type on both backends
    Column("percent", Integer, nullable=False),
    Column("overrides", JSON, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("updated_by", String(200), nullable=False),
    Column("reason", Text, nullable=False),
)

flag_changes = Table(
    "opsbook_flag_changes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("project", String(200), nullable=False),
    Column("key", String(100), nullable=False),
    Column("at", Float, nullable=False),
    Column("actor", String(200), nullable=False),
    Column("reason", Text, nullable=False),
    Column("before", JSON, nullable=False),
    Column("after", JSON, nullable=False),
    Column("run_id", String(40)),
    Column("step_id", String(200)),
    Column("event_seq", Integer, nullable=False),
)
Index("opsbook_flag_changes_key", flag_changes.c.project, flag_changes.c.key, flag_changes.c.id)

# Incidents (migration 6). An incident's open_key holds its alert group key while it is open and
# is NULL otherwise, so a unique index deduplicates alerts the way lock_key does runs.
incidents = Table(
    "opsbook_incidents",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("project", String(200), nullable=False),
    Column("number", Integer, nullable=False),
    Column("title", Text, nullable=False),
    Column("severity", String(60), nullable=False),
    Column("status", String(30), nullable=False),
    Column("source", String(30), nullable=False),  # manual | alert
    Column("group_key", Text),
    Column("open_key", String(400)),
    Column("alert", JSON),
    Column("opened_by", String(200), nullable=False),
    Column("opened_at", Float, nullable=False),
    Column("due_at", Float),
    Column("acked_at", Float),
    Column("acked_by", String(200)),
    Column("mitigated_at", Float),
    Column("resolved_at", Float),
    Column("breached_at", Float),
    Column("mitigation_run", String(40)),
    UniqueConstraint("project", "number", name="opsbook_incident_number"),
    UniqueConstraint("project", "open_key", name="opsbook_one_open_incident_per_alert_group"),
)
Index("opsbook_incidents_status", incidents.c.project, incidents.c.status)

# One row per page sent: the unique key makes a page at most once however many watchers run.
incident_pages = Table(
    "opsbook_incident_pages",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("incident_id", String(40), ForeignKey("opsbook_incidents.id"), nullable=False),
    Column("key", String(60), nullable=False),  # L<round>.<level>, breach, manual.<n>
    Column("target", String(200), nullable=False),  # the person paged
    Column("via", String(200), nullable=False),  # the escalation target that named them
    Column("receivers", JSON, nullable=False),
    Column("due_at", Float, nullable=False),
    Column("sent_at", Float, nullable=False),
    Column("owner", String(100), nullable=False),
    UniqueConstraint("incident_id", "key", "target", name="opsbook_page_once"),
)

# A cron schedule's due time is claimed once: two watchers never run it twice.
schedule_claims = Table(
    "opsbook_schedule_claims",
    metadata,
    Column("project", String(200), primary_key=True),
    Column("schedule", String(200), primary_key=True),
    Column("due_at", Float, primary_key=True),
    Column("claimed_at", Float, nullable=False),
    Column("owner", String(100), nullable=False),
    Column("run_id", String(40)),
    Column("outcome", String(30)),
)

handoffs = Table(
    "opsbook_handoffs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("project", String(200), nullable=False),
    Column("at", Float, nullable=False),
    Column("since", Float, nullable=False),
    Column("operator", String(200), nullable=False),
    Column("report", JSON, nullable=False),
)
Index("opsbook_handoffs_at", handoffs.c.project, handoffs.c.at)
events_at = Index("opsbook_events_at", events.c.at)
