"""The FOCUS import and export use cases the handlers call: who may import what, from an HTTP body or an S3 object."""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import IO, Any

from clickhouse_connect.driver.client import Client

from finops.auth import Permission, Principal
from finops.costs.queries import CostScope
from finops.currencies.rates import load_exchange_rates
from finops.errors import InvalidRequest, PayloadTooLarge
from finops.focus.export import export_focus, focus_attachment
from finops.focus.importer import import_focus
from finops.focus.models import ImportResult
from finops.focus.reading import http_body
from finops.focus.rows import DEFAULT_TENANT_COLUMN, ImportTarget
from finops.models.common import CURRENCY, TENANT_ID_PATTERN
from finops.observability import add_count, logger
from finops.settings import get_settings

# What an HTTP import may decompress to: far more than its 10 MB body holds uncompressed, far less than a Lambda's
# memory and time allow. Larger bills go through the S3 import.
MAX_HTTP_IMPORT_BYTES = 256 * 1024 * 1024
# S3 object metadata naming whose cost a file is (x-amz-meta-tenant-id, ...), as the HTTP import's parameters do.
TENANT_ID_METADATA, TENANT_COLUMN_METADATA, TENANT_TAG_METADATA = "tenant-id", "tenant-column", "tenant-tag"


def export_focus_file(client: Client, scope: CostScope, *, group_by: str | None, granularity: str) -> tuple[str, str]:
    """The scope's cost as a FOCUS 1.0 file and its Content-Disposition. A FOCUS file has a row per day and
    dimension, with every cost metric in each row's billing currency: grouping, another granularity or a conversion
    cannot apply to it."""
    if group_by is not None:
        raise InvalidRequest("format=focus has a row per day and dimension: leave groupBy out", field="groupBy")
    if granularity != "daily":
        raise InvalidRequest("format=focus has a row per day: leave granularity out (or daily)", field="granularity")
    if scope.currency != CURRENCY:
        raise InvalidRequest(
            "format=focus writes each row in its billing currency (BillingCurrency): leave currency out",
            field="currency",
        )
    return export_focus(client, scope, provider_name=get_settings().focus_provider_name), focus_attachment(scope)


def import_target(tenant_id: str | None, tenant_column: str | None, tenant_tag: str | None) -> ImportTarget:
    """Whose cost a file is: `tenantId`, or a column (`tenantColumn`, default SubAccountId) or tag (`tenantTag`)."""
    if tenant_id is not None and (tenant_column is not None or tenant_tag is not None):
        raise InvalidRequest("give `tenantId`, or `tenantColumn` or `tenantTag`, not both", field="tenantId")
    if tenant_column is not None and tenant_tag is not None:
        raise InvalidRequest("give `tenantColumn` or `tenantTag`, not both", field="tenantTag")
    return ImportTarget(
        tenant_id=tenant_id, tenant_column=tenant_column or DEFAULT_TENANT_COLUMN, tenant_tag=tenant_tag
    )


def authorize_import(principal: Principal, target: ImportTarget) -> None:
    """Importing for one tenant: its admin, or `system`; with tenants named by the file: `system` only."""
    principal.require(Permission.IMPORT_COSTS, target.tenant_id)


def import_file(
    client: Client, stream: IO[bytes], target: ImportTarget, *, max_bytes: int | None = None
) -> ImportResult:
    """Import a FOCUS file with the exchange rates as published now."""
    result = import_focus(
        client,
        stream,
        target,
        rates=load_exchange_rates(client),
        retention_days=get_settings().imported_cost_retention_days,
        max_bytes=max_bytes,
    )
    add_count("FocusRowsImported", result.rows_imported)
    add_count("FocusRowsSkipped", result.rows_skipped)
    return result


def import_http_body(
    client: Client, principal: Principal, target: ImportTarget, body: str | None, *, is_base64_encoded: bool
) -> ImportResult:
    authorize_import(principal, target)
    return import_file(client, http_body(body, is_base64_encoded), target, max_bytes=MAX_HTTP_IMPORT_BYTES)


def target_from_metadata(metadata: Mapping[str, str]) -> ImportTarget:
    """The import target an S3 object's metadata names (its uploader holds the bucket's write grant, a platform
    operator's: the equivalent of `system`)."""
    tenant_id = metadata.get(TENANT_ID_METADATA) or None
    if tenant_id is not None and not re.fullmatch(TENANT_ID_PATTERN, tenant_id):
        raise InvalidRequest(f"x-amz-meta-{TENANT_ID_METADATA} is not a tenant id", field=TENANT_ID_METADATA)
    return import_target(
        tenant_id, metadata.get(TENANT_COLUMN_METADATA) or None, metadata.get(TENANT_TAG_METADATA) or None
    )


def import_s3_object(client: Client, bucket: str, key: str) -> ImportResult:
    """Stream one S3 object (plain or gzip CSV) into the import: its bytes are never all in memory."""
    obj = s3_client().get_object(Bucket=bucket, Key=key)
    target = target_from_metadata(obj.get("Metadata") or {})
    body: Any = obj["Body"]
    try:
        return import_file(client, body, target)
    finally:
        body.close()


def import_s3_objects(client: Client, objects: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """Import each object of an S3 notification; a file the import refuses (not FOCUS, bad metadata) is logged and
    reported, not retried. A dependency failure raises, so Lambda retries the event: an import is idempotent."""
    outcomes: list[dict[str, Any]] = []
    for bucket, key in objects:
        try:
            result = import_s3_object(client, bucket, key)
        except (InvalidRequest, PayloadTooLarge) as refused:
            logger.error("FOCUS import refused", extra={"bucket": bucket, "key": key, "reason": refused.message})
            outcomes.append({"bucket": bucket, "key": key, "error": refused.message})
            continue
        summary = result.model_dump(mode="json", by_alias=True, exclude={"skipped", "tenants"})
        logger.info("FOCUS import done", extra={"bucket": bucket, "key": key, **summary})
        outcomes.append({"bucket": bucket, "key": key, **summary})
    return outcomes


@lru_cache(maxsize=1)
def s3_client() -> Any:
    import boto3  # only the S3 import pays for importing boto3

    return boto3.client("s3")
