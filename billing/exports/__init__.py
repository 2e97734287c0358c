"""Detailed billing exports (issue 9).

* columns: the FOCUS 1.2 columns and the one SELECT that makes them from the usage rows (tenancy built in);
* writer: streams PostgreSQL COPY blocks into a local file (CSV, CSV.gz) or through Arrow into Parquet;
* destinations: django-storages backends per destination (S3, Google Cloud Storage, Azure Blob, the
  platform's own storage), the plain-words provider errors;
* crypto: the destination credentials, encrypted with Fernet;
* services: create / change exports, start and run a run, the schedule; tasks: the Celery side.
"""
