"""Reading a subject's schema history from a live Confluent-API schema registry.

Used by ``streamlet schema check --registry``: the registry only supplies the earlier
schemas; the verdict stays streamlet's own (:func:`streamlet.schema.compatibility.check`).
"""

from __future__ import annotations

from confluent_kafka.schema_registry import SchemaRegistryClient, SchemaRegistryError

from streamlet.errors import StreamletError


class RegistryVersionsError(StreamletError):
    """The registry could not be reached, refused the request, or has no such subject."""


def subject_versions(url: str, subject: str) -> list[tuple[int, str]]:
    """``(version number, schema text)`` for every version of ``subject`` at the registry
    ``url``, oldest first. :class:`RegistryVersionsError` with a one-line reason otherwise."""
    if not url.startswith(("http://", "https://")):
        raise RegistryVersionsError(f"registry url {url!r} must start with http:// or https://")
    # one retry, not the default three: an unreachable registry is reported in about a second
    client = SchemaRegistryClient({"url": url, "timeout": 10, "max.retries": 1})
    try:
        numbers = sorted(client.get_versions(subject))
        out: list[tuple[int, str]] = []
        for number in numbers:
            text = client.get_version(subject, number).schema.schema_str
            if text is None:
                raise RegistryVersionsError(f"{subject} version {number} at {url} has no schema")
            out.append((number, text))
    except SchemaRegistryError as exc:
        if exc.http_status_code == 404:
            raise RegistryVersionsError(
                f"registry {url} has no subject {subject!r} ({exc.error_message})"
            ) from exc
        raise RegistryVersionsError(
            f"registry {url} refused reading subject {subject!r}: "
            f"HTTP {exc.http_status_code}: {exc.error_message}"
        ) from exc
    except RegistryVersionsError:
        raise
    except Exception as exc:  # connection refused, DNS, timeouts: the HTTP client's errors
        raise RegistryVersionsError(
            f"registry {url} is unreachable: {type(exc).__name__}: {exc}"
        ) from exc
    if not out:
        raise RegistryVersionsError(f"registry {url} has no versions of subject {subject!r}")
    return out
