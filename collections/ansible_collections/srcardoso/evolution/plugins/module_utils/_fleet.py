# Copyright: (c) 2026, srcardoso.evolution developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reconcile a declared list of instances, each with its webhook and settings, in one call.

This module util is PRIVATE to the collection; its interface may change without notice.

Built on the same managers as the single-resource modules. The cost of a no-op run is one
``fetchInstances`` for all instances (its rows carry the settings) plus one ``webhook/find`` per
instance whose webhook is declared; reads and writes of different instances run in parallel.
Every declared value is validated, and every instance compared, before the first write: an
unknown event or a drifted token stops the run with nothing changed.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from ansible_collections.srcardoso.evolution.plugins.module_utils._api import EvolutionError
from ansible_collections.srcardoso.evolution.plugins.module_utils._managers import (
    InstanceManager,
    SettingsManager,
    WebhookManager,
    desired_instance,
    desired_settings,
    desired_webhook,
)


class _Item:
    """One declared instance: its validated options, what was read, and the outcomes."""

    def __init__(self, index, instance, webhook, settings):
        self.index = index
        self.instance = instance
        self.webhook = webhook
        self.settings = settings
        self.name = instance["name"]
        self.row = None
        self.stored_webhook = None
        self.stored_settings = None
        self.outcomes = {}
        self.action = "none"
        self.webhook_body = None
        self.settings_body = None
        self.error = None

    @property
    def changed(self):
        return any(outcome.changed for outcome in self.outcomes.values())

    def result(self, diff):
        results = {kind: outcome.result(False) for kind, outcome in self.outcomes.items()}
        changed = [outcome.msg for outcome in self.outcomes.values() if outcome.changed]
        if self.error:
            msg = self.error
        elif changed:
            msg = " ".join(changed)
        elif self.instance["state"] == "absent":
            msg = f"Instance {self.name!r} is absent."
        else:
            msg = f"Instance {self.name!r} is up to date."
        entry = {
            "name": self.name,
            "state": self.instance["state"],
            "changed": self.changed,
            "failed": self.error is not None,
            "msg": msg,
            "instance": results.get("instance"),
            "webhook": results.get("webhook"),
            "settings": results.get("settings"),
        }
        return entry


def validate_declared(instances):
    """Validate every item; return the list of _Item. Raises before any request."""
    items = []
    seen = {}
    for index, entry in enumerate(instances or []):
        field = f"instances[{index}]."
        instance = desired_instance(entry, field)
        if instance["name"] in seen:
            raise EvolutionError(
                f"{field}name: instance {instance['name']!r} is declared twice (also as "
                f"instances[{seen[instance['name']]}]); declare each instance once."
            )
        seen[instance["name"]] = index
        webhook = entry.get("webhook")
        if webhook is not None:
            webhook = desired_webhook(webhook, f"{field}webhook.")
        settings = entry.get("settings")
        if settings is not None:
            settings = desired_settings(settings, f"{field}settings.")
        items.append(_Item(index, instance, webhook, settings))
    return items


