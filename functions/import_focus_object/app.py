"""S3 ObjectCreated in the FOCUS import bucket: import the object (a FOCUS CSV file, plain or gzip), streamed.

Whose cost it is comes from the object's metadata, as the HTTP import's parameters: `x-amz-meta-tenant-id`, or
`x-amz-meta-tenant-column` / `x-amz-meta-tenant-tag` (default: the SubAccountId column names each row's tenant).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.data_classes import S3Event

from finops.db.clickhouse import get_client
from finops.focus.service import import_s3_objects
from finops.observability import instrumented


# S3 notifications carry the request id of the upload: logs of one import share it.
@instrumented(correlation_path='Records[0].responseElements."x-amz-request-id"')
def lambda_handler(event: dict, context: object) -> dict[str, Any]:
    objects = [(record.s3.bucket.name, record.s3.get_object.key) for record in S3Event(event).records]
    return {"imports": import_s3_objects(get_client(), objects)}
