"""Where an export's files go: a django-storages backend per destination, configured from the export's
settings and its decrypted credentials, and the provider's errors in plain words.

* download: the platform's own storage (FileSystemStorage under MEDIA_ROOT/exports/<reseller>/<export>),
  offered as downloads on the run's page;
* s3: storages.backends.s3.S3Storage (boto3; any S3-compatible endpoint URL);
* gcs: storages.backends.gcloud.GoogleCloudStorage (google-cloud-storage; a service-account key, or an
  emulator endpoint with anonymous credentials);
* azure: storages.backends.azure_storage.AzureStorage (azure-storage-blob; account name and key, or a
  connection string; an endpoint URL for Azurite or a sovereign cloud).

publish() never leaves a half-written file under a final name: the local file is renamed into place;
S3 completes its multipart upload, GCS its upload and Azure commits its block list only at the end.
"""

import os
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.core.files.storage import FileSystemStorage

from .crypto import decrypt_credentials, scrub

CONTENT_TYPES = {"csv": "text/csv", "csv.gz": "application/gzip", "parquet": "application/vnd.apache.parquet",
                 "json": "application/json"}  # fmt: skip


class DestinationError(Exception):
    """Publishing failed; the message is the provider's error in plain words (no secrets)."""


class TemporaryFile(File):
    """A finished local file: FileSystemStorage moves it into place (a rename on the same disk)."""

    def temporary_file_path(self):
        return self.file.name


def export_root(export) -> Path:
    return Path(settings.MEDIA_ROOT) / "exports" / str(export.reseller_id) / str(export.pk)


def scratch_dir(export) -> Path:
    """Where the files are written before publishing (on the platform storage's own disk)."""
    path = Path(settings.MEDIA_ROOT) / "exports" / ".tmp"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _content_type(name: str) -> str:
    ext = "csv.gz" if name.endswith(".csv.gz") else name.rsplit(".", 1)[-1]
    return CONTENT_TYPES.get(ext, "application/octet-stream")


def storage_for(export):
    """The configured storage backend of the export's destination."""
    cfg = export.settings or {}
    secrets = decrypt_credentials(export.credentials)
    kind = export.destination
    if kind == "download":
        return FileSystemStorage(location=export_root(export), allow_overwrite=True)
    if kind == "s3":
        from storages.backends.s3 import S3Storage

        return S3Storage(
            bucket_name=cfg.get("bucket"), region_name=cfg.get("region") or None,
            endpoint_url=cfg.get("endpoint_url") or None, access_key=secrets.get("access_key_id"),
            secret_key=secrets.get("secret_access_key"), file_overwrite=True, querystring_auth=False,
        )  # fmt: skip
    if kind == "gcs":
        return _gcs_storage(cfg, secrets)
    if kind == "azure":
        from storages.backends.azure_storage import AzureStorage

        connection_string = secrets.get("connection_string")
        if not connection_string and cfg.get("endpoint_url"):
            connection_string = (
                f"DefaultEndpointsProtocol={cfg['endpoint_url'].split(':', 1)[0]};"
                f"AccountName={cfg.get('account_name', '')};AccountKey={secrets.get('account_key', '')};"
                f"BlobEndpoint={cfg['endpoint_url'].rstrip('/')};"
            )
        return AzureStorage(
            account_name=cfg.get("account_name"), account_key=secrets.get("account_key"),
            azure_container=cfg.get("container"), connection_string=connection_string or None,
            overwrite_files=True, timeout=60,
        )  # fmt: skip
    raise DestinationError(f"Unknown destination {kind!r}.")


def _gcs_storage(cfg, secrets):
    from google.auth.credentials import AnonymousCredentials
    from google.cloud.storage import Client
    from storages.backends.gcloud import GoogleCloudStorage

    key = secrets.get("service_account_json")
    if key:
        import json

        from google.oauth2 import service_account

        info = json.loads(key)
        credentials = service_account.Credentials.from_service_account_info(info)
        project = cfg.get("project") or info.get("project_id")
    elif cfg.get("endpoint_url"):  # an emulator
        credentials, project = AnonymousCredentials(), cfg.get("project") or "c360-export"
    else:  # the environment's (GOOGLE_APPLICATION_CREDENTIALS, the metadata server): the command line
        credentials, project = None, cfg.get("project") or None
    endpoint = cfg.get("endpoint_url") or None

    class Storage(GoogleCloudStorage):
        @property
        def client(self):
            if self._client is None:
                options = {"api_endpoint": endpoint} if endpoint else None
                self._client = Client(project=project, credentials=credentials, client_options=options)
            return self._client

    return Storage(bucket_name=cfg.get("bucket"), file_overwrite=True, querystring_auth=False)