class Reconciler:
    def __init__(self, client, check_mode=False, wait_timeout_s=60.0, parallel=4, prune=False):
        self.client = client
        self.check_mode = check_mode
        self.parallel = max(1, parallel)
        self.prune = prune
        self.instances = InstanceManager(client, check_mode, wait_timeout_s)
        self.webhooks = WebhookManager(client, check_mode)
        self.settings = SettingsManager(client, check_mode)

    def _each(self, function, items):
        """Run ``function(item)`` for every item, ``parallel`` at a time; return the results."""
        items = list(items)
        if len(items) <= 1 or self.parallel == 1:
            return [function(item) for item in items]
        with ThreadPoolExecutor(max_workers=self.parallel) as pool:
            return list(pool.map(function, items))

    def run(self, declared, diff=False):
        items = validate_declared(declared)
        rows = {row.get("name"): row for row in self.instances.fetch_all()}
        for item in items:
            item.row = rows.get(item.name)
        self._each(self._read, [i for i in items if i.row and i.instance["state"] == "present"])
        self._plan(items)
        declared_names = {item.name for item in items}
        undeclared = sorted(name for name in rows if name not in declared_names)
        pruned = []
        if self.prune:
            for name in undeclared:
                item = _Item(None, desired_instance({"name": name, "state": "absent"}), None, None)
                item.row = rows[name]
                item.outcomes["instance"], item.action = self.instances.plan(
                    item.instance, item.row
                )
                pruned.append(item)
        if not self.check_mode:
            self._each(self._apply, items + pruned)
        return self._result(items, pruned, undeclared, diff)

    def _read(self, item):
        if item.webhook is not None:
            item.stored_webhook = self.webhooks.read(item.name)
        if item.settings is not None:
            stored = item.row.get("Setting")
            item.stored_settings = stored if isinstance(stored, dict) else None
            if item.stored_settings is None:
                item.stored_settings = self.settings.read(item.name)

    def _plan(self, items):
        drift = []
        for item in items:
            try:
                outcome, item.action = self.instances.plan(item.instance, item.row)
            except EvolutionError as exc:
                drift.append(f"instances[{item.index}]: {exc.msg}")
                continue
            item.outcomes["instance"] = outcome
            if item.instance["state"] == "absent":
                continue
            fresh = item.action in ("create", "recreate")
            if item.webhook is not None:
                stored = None if fresh else item.stored_webhook
                item.outcomes["webhook"], item.webhook_body = self.webhooks.plan(
                    item.name, item.webhook, stored
                )
            if item.settings is not None:
                stored = None if fresh else item.stored_settings
                item.outcomes["settings"], item.settings_body = self.settings.plan(
                    item.name, item.settings, stored
                )
        if drift:
            raise EvolutionError(" ".join(drift) + " Nothing was changed.")

    def _apply(self, item):
        try:
            settings_in_create = None
            if item.action in ("create", "recreate") and item.settings is not None:
                # Creation writes the settings in the same request.
                settings_in_create = item.settings_body or self.settings.body(item.settings, None)
            if item.action != "none":
                self.instances.apply(
                    item.instance, item.outcomes["instance"], item.action, settings_in_create
                )
            if item.webhook_body is not None:
                self.webhooks.apply(item.name, item.outcomes["webhook"], item.webhook_body)
            if item.settings_body is not None and settings_in_create is None:
                self.settings.apply(item.name, item.outcomes["settings"], item.settings_body)
        except EvolutionError as exc:
            item.error = exc.msg

    def _result(self, items, pruned, undeclared, diff):
        entries = [item.result(diff) for item in items]
        failed = [entry for entry in entries + [p.result(diff) for p in pruned] if entry["failed"]]
        changed = any(item.changed for item in items + pruned)
        counts = {"created": 0, "changed": 0, "deleted": 0, "unchanged": 0}
        for item in items:
            if item.action in ("create", "recreate"):
                counts["created"] += 1
            elif item.action == "delete":
                counts["deleted"] += 1
            elif item.changed:
                counts["changed"] += 1
            else:
                counts["unchanged"] += 1
        would = "would be " if self.check_mode else ""
        msg = (
            f"{len(items)} declared instance{'s' if len(items) != 1 else ''}: "
            f"{counts['created']} {would}created, {counts['changed']} {would}changed, "
            f"{counts['deleted']} {would}deleted, {counts['unchanged']} unchanged; "
            f"{len(pruned)} undeclared {would}pruned."
        )
        result = {
            "changed": changed,
            "msg": msg,
            "instances": entries,
            "pruned": [item.name for item in pruned],
            "undeclared": [] if self.prune else undeclared,
        }
        if diff:
            before, after = {}, {}
            for item in items + pruned:
                if not item.changed:
                    continue
                before[item.name] = {k: o.before for k, o in item.outcomes.items()}
                after[item.name] = {k: o.after for k, o in item.outcomes.items()}
            result["diff"] = {"before": before, "after": after}
        if failed:
            details = " ".join(entry["msg"] for entry in failed)
            error = EvolutionError(
                f"{len(failed)} of {len(items) + len(pruned)} instances failed: {details}"
            )
            error.results = {k: v for k, v in result.items() if k != "msg"}
            raise error
        return result
