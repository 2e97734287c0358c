"""Upload limits that act before a file is read: an upload larger than C360_MAX_UPLOAD_MB is stopped at
its first file part (the rest of the body is discarded as it arrives, never stored or held in memory),
and the view says why on the file field. Smaller uploads are streamed to a temporary file on disk by
Django's own handlers, as usual."""

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, StopUpload


def max_upload_bytes() -> int:
    return settings.C360_MAX_UPLOAD_MB * 1024 * 1024


def human_size(size: int) -> str:
    if size < 1024:
        return f"{size:,} bytes"
    for unit in ("KB", "MB", "GB"):
        size /= 1024
        if size < 1024 or unit == "GB":
            return f"{size:,.1f} {unit}"


class UploadLimitHandler(FileUploadHandler):
    """First in FILE_UPLOAD_HANDLERS: refuses a request body over the limit before any file data is kept.
    The refusal is `request.upload_refused` (a sentence for the user); views show it on the file field."""

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        self.too_big = content_length is not None and content_length > max_upload_bytes()
        if self.too_big:
            self.request.upload_refused = (
                f"The upload is {human_size(content_length)}; the largest file accepted is "
                f"{human_size(max_upload_bytes())}. Split it (e.g. one file per month) and upload the parts."
            )
        return None

    def new_file(self, *args, **kwargs):
        if self.too_big:
            raise StopUpload(connection_reset=False)  # the parser discards the rest of the body

    def receive_data_chunk(self, raw_data, start):
        return raw_data

    def file_complete(self, file_size):
        return None


def refused_upload(request) -> str:
    """Why the request's upload was refused before it was read, or ""."""
    return getattr(request, "upload_refused", "")
