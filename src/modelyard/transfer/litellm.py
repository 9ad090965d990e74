"""LiteLLM's ``config.yaml`` read into a registry document.

* each ``model_list`` entry: a provider (kind from the ``litellm_params.model`` prefix, its
  ``api_base`` and ``api_key``; ``os.environ/NAME`` is read from the environment now and
  refused when unset) and a model whose id is the part after the prefix. Entries sharing a
  kind, base URL, key and organization share one provider, named like the vendor when the
  base URL is the vendor's own (``openai``, ``groq`` ... as the catalog names them), else
  after the host. ``rpm``, ``tpm``, ``timeout``, ``max_parallel_requests`` and ``weight`` go
  on the provider; ``model_info`` gives capabilities, context window, max output and a price;
* ``fallbacks`` (router or litellm settings) become each model's fallback list;
  ``num_retries`` the ``gateway.retry`` setting's attempts; ``timeout``/``request_timeout``
  the timeout of providers that set none; ``routing_strategy: simple-shuffle`` is what
  modelyard does anyway (a weighted random share);
* everything else is listed as unsupported, by its path, never its value.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from modelyard.errors import ValidationFailed
from modelyard.transfer.document import Incoming, empty_document
from modelyard.transfer.litellm_map import PREFIXES, UNSUPPORTED, Target
from modelyard.transfer.litellm_models import model_info

ENV_PREFIX = "os.environ/"
OWN_PREFIX = "MODELYARD_"  # the gateway's own variables (master key, database URL): never read
PROVIDER_PARAMS = {"rpm": "rpm_limit", "tpm": "tpm_limit", "max_parallel_requests": "max_parallel"}
USED_PARAMS = {"model", "api_key", "api_base", "organization", "timeout", "weight"}
MAX_TIMEOUT_MS, MAX_ATTEMPTS = 600_000, 10
SECTIONS = ("model_list", "router_settings", "litellm_settings", "general_settings")


class _Reader:
    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = environ
        self.incoming = Incoming(format="litellm", document=empty_document(), partial=True)
        self.groups: dict[tuple[str, str, str | None, str | None], dict[str, Any]] = {}
        self.names: dict[str, list[tuple[str, str]]] = {}  # model_name -> [(ref, path)]
        self.seen: dict[tuple[str, str], str] = {}  # (provider, model_id) -> path

    def note(self, path: str, why: str) -> None:
        self.incoming.unsupported.append((path, why))

    def read(self, data: Any) -> Incoming:
        if not isinstance(data, dict):
            raise ValidationFailed.at("(file)", "must be a YAML mapping with a model_list")
        entries = data.get("model_list")
        if not isinstance(entries, list):
            raise ValidationFailed.at("model_list", "must be a list of models")
        for index, entry in enumerate(entries):
            self.entry(f"model_list[{index}]", entry)
        router = _section(data, "router_settings")
        settings = _section(data, "litellm_settings")
        self.fallbacks(router, settings)
        self.retries(router, settings)
        for name, section in data.items():
            if name not in SECTIONS:
                self.note(str(name), "not used by modelyard")
            elif name == "general_settings" and isinstance(section, dict):
                for key in section:
                    self.note(f"general_settings.{key}", "not used by modelyard")
        self.incoming.document["providers"] = list(self.groups.values())
        return self.incoming

    def entry(self, path: str, entry: Any) -> None:
        if not isinstance(entry, dict):
            raise ValidationFailed.at(path, "must be a mapping with model_name and litellm_params")
        name, params = entry.get("model_name"), entry.get("litellm_params")
        if not isinstance(name, str) or not name:
            raise ValidationFailed.at(f"{path}.model_name", "must be a non-empty string")
        if not isinstance(params, dict) or not isinstance(params.get("model"), str):
            raise ValidationFailed.at(f"{path}.litellm_params.model", "must be a string")
        prefix, sep, upstream = params["model"].partition("/")
        if not sep or not upstream:
            raise ValidationFailed.at(
                f"{path}.litellm_params.model",
                f"{params['model']!r} has no provider prefix (e.g. openai/gpt-4o)",
            )
        if prefix in UNSUPPORTED:
            self.note(path, f"{prefix}/ models ({UNSUPPORTED[prefix]}): no modelyard kind")
            return
        target = PREFIXES.get(prefix)
        if target is None:
            known = ", ".join(sorted(PREFIXES))
            raise ValidationFailed.at(
                f"{path}.litellm_params.model",
                f"unknown provider prefix {prefix!r}; modelyard reads {known}",
            )
        provider = self.provider(path, target, params)
        for key in entry:
            if key not in {"model_name", "litellm_params", "model_info"}:
                self.note(f"{path}.{key}", "not used by modelyard")
        self.model(path, name, upstream, provider, entry.get("model_info"))

    def provider(self, path: str, target: Target, params: dict[str, Any]) -> dict[str, Any]:
        p = f"{path}.litellm_params"
        key = self.value(params, "api_key", p)
        base = self.value(params, "api_base", p)
        org = self.value(params, "organization", p)
        kind, base_url = target.kind, (base or target.base_url or "").rstrip("/")
        if not base_url:
            raise ValidationFailed.at(f"{p}.api_base", f"is required for {target.vendor} models")
        if kind == "openai" and base_url != target.base_url:
            kind = "openai_compatible"  # an OpenAI-speaking server elsewhere
        group = (kind, base_url, params.get("api_key"), org)
        provider = self.groups.get(group)
        if provider is None:
            provider = self.new_provider(target, kind, base_url, org, f"{p}.api_base")
            self.groups[group] = provider
            if key is not None:
                self.incoming.secrets[provider["name"]] = key
        for source, field in PROVIDER_PARAMS.items():
            self.limit(provider, field, params.get(source), f"{p}.{source}")
        if "timeout" in params:
            ms = _ms(params["timeout"], f"{p}.timeout")
            self.limit(provider, "timeout_ms", ms, f"{p}.timeout")
        if "weight" in params:
            self.limit(provider, "weight", params["weight"], f"{p}.weight")
        for name in params:
            if name not in USED_PARAMS and name not in PROVIDER_PARAMS:
                self.note(f"{p}.{name}", "not used by modelyard")
        return provider

    def new_provider(
        self, target: Target, kind: str, base_url: str, org: str | None, path: str
    ) -> dict[str, Any]:
        own = base_url == (target.base_url or "").rstrip("/")
        name = target.vendor if own else _host_name(base_url, path)
        taken = {p["name"] for p in self.groups.values()}
        stem, serial = name, 2
        while name in taken:
            name, serial = f"{stem}-{serial}", serial + 1
        provider: dict[str, Any] = {"name": name, "kind": kind, "base_url": base_url}
        if kind == "openai_compatible":
            provider["config"] = {"vendor": target.vendor}
        if org is not None:
            provider["organization"] = org
        provider["enabled"] = True
        provider["models"] = []
        return provider

    def limit(self, provider: dict[str, Any], field: str, value: Any, path: str) -> None:
        if value is None:
            return
        if field in provider and provider[field] != value:
            self.note(
                path,
                f"differs from another model on provider {provider['name']!r}; "
                f"modelyard keeps {field} per provider: the first one is used",
            )
            return
        provider[field] = value

    def value(self, params: dict[str, Any], name: str, path: str) -> str | None:
        raw = params.get(name)
        if raw is None:
            return None
        if not isinstance(raw, str):
            raise ValidationFailed.at(f"{path}.{name}", "must be a string")
        if not raw.startswith(ENV_PREFIX):
            return raw
        variable = raw.removeprefix(ENV_PREFIX)
        if variable.upper().startswith(OWN_PREFIX):
            raise ValidationFailed.at(
                f"{path}.{name}",
                f"names {variable}: an import never reads modelyard's own {OWN_PREFIX}* "
                "variables (they hold its master key and database credentials)",
            )
        found = self.environ.get(variable)
        if not found:
            raise ValidationFailed.at(
                f"{path}.{name}", f"environment variable {variable} is not set"
            )
        return found

    def model(
        self, path: str, name: str, upstream: str, provider: dict[str, Any], info: Any
    ) -> None:
        ref = f"{provider['name']}/{upstream}"
        first = self.seen.get((provider["name"], upstream))
        if first is not None:
            raise ValidationFailed.at(path, f"duplicates {first}: both are {ref}")
        self.seen[(provider["name"], upstream)] = path
        self.names.setdefault(name, []).append((ref, path))
        if name != upstream:
            self.note(
                f"{path}.model_name",
                f"{name!r}: modelyard has no model aliases; callers name it {upstream!r} "
                f"or {ref!r}",
            )
        model: dict[str, Any] = {"model_id": upstream}
        if info is not None:
            model |= model_info(f"{path}.model_info", info, self.note)
        provider["models"].append(model)

    def fallbacks(self, router: dict[str, Any], settings: dict[str, Any]) -> None:
        for section, values in (("router_settings", router), ("litellm_settings", settings)):
            rules = values.get("fallbacks")
            if rules is None:
                continue
            if not isinstance(rules, list):
                raise ValidationFailed.at(f"{section}.fallbacks", "must be a list")
            for index, rule in enumerate(rules):
                self.fallback(f"{section}.fallbacks[{index}]", rule)

    def fallback(self, path: str, rule: Any) -> None:
        if not isinstance(rule, dict) or not all(isinstance(v, list) for v in rule.values()):
            raise ValidationFailed.at(path, "must map a model_name to a list of model_names")
        for source, targets in rule.items():
            if source not in self.names:
                self.note(path, f"{source!r} is not an imported model_name")
                continue
            refs: list[str] = []
            for target in targets:
                if target not in self.names:
                    self.note(path, f"fallback {target!r} is not an imported model_name")
                refs += [ref for ref, _ in self.names.get(target, []) if ref not in refs]
            for ref, _ in self.names[source]:
                model = self.find(ref)
                model["fallbacks"] = [r for r in refs if r != ref][:10]

    def find(self, ref: str) -> dict[str, Any]:
        provider, _, model_id = ref.partition("/")
        for group in self.groups.values():
            if group["name"] == provider:
                for model in group["models"]:
                    if model["model_id"] == model_id:
                        found: dict[str, Any] = model
                        return found
        raise KeyError(ref)

    def retries(self, router: dict[str, Any], settings: dict[str, Any]) -> None:
        retries = router.get("num_retries", settings.get("num_retries"))
        if retries is not None:
            where = "router_settings" if "num_retries" in router else "litellm_settings"
            if not isinstance(retries, int) or retries < 0:
                raise ValidationFailed.at(f"{where}.num_retries", "must be a whole number >= 0")
            attempts = min(retries + 1, MAX_ATTEMPTS)
            if retries + 1 > MAX_ATTEMPTS:
                self.note(
                    f"{where}.num_retries", f"modelyard makes at most {MAX_ATTEMPTS} attempts"
                )
            self.incoming.document["settings"]["gateway.retry"] = {"max_attempts": attempts}
        timeout = router.get("timeout", settings.get("request_timeout"))
        if timeout is not None:
            ms = _ms(timeout, "router_settings.timeout")
            for provider in self.groups.values():
                provider.setdefault("timeout_ms", ms)
        strategy = router.get("routing_strategy")
        if strategy not in (None, "simple-shuffle"):
            self.note(
                "router_settings.routing_strategy",
                f"{strategy!r}: modelyard shares load by provider weight (simple-shuffle)",
            )
        handled = {"num_retries", "timeout", "routing_strategy", "fallbacks"}
        for section, values in (("router_settings", router), ("litellm_settings", settings)):
            for key in values:
                if key not in handled and key != "request_timeout":
                    self.note(f"{section}.{key}", "not used by modelyard")


def read_litellm(data: Any, environ: Mapping[str, str]) -> Incoming:
    return _Reader(environ).read(data)


def _section(data: dict[str, Any], name: str) -> dict[str, Any]:
    value = data.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValidationFailed.at(name, "must be a mapping")
    return value


def _ms(seconds: Any, path: str) -> int:
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds <= 0:
        raise ValidationFailed.at(path, "must be a number of seconds above 0")
    return max(100, min(int(seconds * 1000), MAX_TIMEOUT_MS))


def _host_name(base_url: str, path: str) -> str:
    try:
        parts = urlsplit(base_url)
        host, port = (parts.hostname or "provider").lower(), parts.port
    except ValueError:  # an unclosed [IPv6 address, a port out of range
        raise ValidationFailed.at(path, "is not a valid URL") from None
    name = f"{host}-{port}" if port else host
    return name[:64]