def publish(storage, local_path, name: str) -> str:
    """Put the finished local file under `name` in one step; returns the stored name."""
    content_type = _content_type(name)
    # An explicit content type, and no Content-Encoding guessed from ".gz": a .csv.gz is a gzip file
    # to download as it is, not a CSV for the client to decompress on the fly.
    if type(storage).__module__.endswith(".s3"):
        storage.object_parameters = {"ContentType": content_type}
    elif hasattr(storage, "object_parameters"):  # Google Cloud Storage, Azure
        storage.object_parameters = {"content_type": content_type, "content_encoding": None}
    if isinstance(storage, FileSystemStorage):
        with open(local_path, "rb") as f:
            return storage.save(name, TemporaryFile(f, name=os.path.basename(name)))
    with open(local_path, "rb") as f:
        return storage.save(name, File(f, name=os.path.basename(name)))


def explain(exc: Exception, export) -> str:
    """The provider's error in plain words, with the export's secrets scrubbed out."""
    cfg = export.settings or {}
    where = {
        "s3": f"Amazon S3 bucket “{cfg.get('bucket', '')}”",
        "gcs": f"Google Cloud Storage bucket “{cfg.get('bucket', '')}”",
        "azure": f"Azure container “{cfg.get('container', '')}” of account “{cfg.get('account_name', '')}”",
        "download": "platform's file storage",
    }.get(export.destination, "destination")
    code, detail = _code_and_detail(exc)
    plain = {
        "NoSuchBucket": f"The {where} does not exist.",
        "ContainerNotFound": f"The {where} does not exist.",
        "NotFound": f"The {where} does not exist.",
        "InvalidAccessKeyId": f"The access key ID was refused by the {where}: check the credentials.",
        "SignatureDoesNotMatch": f"The secret access key was refused by the {where}: check the credentials.",
        "AuthenticationFailed": f"The account key was refused by the {where}: check the credentials.",
        "AuthorizationFailure": f"The credentials were refused by the {where}, or are not allowed to write to it: check the account key.",
        "AccessDenied": f"The credentials are not allowed to write to the {where}.",
        "Forbidden": f"The credentials are not allowed to write to the {where}.",
        "Unauthorized": f"The credentials were refused by the {where}: check the credentials.",
        "Connection": f"Could not connect to the {where}: check the endpoint URL and that the service is up.",
    }.get(code)
    text = f"{plain} (Provider said: {detail})" if plain else f"Writing to the {where} failed: {detail}"
    try:
        secrets = decrypt_credentials(export.credentials)
    except ValueError:
        secrets = {}
    return scrub(text, secrets)[:1000]


def _code_and_detail(exc) -> tuple[str, str]:
    name = type(exc).__name__
    detail = str(exc).strip().splitlines()[0] if str(exc).strip() else name
    response = getattr(exc, "response", None)
    if isinstance(response, dict) and "Error" in response:  # botocore ClientError
        error = response["Error"]
        return error.get("Code", name), f"{error.get('Code', '')}: {error.get('Message', '')}".strip(": ")
    error_code = getattr(exc, "error_code", None)  # azure.core HttpResponseError
    if error_code:
        code = str(getattr(error_code, "value", error_code))
        return code, f"{code}: {detail}"
    if name in ("NotFound", "Forbidden", "Unauthorized"):  # google.api_core.exceptions
        return name, detail
    if name in ("ResourceNotFoundError",):
        return "NotFound", detail
    if name in ("ClientAuthenticationError",):
        return "AuthenticationFailed", detail
    if name in ("EndpointConnectionError", "ServiceRequestError", "ConnectionError", "ConnectionRefusedError",
                "ConnectTimeoutError", "ReadTimeoutError", "ServiceResponseError"):  # fmt: skip
        return "Connection", detail
    if name in ("NoCredentialsError", "PartialCredentialsError"):
        return "InvalidAccessKeyId", detail
    return name, detail
